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
    /// streamed: a patient's accesses from the records of its posting lists, the rest (the
    /// block still filling, alerts, reviews, a search by pseudonym) read from the entries.
    public func forEachAccess(
        to key: PatientKey, from: Timestamp?, to: Timestamp?, through last: Int64? = nil, _ body: (AccessRow) throws -> Void
    ) throws(StoreError) {
        do {
            try pool.read { db in
                let head = try Self.head(db)?.seq ?? 0
                let statement = try db.cachedStatement(sql: "SELECT \(AccessRecord.columnsSQL) FROM entry AS e WHERE e.seq = ?").sqliteStatement
                defer { sqlite3_reset(statement) }
                let columns = StatementColumns(statement: statement)
                let lower = from?.description
                let upper = to?.description
                let tokenSearch: Bool
                if case .pseudonyms = key { tokenSearch = true } else { tokenSearch = false }
                func visit(_ seq: Int64, _ recorded: AccessRow?) throws {
                    if let recorded {
                        if let lower, recorded.time < lower { return }
                        if let upper, recorded.time > upper { return }
                        return try body(recorded)
                    }
                    sqlite3_reset(statement)
                    sqlite3_bind_int64(statement, 1, seq)
                    guard try StatementColumns.step(statement, db) else { return }
                    let row = AccessRecord.row(columns)
                    if row.kind == "tool_call" || row.kind == "agent_request" {
                        if let lower, row.time < lower { return }
                        if let upper, row.time > upper { return }
                    }
                    // A search by pseudonym lists accesses only.
                    if tokenSearch && row.kind != "tool_call" { return }
                    try body(row)
                }
                let through = min(head, last ?? head)
                switch key {
                case .patientID(let patient):
                    // One key: streamed in order, each row decoded from its record once.
                    try Postings.visit(db, kind: .patient, keys: [patient], last: through, rows: true, visit)
                case .pseudonyms(let tokens):
                    for found in try Postings.find(db, kind: .token, keys: tokens, last: through, rows: false) { try visit(found.seq, nil) }
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "cannot read the log: \(Self.reason(error))")
        }
    }
}
