package import AuditChain
public import AuditCore

/// One row of a patient's access history, as reports list it: an access (a tool call that
/// read, changed or queried the record), or an alert or review about the patient.
public struct AccessRow: Sendable, Hashable {
    public var seq: Int64
    public var kind: RecordKind
    /// Event time: the agent's `timestamp`, else `recorded_at`.
    public var time: String
    public var recordedAt: String
    public var tenantID: String
    public var userID: String
    public var userRole: String?
    public var model: String
    public var toolName: String?
    public var action: ToolAction?
    public var purposeOfUse: String?
    public var outcome: Outcome?
    public var breakGlass: Bool
    /// The break-the-glass reason, as stored (identifier patterns pseudonymised).
    public var breakGlassReason: String?
    public var conversationID: String?
    public var traceID: String?
    /// For a query: the patient was one of its results (not the record it opened).
    public var viaQuery: Bool
    /// The body, for alerts and reviews only (accesses do not need it).
    public var body: String?

    public init(
        seq: Int64, kind: RecordKind, time: String, recordedAt: String, tenantID: String, userID: String, userRole: String?, model: String,
        toolName: String?, action: ToolAction?, purposeOfUse: String?, outcome: Outcome?, breakGlass: Bool, breakGlassReason: String?,
        conversationID: String?, traceID: String?, viaQuery: Bool, body: String?
    ) {
        self.seq = seq
        self.kind = kind
        self.time = time
        self.recordedAt = recordedAt
        self.tenantID = tenantID
        self.userID = userID
        self.userRole = userRole
        self.model = model
        self.toolName = toolName
        self.action = action
        self.purposeOfUse = purposeOfUse
        self.outcome = outcome
        self.breakGlass = breakGlass
        self.breakGlassReason = breakGlassReason
        self.conversationID = conversationID
        self.traceID = traceID
        self.viaQuery = viaQuery
        self.body = body
    }
}

/// Whom a patient report is about: a patient id, or a pseudonym the sanitizer made of a
/// name, SSN or other identifier (found through the posting lists of pseudonyms).
public enum PatientKey: Sendable, Hashable {
    case patientID(String)
    /// The pseudonyms of one value under each key of the ring (they differ per key).
    case pseudonyms([String])
}

extension AccessRow {
    /// The purposes of use under which a tool call's `break_glass` member is read.
    package static let emergencyPurposes: Set<String> = ["ETREAT", "BTG", "ERTREAT"]

    /// The report row of an entry. The body is kept for alerts and reviews only; a tool
    /// call's user role and break-glass reason are read from it.
    package init(reporting entry: StoredEntry) {
        let content = entry.content
        let kind = content.kind
        var userRole: String?
        var breakGlass = false
        var breakGlassReason: String?
        if kind == .toolCall {
            var body = content.body
            body.withUTF8 { bytes in
                userRole = BodyScan.topLevelString("user_role", in: bytes)
                if let purpose = content.purposeOfUse, Self.emergencyPurposes.contains(purpose) {
                    (breakGlass, breakGlassReason) = BodyScan.breakGlass(in: bytes)
                }
            }
        }
        self.init(
            seq: entry.seq, kind: kind, time: content.timestamp ?? entry.recordedAt, recordedAt: entry.recordedAt,
            tenantID: content.tenantID, userID: content.userID, userRole: userRole, model: content.model, toolName: content.toolName,
            action: content.action, purposeOfUse: content.purposeOfUse, outcome: content.outcome, breakGlass: breakGlass,
            breakGlassReason: breakGlassReason, conversationID: content.conversationID, traceID: content.traceID,
            viaQuery: content.action == .execute, body: kind == .alert || kind == .review ? content.body : nil
        )
    }
}
