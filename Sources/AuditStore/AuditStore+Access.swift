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
/// name, SSN or other identifier (found through the `entry_token` index).
public enum PatientKey: Sendable, Hashable {
    case patientID(String)
    /// The pseudonyms of one value under each key of the ring (they differ per key).
    case pseudonyms([String])
}

extension AuditStore {
    /// Calls `body` with every access to the patient whose event time lies in `from...to`, in
    /// log order, and with every alert and review about the patient (at any time). Rows are
    /// streamed from SQLite, found through the bucketed patient (or token) indexes.
    public func forEachAccess(
        to key: PatientKey, from: Timestamp?, to: Timestamp?, through last: Int64? = nil, _ body: (AccessRow) throws -> Void
    ) throws(StoreError) {
        do {
            try pool.read { db in
                let lastBucket = (try Self.head(db)?.seq ?? 0) >> Int64(Self.bucketShift)
                let columns = """
                    e.seq, e.kind, coalesce(e.timestamp, e.recorded_at), e.recorded_at, e.tenant_id, e.user_id,
                    CASE WHEN e.kind = 'tool_call' THEN json_extract(e.body, '$.user_role') END, e.model, e.tool_name,
                    e.action, e.purpose_of_use, e.outcome,
                    CASE WHEN e.kind = 'tool_call' AND e.purpose_of_use IN ('ETREAT', 'BTG', 'ERTREAT')
                        THEN json_type(e.body, '$.break_glass') END,
                    CASE WHEN e.kind = 'tool_call' AND e.purpose_of_use IN ('ETREAT', 'BTG', 'ERTREAT')
                        THEN json_extract(e.body, '$.break_glass.reason') END,
                    e.conversation_id, e.trace_id, hit.via, CASE WHEN e.kind IN ('alert', 'review') THEN e.body END
                    """
                let buckets = "WITH RECURSIVE bucket(b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM bucket WHERE b < \(lastBucket))"
                let sql: String
                let arguments: StatementArguments
                switch key {
                case .patientID(let patient):
                    sql = """
                        \(buckets), hit(seq, via) AS (
                            SELECT e.seq, 0 FROM bucket CROSS JOIN entry AS e ON (e.seq >> \(Self.bucketShift)) = bucket.b AND e.patient_id = ?
                            UNION ALL
                            SELECT p.seq, 1 FROM bucket CROSS JOIN entry_patient AS p ON (p.seq >> \(Self.bucketShift)) = bucket.b AND p.patient_id = ?
                        )
                        SELECT \(columns) FROM hit CROSS JOIN entry AS e ON e.seq = hit.seq ORDER BY e.seq
                        """
                    arguments = [patient, patient]
                case .pseudonyms(let tokens):
                    let list = tokens.isEmpty ? "NULL" : tokens.map { _ in "?" }.joined(separator: ", ")
                    sql = """
                        \(buckets), hit(seq, via) AS (
                            SELECT DISTINCT t.seq, 0 FROM bucket CROSS JOIN entry_token AS t ON (t.seq >> \(Self.bucketShift)) = bucket.b AND t.token IN (\(list))
                        )
                        SELECT \(columns) FROM hit CROSS JOIN entry AS e ON e.seq = hit.seq WHERE e.kind = 'tool_call' ORDER BY e.seq
                        """
                    arguments = StatementArguments(tokens)
                }
                let lower = from?.description
                let upper = to?.description
                let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
                var previousSeq: Int64 = 0
                while let row = try rows.next() {
                    let seq: Int64 = row[0]
                    // A query that also names the patient in patient_id comes twice: keep one.
                    if seq == previousSeq { continue }
                    if let last, seq > last { break }
                    previousSeq = seq
                    let kind: String = row[1]
                    let time: String = row[2]
                    if kind == "tool_call" || kind == "agent_request" {
                        if let lower, time < lower { continue }
                        if let upper, time > upper { continue }
                    }
                    try body(AccessRow(
                        seq: seq, kind: kind, time: time, recordedAt: row[3], tenantID: row[4], userID: row[5], userRole: row[6],
                        model: row[7], toolName: row[8], action: row[9], purposeOfUse: row[10], outcome: row[11],
                        breakGlass: (row[12] as String?) != nil, breakGlassReason: row[13], conversationID: row[14],
                        traceID: row[15], viaQuery: (row[16] as Int64?) == 1 || (row[9] as String?) == "E", body: row[17]
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
