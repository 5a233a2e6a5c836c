/// An API key as the log keeps it: never the secret, only its SHA-256.
public struct APIKeyRecord: Sendable, Hashable {
    public var id: String
    public var secretHash: [UInt8]
    public var role: APIRole
    public var tenantID: String
    public var name: String?
    public var createdAt: String
    public var revokedAt: String?

    public init(
        id: String, secretHash: [UInt8], role: APIRole, tenantID: String, name: String?, createdAt: String, revokedAt: String? = nil
    ) {
        self.id = id
        self.secretHash = secretHash
        self.role = role
        self.tenantID = tenantID
        self.name = name
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    public var isRevoked: Bool { revokedAt != nil }
}

/// What an API key may do: the roles of the HTTP API and the console.
public enum APIRole: String, Sendable, Hashable, CaseIterable, Codable {
    /// Appends tool calls for its own tenant, nothing else.
    case agent
    /// Reads reports, entries and alerts of its tenant, and reviews alerts.
    case privacyOfficer = "privacy_officer"
    /// Reads exports and FHIR of its tenant.
    case siem
    /// Manages; may span tenants.
    case admin
}
