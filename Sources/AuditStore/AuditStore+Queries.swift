public import AuditChain
public import AuditCore
import GRDB

/// The questions privacy officers ask of the log, each answered through an index.
public enum EntryQuery: Sendable, Hashable {
    /// Every access to a patient: reads and changes of the record, and queries whose result named them.
    case patient(String)
    /// Everything a user did.
    case user(String)
    /// One conversation's entries.
    case conversation(String)
    /// One agent request's entries (its request record and tool calls).
    case trace(String)
    /// One tool's calls.
    case tool(String)
    /// Failed calls.
    case failures
}

extension AuditStore {
    /// How many entries share one index bucket: `seq >> bucketShift` leads the indexes on random
    /// keys (patients, users, conversations, traces).
    public static let bucketShift = 12

    /// The entries that answer `query`, in log order, optionally limited to events between
    /// `from` and `to` (inclusive; `timestamp`, or `recorded_at` where the agent gave none).
    public func entries(
        _ query: EntryQuery, from: Timestamp? = nil, to: Timestamp? = nil, limit: Int = 10_000
    ) throws(StoreError) -> [StoredEntry] {
        try read { db in
            let (sql, arguments) = try Self.sql(for: query, from: from, to: to, limit: limit, db: db)
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            var entries: [StoredEntry] = []
            while let row = try rows.next() { entries.append(Self.storedEntry(row)) }
            return entries
        }
    }

    /// Calls `body` with each entry that answers `query`, streamed from SQLite (memory stays
    /// flat however many there are), in the order of ``entries(_:from:to:limit:)``.
    public func forEachEntry(
        _ query: EntryQuery, from: Timestamp? = nil, to: Timestamp? = nil, limit: Int = Int(Int32.max),
        _ body: (StoredEntry) throws -> Void
    ) throws(StoreError) {
        do {
            try pool.read { db in
                let (sql, arguments) = try Self.sql(for: query, from: from, to: to, limit: limit, db: db)
                let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
                while let row = try rows.next() { try body(Self.storedEntry(row)) }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "cannot read the log: \(Self.reason(error))")
        }
    }

    /// SQLite's plan for `query`, one line per step: tests use it to prove every question is
    /// answered through an index rather than a scan of the log.
    func queryPlan(_ query: EntryQuery) throws -> [String] {
        try pool.read { db in
            let (sql, arguments) = try Self.sql(for: query, from: nil, to: nil, limit: 10, db: db)
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] ?? "" }
        }
    }

    private static func sql(
        for query: EntryQuery, from: Timestamp?, to: Timestamp?, limit: Int, db: Database
    ) throws -> (String, StatementArguments) {
        let columns = (EntryHasher.hashedColumns.map(\.name) + ["entry_hash"]).map { "e." + $0 }.joined(separator: ", ")
        let lastBucket = (try head(db)?.seq ?? 0) >> Int64(bucketShift)
        var arguments: StatementArguments = []
        var time = ""
        if let from {
            time += " AND coalesce(e.timestamp, e.recorded_at) >= ?"
            arguments += [from.description]
        }
        if let to {
            time += " AND coalesce(e.timestamp, e.recorded_at) <= ?"
            arguments += [to.description]
        }
        let buckets = "WITH RECURSIVE bucket(b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM bucket WHERE b < \(lastBucket))"
        func probe(_ column: String, _ key: String) -> (String, StatementArguments) {
            (
                "\(buckets) SELECT \(columns) FROM bucket CROSS JOIN entry AS e ON (e.seq >> \(bucketShift)) = bucket.b AND e.\(column) = ?"
                    + " WHERE 1\(time) ORDER BY e.seq LIMIT \(limit)",
                [key] + arguments
            )
        }
        switch query {
        case .patient(let patient):
            // Reads and changes name the patient in entry.patient_id; queries in entry_patient.
            let sql = """
                \(buckets), hit(seq) AS (
                    SELECT e.seq FROM bucket CROSS JOIN entry AS e ON (e.seq >> \(bucketShift)) = bucket.b AND e.patient_id = ?
                    UNION
                    SELECT p.seq FROM bucket CROSS JOIN entry_patient AS p ON (p.seq >> \(bucketShift)) = bucket.b AND p.patient_id = ?
                )
                SELECT \(columns) FROM hit CROSS JOIN entry AS e ON e.seq = hit.seq WHERE 1\(time) ORDER BY e.seq LIMIT \(limit)
                """
            return (sql, [patient, patient] + arguments)
        case .user(let user): return probe("user_id", user)
        case .conversation(let conversation): return probe("conversation_id", conversation)
        case .trace(let trace): return probe("trace_id", trace)
        case .tool(let tool):
            return (
                "SELECT \(columns) FROM entry AS e WHERE e.tool_name = ?\(time) ORDER BY coalesce(e.timestamp, e.recorded_at), e.seq LIMIT \(limit)",
                [tool] + arguments
            )
        case .failures:
            return (
                "SELECT \(columns) FROM entry AS e WHERE e.outcome = 'failure'\(time) ORDER BY coalesce(e.timestamp, e.recorded_at), e.seq LIMIT \(limit)",
                arguments
            )
        }
    }
}
