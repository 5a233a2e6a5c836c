import AuditChain
public import AuditCore
import GRDB

/// One row of a patient's access history, as reports list it: an access (a tool call that
/// read, changed or queried the record), or an alert or review about the patient.
public struct AccessRow: Sendable, Hashable {
    public var seq: Int64
    public var kind: String
    /// Event time: the agent's `timestamp`, else `recorded_at`.
    public var time: String
    public var recordedAt: String
    public var tenantID: String
    public var userID: String
    public var userRole: String?
    public var model: String
    public var toolName: String?
    public var action: String?
    public var purposeOfUse: String?
    public var outcome: String?
    public var breakGlass: Bool
    /// The break-the-glass reason, as stored (identifier patterns pseudonymised).
    public var breakGlassReason: String?
    public var conversationID: String?
    public var traceID: String?
    /// For a query: the patient was one of its results (not the record it opened).
    public var viaQuery: Bool
    /// The body, for alerts and reviews only (accesses do not need it).
    public var body: String?
}

/// Whom a patient report is about: a patient id, or a pseudonym the sanitizer made of a
/// name, SSN or other identifier (found through the posting lists of pseudonyms).
public enum PatientKey: Sendable, Hashable {
    case patientID(String)
    /// The pseudonyms of one value under each key of the ring (they differ per key).
    case pseudonyms([String])
}

extension AuditStore {
    /// The sequence numbers of every entry about a patient (for benchmarks: the lookup alone).
    public func patientSeqs(_ patient: String) throws(StoreError) -> [Int64] {
        try read { db in try Postings.seqs(db, kind: .patient, keys: [patient], last: try Self.head(db)?.seq ?? 0) }
    }

    /// Calls `body` with every access to the patient whose event time lies in `from...to`, in
    /// log order, and with every alert and review about the patient (at any time). Rows are
    /// streamed from SQLite, found through the bucketed patient (or token) indexes.
    public func forEachAccess(
        to key: PatientKey, from: Timestamp?, to: Timestamp?, through last: Int64? = nil, _ body: (AccessRow) throws -> Void
    ) throws(StoreError) {
        do {
            try pool.read { db in
                let head = try Self.head(db)?.seq ?? 0
                let seqs: [Int64]
                switch key {
                case .patientID(let patient): seqs = try Postings.seqs(db, kind: .patient, keys: [patient], last: min(head, last ?? head))
                case .pseudonyms(let tokens): seqs = try Postings.seqs(db, kind: .token, keys: tokens, last: min(head, last ?? head))
                }
                let statement = try db.cachedStatement(sql: """
                    SELECT e.seq, e.kind, coalesce(e.timestamp, e.recorded_at), e.recorded_at, e.tenant_id, e.user_id,
                    CASE WHEN e.kind = 'tool_call' THEN json_extract(e.body, '$.user_role') END, e.model, e.tool_name,
                    e.action, e.purpose_of_use, e.outcome,
                    CASE WHEN e.kind = 'tool_call' AND e.purpose_of_use IN ('ETREAT', 'BTG', 'ERTREAT')
                        THEN json_type(e.body, '$.break_glass') END,
                    CASE WHEN e.kind = 'tool_call' AND e.purpose_of_use IN ('ETREAT', 'BTG', 'ERTREAT')
                        THEN json_extract(e.body, '$.break_glass.reason') END,
                    e.conversation_id, e.trace_id, CASE WHEN e.kind IN ('alert', 'review') THEN e.body END
                    FROM entry AS e WHERE e.seq = ?
                    """)
                let lower = from?.description
                let upper = to?.description
                let tokenSearch: Bool
                if case .pseudonyms = key { tokenSearch = true } else { tokenSearch = false }
                for seq in seqs {
                    guard let row = try Row.fetchOne(statement, arguments: [seq]) else { continue }
                    let kind: String = row[1]
                    let time: String = row[2]
                    if kind == "tool_call" || kind == "agent_request" {
                        if let lower, time < lower { continue }
                        if let upper, time > upper { continue }
                    }
                    // A search by pseudonym lists accesses only.
                    if tokenSearch && kind != "tool_call" { continue }
                    let action: String? = row[9]
                    try body(AccessRow(
                        seq: seq, kind: kind, time: time, recordedAt: row[3], tenantID: row[4], userID: row[5], userRole: row[6],
                        model: row[7], toolName: row[8], action: action, purposeOfUse: row[10], outcome: row[11],
                        breakGlass: (row[12] as String?) != nil, breakGlassReason: row[13], conversationID: row[14],
                        traceID: row[15], viaQuery: action == ToolAction.execute.rawValue, body: row[16]
                    ))
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "cannot read the log: \(Self.reason(error))")
        }
    }
}
