import AuditChain
import AuditCore
import AuditKeys
public import AuditStorage
import Foundation

extension AuditLog {
    /// Creates an API key for the HTTP server. Returns its record and its secret, which is shown
    /// once and never stored (only its SHA-256 is). The creation is appended to the chain.
    public func createAPIKey(role: APIRole, tenant: String, name: String? = nil, by admin: String) throws(CareTrailError) -> (
        key: APIKeyRecord, secret: String
    ) {
        guard !tenant.isEmpty else { throw CareTrailError(code: .invalidArgument, message: "--tenant: every key belongs to a tenant") }
        let (id, secret) = APIKeySecret.generate()
        let now = store.clock().description
        let key = APIKeyRecord(id: id, secretHash: APIKeySecret.hash(secret), role: role, tenantID: tenant, name: name, createdAt: now)
        try storeCall { () throws(StoreError) in try store.addAPIKey(key, event: keyEvent("created", key, by: admin)) }
        return (key, secret)
    }

    /// Revokes a key; the revocation is appended to the chain.
    public func revokeAPIKey(id: String, by admin: String) throws(CareTrailError) {
        guard let key = try storeCall({ () throws(StoreError) in try store.apiKey(id: id) }), !key.isRevoked else {
            throw CareTrailError(code: .notFound, message: "no active API key \(id.prefix(40))")
        }
        _ = try storeCall { () throws(StoreError) in
            try store.revokeAPIKey(id: id, at: store.clock().description, event: keyEvent("revoked", key, by: admin))
        }
        apiKeyCache.forget(id: id)
    }

    /// Every API key (no secrets), newest first.
    public func apiKeys() throws(CareTrailError) -> [APIKeyRecord] {
        try storeCall { () throws(StoreError) in try store.apiKeys() }
    }

    /// The active key a bearer secret belongs to, or `nil`. A key found is trusted for up to a
    /// second without reading the table again (see ``APIKeyCache``); the secret is checked
    /// against its hash every time.
    public func authenticate(secret: String) -> APIKeyRecord? {
        guard let id = APIKeySecret.keyID(of: secret) else { return nil }
        let key: APIKeyRecord
        if let cached = apiKeyCache.key(id: id) {
            key = cached
        } else {
            let readAt = ContinuousClock.now
            guard let stored = try? store.apiKey(id: id) else { return nil }
            apiKeyCache.remember(stored, readAt: readAt)
            key = stored
        }
        guard !key.isRevoked, APIKeySecret.equal(key.secretHash, APIKeySecret.hash(secret)) else { return nil }
        return key
    }

    private func keyEvent(_ event: String, _ key: APIKeyRecord, by admin: String) -> EncodedEntry {
        // The secret's hash (never the secret): verify rebuilds the key table from these events.
        var body: [String: JSONValue] = [
            "event": .string(event), "key_id": .string(key.id), "role": .string(key.role.rawValue), "tenant": .string(key.tenantID),
            "secret_hash": .string(key.secretHash.map { String(format: "%02x", $0) }.joined()),
        ]
        if let name = key.name { body["name"] = .string(name) }
        return EncodedEntry(
            EntryContent(
                kind: .keyEvent, tenantID: key.tenantID, userID: admin, model: "caretrail", keyID: sanitizer.pseudonymizer.keyID, body: body
            ))
    }
}
