import AuditChain
public import AuditCore
import GRDB
import GRDBSQLite

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
                // The body is read for tool calls (their user's role, found by a scan of the
                // canonical bytes) and for alerts and reviews (handed on whole); the rare
                // break-the-glass members are left to SQLite's JSON functions.
                let statement = try db.cachedStatement(sql: """
                    SELECT e.seq, e.kind, coalesce(e.timestamp, e.recorded_at), e.recorded_at, e.tenant_id, e.user_id,
                    CASE WHEN e.kind IN ('tool_call', 'alert', 'review') THEN e.body END, e.model, e.tool_name,
                    e.action, e.purpose_of_use, e.outcome,
                    CASE WHEN e.kind = 'tool_call' AND e.purpose_of_use IN ('ETREAT', 'BTG', 'ERTREAT')
                        THEN json_type(e.body, '$.break_glass') END,
                    CASE WHEN e.kind = 'tool_call' AND e.purpose_of_use IN ('ETREAT', 'BTG', 'ERTREAT')
                        THEN json_extract(e.body, '$.break_glass.reason') END,
                    e.conversation_id, e.trace_id
                    FROM entry AS e WHERE e.seq = ?
                    """).sqliteStatement
                defer { sqlite3_reset(statement) }
                let columns = StatementColumns(statement: statement)
                let lower = from?.description
                let upper = to?.description
                let tokenSearch: Bool
                if case .pseudonyms = key { tokenSearch = true } else { tokenSearch = false }
                for seq in seqs {
                    sqlite3_reset(statement)
                    sqlite3_bind_int64(statement, 1, seq)
                    guard try StatementColumns.step(statement, db) else { continue }
                    let kind = columns.string(1)
                    let time = columns.string(2)
                    if kind == "tool_call" || kind == "agent_request" {
                        if let lower, time < lower { continue }
                        if let upper, time > upper { continue }
                    }
                    // A search by pseudonym lists accesses only.
                    if tokenSearch && kind != "tool_call" { continue }
                    let action = columns.text(9)
                    let isCall = kind == "tool_call"
                    try body(AccessRow(
                        seq: seq, kind: kind, time: time, recordedAt: columns.string(3), tenantID: columns.string(4),
                        userID: columns.string(5),
                        userRole: isCall ? columns.withBytes(6) { $0.flatMap { BodyScan.topLevelString("user_role", in: $0) } } : nil,
                        model: columns.string(7), toolName: columns.text(8), action: action, purposeOfUse: columns.text(10),
                        outcome: columns.text(11), breakGlass: !columns.isNull(12), breakGlassReason: columns.text(13),
                        conversationID: columns.text(14), traceID: columns.text(15), viaQuery: action == ToolAction.execute.rawValue,
                        body: isCall ? nil : columns.text(6)
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
