/// One entry of the log, field by field: the indexed columns, the patients a query named, and
/// everything else in `body`. Nothing here is clear-text PHI or a secret. The chain hash covers
/// every field; the log adds `seq`, `recorded_at`, `prev_hash` and `entry_hash` when it appends.
///
/// One field list serves the entry's two forms, so they can never drift apart:
/// - ``EntryContent``, what the sanitizer and CareTrail's own writers produce: the patient list
///   and the body as values;
/// - `EncodedEntry` (in `AuditChain`), what is hashed and stored: both as canonical JSON text,
///   so that what is hashed is byte for byte what is stored.
///
/// Kinds, actions and outcomes are typed in both (``StoredCode``).
public struct EntryFields<PatientIDs, Body> {
    public var kind: RecordKind
    public var tenantID: String
    public var userID: String
    public var model: String
    public var toolName: String?
    public var action: ToolAction?
    /// The patient whose record a call read or changed.
    public var patientID: String?
    /// For queries: the patients their result named.
    public var patientIDs: PatientIDs?
    public var purposeOfUse: String?
    public var outcome: Outcome?
    public var conversationID: String?
    public var traceID: String?
    /// The normalised `timestamp` the agent gave, if any.
    public var timestamp: String?
    /// The id of the pseudonymisation key the entry's tokens were made with.
    public var keyID: String
    /// Everything else, sanitised: a JSON object.
    public var body: Body

    public init(
        kind: RecordKind, tenantID: String, userID: String, model: String, toolName: String? = nil,
        action: ToolAction? = nil, patientID: String? = nil, patientIDs: PatientIDs? = nil, purposeOfUse: String? = nil,
        outcome: Outcome? = nil, conversationID: String? = nil, traceID: String? = nil, timestamp: String? = nil,
        keyID: String, body: Body
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

    /// The same entry with its patient list and body in another form.
    public func map<OtherPatientIDs, OtherBody>(
        patientIDs convertPatientIDs: (PatientIDs) -> OtherPatientIDs, body convertBody: (Body) -> OtherBody
    ) -> EntryFields<OtherPatientIDs, OtherBody> {
        EntryFields<OtherPatientIDs, OtherBody>(
            kind: kind, tenantID: tenantID, userID: userID, model: model, toolName: toolName, action: action,
            patientID: patientID, patientIDs: patientIDs.map(convertPatientIDs), purposeOfUse: purposeOfUse, outcome: outcome,
            conversationID: conversationID, traceID: traceID, timestamp: timestamp, keyID: keyID, body: convertBody(body)
        )
    }
}

extension EntryFields: Sendable where PatientIDs: Sendable, Body: Sendable {}
extension EntryFields: Equatable where PatientIDs: Equatable, Body: Equatable {}
extension EntryFields: Hashable where PatientIDs: Hashable, Body: Hashable {}

/// An entry as the sanitizer produces it: the patient list and the body as values.
public typealias EntryContent = EntryFields<[String], [String: JSONValue]>
