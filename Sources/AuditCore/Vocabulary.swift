/// The kinds of entry the log holds. Agents send the first two; CareTrail itself writes the
/// others into the same hash chain, so they are as tamper-evident as the accesses.
///
/// A closed vocabulary that stays lossless: `init?(rawValue:)` accepts the known kinds only
/// (what the contract admits), while a kind read back from storage keeps its exact text even
/// when this version does not know it (``init(stored:)``), so that verification hashes what is
/// there and reports damage instead of failing to read it.
public struct RecordKind: StoredCode {
    public let rawValue: String

    public init(stored: String) { rawValue = stored }

    /// One tool call by an agent (the default when a record names no `kind`).
    public static let toolCall = RecordKind(stored: "tool_call")
    /// One agent request as a whole: a user message in, an answer out, possibly many tool calls.
    public static let agentRequest = RecordKind(stored: "agent_request")
    /// An alert an anomaly rule or a break-the-glass access raised.
    public static let alert = RecordKind(stored: "alert")
    /// A privacy officer's review of an alert.
    public static let review = RecordKind(stored: "review")
    /// A change of the log's configuration (purpose restrictions, alert rules).
    public static let config = RecordKind(stored: "config")
    /// A FHIR AuditEvent imported from another system (or from an export), kept as given.
    public static let fhirAuditEvent = RecordKind(stored: "fhir_audit_event")
    /// An API key of the HTTP server was created or revoked.
    public static let keyEvent = RecordKind(stored: "key_event")
    /// A signed checkpoint of the log: its Merkle root at a tree size, and the key that signed.
    public static let checkpoint = RecordKind(stored: "checkpoint")
    /// A legal hold placed or released: entries under a hold are never deleted.
    public static let legalHold = RecordKind(stored: "legal_hold")
    /// A retention run's deletions: the ranges whose content went, with their Merkle roots.
    public static let retentionPurge = RecordKind(stored: "retention_purge")
    /// An archive run's segments: which ranges moved to cold storage, each segment's Merkle
    /// root, generation and the SHA-256 of its manifest and data.
    public static let archive = RecordKind(stored: "archive")
    /// A read of the log itself: who ran which report, search, export or alert view, for which
    /// tenant, and how many entries came back (HIPAA asks who looked at the audit trail too).
    public static let auditAccess = RecordKind(stored: "audit_access")

    public static let allCases: [RecordKind] = [
        .toolCall, .agentRequest, .alert, .review, .config, .fhirAuditEvent, .keyEvent, .checkpoint, .legalHold, .retentionPurge,
        .archive, .auditAccess,
    ]

    /// The kinds a retention policy applies to: what agents and other systems recorded. The
    /// log's own records (alerts, reviews, configuration, keys, checkpoints, holds, purges) are
    /// kept for the log's life in the hot log: verify rebuilds state from them.
    public static let retained: Set<RecordKind> = [.toolCall, .agentRequest, .fhirAuditEvent]

    /// The kinds the ingest contract accepts from agents.
    public static let ingestible: [RecordKind] = [.toolCall, .agentRequest]
}

/// A code of a closed vocabulary, stored as text: typed in code, compared without `rawValue`,
/// and lossless when read back (a stored text this version does not know is kept as it is).
///
/// String literals make codes in fixtures and tests (`kind: "tool_call"`).
public protocol StoredCode: RawRepresentable, Sendable, Hashable, Codable, CaseIterable, ExpressibleByStringLiteral,
    CustomStringConvertible
where RawValue == String, AllCases == [Self] {
    /// A code exactly as stored, known or not.
    init(stored: String)
}

extension StoredCode {
    /// A known code, or `nil`: what input is checked against.
    public init?(rawValue: String) {
        guard let known = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = known
    }

    public init(stringLiteral value: String) { self.init(stored: value) }

    /// Whether this version knows the code.
    public var isKnown: Bool { Self.allCases.contains(self) }

    public var description: String { rawValue }
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
public struct ToolAction: StoredCode {
    public let rawValue: String

    public init(stored: String) { rawValue = stored }

    public static let create = ToolAction(stored: "C")
    public static let read = ToolAction(stored: "R")
    public static let update = ToolAction(stored: "U")
    public static let delete = ToolAction(stored: "D")
    /// Execute: a query or search, whose result names `patient_ids`.
    public static let execute = ToolAction(stored: "E")

    public static let allCases: [ToolAction] = [.create, .read, .update, .delete, .execute]
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
public struct Outcome: StoredCode {
    public let rawValue: String

    public init(stored: String) { rawValue = stored }

    public static let success = Outcome(stored: "success")
    public static let failure = Outcome(stored: "failure")

    public static let allCases: [Outcome] = [.success, .failure]
}
