/// What the log stores of one record, after sanitising: the indexed columns and a `body`
/// object with everything else.
///
/// Nothing here is clear-text PHI or a secret. The chain hash covers every field; the log
/// adds `seq`, `recorded_at`, `prev_hash` and `entry_hash` when it appends.
public struct EntryContent: Sendable, Hashable {
    public var kind: RecordKind
    public var tenantID: String
    public var userID: String
    public var model: String
    public var toolName: String?
    public var action: ToolAction?
    /// The patient whose record a call read or changed.
    public var patientID: String?
    /// For queries: the patients their result named.
    public var patientIDs: [String]?
    public var purposeOfUse: String?
    public var outcome: Outcome?
    public var conversationID: String?
    public var traceID: String?
    /// The normalised `timestamp` the agent gave, if any.
    public var timestamp: String?
    /// The id of the pseudonymisation key the entry's tokens were made with.
    public var keyID: String
    /// Everything else, sanitised: a JSON object.
    public var body: [String: JSONValue]

    public init(
        kind: RecordKind, tenantID: String, userID: String, model: String, toolName: String? = nil,
        action: ToolAction? = nil, patientID: String? = nil, patientIDs: [String]? = nil, purposeOfUse: String? = nil,
        outcome: Outcome? = nil, conversationID: String? = nil, traceID: String? = nil, timestamp: String? = nil,
        keyID: String, body: [String: JSONValue]
    ) {
        self.kind = kind
        self.tenantID = tenantID
        self.userID = userID
        self.model = model
        self.toolName = toolName
        self.action = action
        self.patientID = patientID
        self.patientIDs = patientIDs
        self.purposeOfUse = purposeOfUse
        self.outcome = outcome
        self.conversationID = conversationID
        self.traceID = traceID
        self.timestamp = timestamp
        self.keyID = keyID
        self.body = body
    }
}
