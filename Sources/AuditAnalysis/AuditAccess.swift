import AuditChain
public import AuditCore

/// A read of the audit log by a person: a report, search, export or alert view run from the
/// console, the HTTP API or the command line. It is chained as an entry of kind
/// `audit_access`, so that reports about that reader show what they looked at.
///
/// It names the query and its parameters as the log itself stores them (a patient's record id,
/// a pseudonym; never a name searched for), so it holds no PHI beyond what the log holds.
public struct AuditAccess: Sendable, Hashable {
    /// Who read: the key's name (or id) of the reader.
    public var reader: String
    /// The reader's role (`privacy_officer`, `admin`, …).
    public var role: String
    /// The tenant the reader's view was scoped to (`*` for every tenant).
    public var tenant: String
    /// What was run: `patient_report`, `alerts`, `alert`, `trace`, `user_activity`, ….
    public var query: String
    /// The query's parameters, PHI-free.
    public var parameters: [String: String]
    /// How many entries (or alerts) came back.
    public var results: Int
    /// Where it was run: `console`, `api` or `cli`.
    public var channel: String

    public init(
        reader: String, role: String, tenant: String, query: String, parameters: [String: String] = [:], results: Int, channel: String
    ) {
        self.reader = reader
        self.role = role
        self.tenant = tenant
        self.query = query
        self.parameters = parameters
        self.results = results
        self.channel = channel
    }

    /// The entry to chain, signed by the pseudonymisation key `keyID`.
    public func entryContent(keyID: String) -> EntryContent {
        EntryContent(
            kind: .auditAccess, tenantID: tenant, userID: reader, model: AlertDraft.writer, keyID: keyID,
            body: [
                "audit_access": .object([
                    "query": .string(query), "parameters": .object(parameters.mapValues { .string($0) }),
                    "results": .number(Double(results)), "channel": .string(channel), "role": .string(role),
                ])
            ])
    }
}
