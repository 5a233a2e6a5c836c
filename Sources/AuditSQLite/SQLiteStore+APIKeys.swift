public import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import GRDB

extension SQLiteStore {
    /// Stores a new key and appends its creation to the chain, in one transaction.
    public func addAPIKey(_ key: APIKeyRecord, event: EncodedEntry) throws(StoreError) {
        try writeKeyChange(event) { db in
            try db.execute(
                sql: "INSERT INTO api_key (id, secret_hash, role, tenant_id, name, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [key.id, Data(key.secretHash), key.role.rawValue, key.tenantID, key.name, key.createdAt]
            )
        }
    }

    /// Marks a key revoked and appends the revocation to the chain; `false` if there is no such
    /// key or it was revoked already.
    public func revokeAPIKey(id: String, at time: String, event: EncodedEntry) throws(StoreError) -> Bool {
        var changed = false
        try writeKeyChange(event) { db in
            try db.execute(sql: "UPDATE api_key SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [time, id])
            changed = db.changesCount == 1
            if !changed { throw StoreError(code: .notFound, message: "no active API key \(id)") }
        }
        return changed
    }

    private func writeKeyChange(_ event: EncodedEntry, _ body: (Database) throws -> Void) throws(StoreError) {
        do {
            var completedBlock = false
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try body(db)
                    var sink = AppendSink(db: db, store: self, head: try Self.head(db))
                    try sink.append([event])
                    completedBlock = sink.completedBlock
                    return .commit
                }
            }
            if completedBlock { compactPostingsNow() }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .appendFailed, message: "the key change was not recorded: \(Self.reason(error))")
        }
    }

    /// Every key, newest first.
    public func apiKeys() throws(StoreError) -> [APIKeyRecord] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, secret_hash, role, tenant_id, name, created_at, revoked_at FROM api_key ORDER BY created_at DESC, id"
            )
            .map(Self.apiKey)
        }
    }

    /// The key with this id, if any.
    public func apiKey(id: String) throws(StoreError) -> APIKeyRecord? {
        try read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT id, secret_hash, role, tenant_id, name, created_at, revoked_at FROM api_key WHERE id = ?"),
                arguments: [id]
            ).map(Self.apiKey)
        }
    }

    private static func apiKey(_ row: Row) -> APIKeyRecord {
        APIKeyRecord(
            id: row[0], secretHash: [UInt8](row[1] as Data), role: APIRole(rawValue: row[2]) ?? .agent, tenantID: row[3],
            name: row[4], createdAt: row[5], revokedAt: row[6]
        )
    }
}
