public import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import Logging
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// Stores a new key and appends its creation to the chain, in one transaction.
    public func addAPIKey(_ key: APIKeyRecord, event: EncodedEntry) throws(StoreError) {
        try writeKeyChange(event) { connection, logger in
            try connection.run(
                """
                INSERT INTO caretrail_api_key (id, secret_hash, role, tenant_id, name, created_at) VALUES (\(key.id), \
                \(ByteBuffer(bytes: key.secretHash)), \(key.role.rawValue), \(key.tenantID), \(key.name), \(key.createdAt))
                """, logger)
        }
    }

    /// Marks a key revoked and appends the revocation to the chain; throws `notFound`, and
    /// appends nothing, when there is no such live key.
    public func revokeAPIKey(id: String, at time: String, event: EncodedEntry) throws(StoreError) -> Bool {
        try writeKeyChange(event) { connection, logger in
            let rows = try connection.rows(
                "UPDATE caretrail_api_key SET revoked_at = \(time) WHERE id = \(id) AND revoked_at IS NULL RETURNING id", logger)
            if rows.isEmpty { throw StoreError(code: .notFound, message: "no active API key \(id)") }
        }
        return true
    }

    private func writeKeyChange(_ event: EncodedEntry, _ body: (PostgresConnection, Logger) throws -> Void) throws(StoreError) {
        do {
            try withConnection { connection, logger in
                try appending(connection, logger) { sink in
                    try body(connection, logger)
                    try sink.append([event])
                }
            }
        } catch {
            observer?.appendRolledBack()
            if error.code == .notFound { throw error }
            throw StoreError(code: .appendFailed, message: "the key change was not recorded: \(error.message)")
        }
    }

    /// Every key, newest first.
    public func apiKeys() throws(StoreError) -> [APIKeyRecord] {
        try withConnection { connection, logger in
            try connection.rows(
                """
                SELECT id, secret_hash, role, tenant_id, name, created_at, revoked_at FROM caretrail_api_key \
                ORDER BY created_at DESC, id
                """, logger
            ).map(Self.apiKey)
        }
    }

    /// The key with this id, if any.
    public func apiKey(id: String) throws(StoreError) -> APIKeyRecord? {
        try withConnection { connection, logger in
            try connection.rows(
                "SELECT id, secret_hash, role, tenant_id, name, created_at, revoked_at FROM caretrail_api_key WHERE id = \(id)", logger
            ).first.map(Self.apiKey)
        }
    }

    private static func apiKey(_ row: PostgresRow) throws -> APIKeyRecord {
        let (id, hash, role, tenant, name, created, revoked) = try row.decode(
            (String, ByteBuffer, String, String, String?, String, String?).self)
        return APIKeyRecord(
            id: id, secretHash: Array(buffer: hash), role: APIRole(rawValue: role) ?? .agent, tenantID: tenant, name: name,
            createdAt: created, revokedAt: revoked)
    }
}
