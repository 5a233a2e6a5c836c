/// One clinical agent's tool call, as the ingest contract describes it, before sanitising.
///
/// Values here may hold PHI and secrets in clear text: a `ToolCall` lives only in memory, on
/// its way to the ``Sanitizer``. Field comments give the contract's snake_case names.
public struct ToolCall: Sendable, Hashable {
    /// `tenant_id`: the organisation the call belongs to.
    public var tenantID: String
    /// `conversation_id`: the agent conversation.
    public var conversationID: String
    /// `user_id`: the human on whose behalf the agent acted.
    public var userID: String
    /// `model`: the AI model that decided to call the tool.
    public var model: String
    /// `tool_name`: the tool that ran.
    public var toolName: String
    /// `purpose_of_use`: why (HL7 v3 ActReason).
    public var purposeOfUse: PurposeOfUse
    /// `patient_id`: the patient whose record was touched; `nil` only for queries (action `E`).
    public var patientID: String?
    /// `patient_ids`: for queries (action `E`), the patients the result named.
    public var patientIDs: [String]?
    /// `timestamp`: when the call happened, by the agent's clock.
    public var timestamp: Timestamp?
    /// `trace_id`: the agent request that grouped this call with others.
    public var traceID: String?
    /// `turn_number`: position in the conversation.
    public var turnNumber: Int?
    /// `user_role`: the user's role, e.g. `physician`.
    public var userRole: String?
    /// `trigger`: what made the agent call the tool.
    public var trigger: Trigger
    /// `action`: what the call did to the record (CRUDE).
    public var action: ToolAction
    /// `arguments`: what the tool was called with.
    public var arguments: [String: JSONValue]?
    /// `result`: what the tool returned.
    public var result: [String: JSONValue]?
    /// `error`: why the tool failed (a string or an object).
    public var error: JSONValue?
    /// `duration_ms`: how long the tool ran.
    public var durationMS: Double?
    /// `session_metadata`: `client_ip`, `user_agent` and anything else about the session.
    public var sessionMetadata: [String: JSONValue]?
    /// `usage`: tokens and cost.
    public var usage: TokenUsage?
    /// `break_glass`: emergency access and its reason.
    public var breakGlass: BreakGlass?

    public init(
        tenantID: String, conversationID: String, userID: String, model: String, toolName: String,
        purposeOfUse: PurposeOfUse, patientID: String?, patientIDs: [String]? = nil, timestamp: Timestamp? = nil,
        traceID: String? = nil, turnNumber: Int? = nil, userRole: String? = nil, trigger: Trigger = .userRequest,
        action: ToolAction = .read, arguments: [String: JSONValue]? = nil, result: [String: JSONValue]? = nil,
        error: JSONValue? = nil, durationMS: Double? = nil, sessionMetadata: [String: JSONValue]? = nil,
        usage: TokenUsage? = nil, breakGlass: BreakGlass? = nil
    ) {
        self.tenantID = tenantID
        self.conversationID = conversationID
        self.userID = userID
        self.model = model
        self.toolName = toolName
        self.purposeOfUse = purposeOfUse
        self.patientID = patientID
        self.patientIDs = patientIDs
        self.timestamp = timestamp
        self.traceID = traceID
        self.turnNumber = turnNumber
        self.userRole = userRole
        self.trigger = trigger
        self.action = action
        self.arguments = arguments
        self.result = result
        self.error = error
        self.durationMS = durationMS
        self.sessionMetadata = sessionMetadata
        self.usage = usage
        self.breakGlass = breakGlass
    }
}

/// One agent request as a whole: a user message in, an answer out.
///
/// `input` and `output` are never stored: only a keyed hash of each and a scrubbed preview.
public struct AgentRequest: Sendable, Hashable {
    public var traceID: String
    public var tenantID: String
    public var userID: String
    public var model: String
    public var conversationID: String?
    public var turnNumber: Int?
    public var userRole: String?
    public var purposeOfUse: PurposeOfUse?
    public var input: String?
    public var output: String?
    public var usage: TokenUsage?
    /// `cost_usd` given at the top level of the record.
    public var costUSD: Double?
    public var durationMS: Double?
    public var timestamp: Timestamp?
    public var sessionMetadata: [String: JSONValue]?

    public init(
        traceID: String, tenantID: String, userID: String, model: String, conversationID: String? = nil,
        turnNumber: Int? = nil, userRole: String? = nil, purposeOfUse: PurposeOfUse? = nil, input: String? = nil,
        output: String? = nil, usage: TokenUsage? = nil, costUSD: Double? = nil, durationMS: Double? = nil,
        timestamp: Timestamp? = nil, sessionMetadata: [String: JSONValue]? = nil
    ) {
        self.traceID = traceID
        self.tenantID = tenantID
        self.userID = userID
        self.model = model
        self.conversationID = conversationID
        self.turnNumber = turnNumber
        self.userRole = userRole
        self.purposeOfUse = purposeOfUse
        self.input = input
        self.output = output
        self.usage = usage
        self.costUSD = costUSD
        self.durationMS = durationMS
        self.timestamp = timestamp
        self.sessionMetadata = sessionMetadata
    }
}

/// Token usage and cost of a model call (`usage`).
public struct TokenUsage: Sendable, Hashable {
    public var inputTokens: Int?
    public var outputTokens: Int?
    public var costUSD: Double?

    public init(inputTokens: Int? = nil, outputTokens: Int? = nil, costUSD: Double? = nil) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costUSD = costUSD
    }
}

/// Emergency access (`break_glass`): the clinician's stated reason.
public struct BreakGlass: Sendable, Hashable {
    public var reason: String?

    public init(reason: String?) {
        self.reason = reason
    }
}

/// A record of the ingest contract: a tool call or an agent request.
public enum IngestRecord: Sendable, Hashable {
    case toolCall(ToolCall)
    case agentRequest(AgentRequest)

    public var kind: RecordKind {
        switch self {
        case .toolCall: .toolCall
        case .agentRequest: .agentRequest
        }
    }

    /// The tenant the record belongs to.
    public var tenantID: String {
        switch self {
        case .toolCall(let call): call.tenantID
        case .agentRequest(let request): request.tenantID
        }
    }
}
