/// The kinds of entry the log holds. Agents send the first two; CareTrail itself writes the
/// others into the same hash chain, so they are as tamper-evident as the accesses.
public enum RecordKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// One tool call by an agent (the default when a record names no `kind`).
    case toolCall = "tool_call"
    /// One agent request as a whole: a user message in, an answer out, possibly many tool calls.
    case agentRequest = "agent_request"
    /// An alert an anomaly rule or a break-the-glass access raised.
    case alert
    /// A privacy officer's review of an alert.
    case review
    /// A change of the log's configuration (purpose restrictions, alert rules).
    case config
    /// A FHIR AuditEvent imported from another system (or from an export), kept as given.
    case fhirAuditEvent = "fhir_audit_event"
    /// An API key of the HTTP server was created or revoked.
    case keyEvent = "key_event"

    /// The kinds the ingest contract accepts from agents.
    public static let ingestible: [RecordKind] = [.toolCall, .agentRequest]
}

/// How urgently an entry or alert needs a human's attention.
public enum Severity: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case low
    case medium
    case high

    private var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// What a tool call did to the record, with the FHIR AuditEvent action codes.
public enum ToolAction: String, Sendable, Hashable, CaseIterable, Codable {
    case create = "C"
    case read = "R"
    case update = "U"
    case delete = "D"
    /// Execute: a query or search, whose result names `patient_ids`.
    case execute = "E"
}

/// What made the agent call the tool.
public enum Trigger: String, Sendable, Hashable, CaseIterable, Codable {
    case userRequest = "user_request"
    case proactive
    case retry
    case followUp = "follow_up"
    case system
}

/// Whether a tool call succeeded, derived from its `error` and `result`.
public enum Outcome: String, Sendable, Hashable, CaseIterable, Codable {
    case success
    case failure
}
