/// The two kinds of record the log holds.
public enum RecordKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// One tool call by an agent (the default when a record names no `kind`).
    case toolCall = "tool_call"
    /// One agent request as a whole: a user message in, an answer out, possibly many tool calls.
    case agentRequest = "agent_request"
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
