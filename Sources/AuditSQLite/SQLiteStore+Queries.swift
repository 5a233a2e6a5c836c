public import AuditChain
public import AuditCore
public import AuditStorage
import GRDB

extension SQLiteStore {
    /// How many entries share one index bucket: `seq >> bucketShift` leads the indexes on random
    /// keys (patients, users, conversations, traces).
    public static let bucketShift = 12

    /// Calls `body` with each entry that answers `query`, streamed (memory stays flat however
    /// many there are), in log order (tool and failure queries: in time order).
    ///
    /// Patients, users, conversations and traces are found through their posting lists and
    /// the bucketed indexes (see ``Postings``); tools and failures through their time indexes.
    public func forEachEntry(
        _ query: EntryQuery, from: Timestamp?, to: Timestamp?, limit: Int,
        _ body: (StoredEntry) throws -> Void
    ) throws(StoreError) {
        try forEachEntryInternal(query, from: from, to: to, limit: limit, body)
    }

    /// The entries of a patient's or a user's posting list with `after < seq <= through`, in
    /// seq order, until `body` returns `false`. Paging readers (FHIR search) use it to start
    /// where the previous page ended and to stop as soon as a page is full, without fetching
    /// the entries before or after.
    public func forEachEntry(
        _ query: EntryQuery, after: Int64, through: Int64, _ body: (StoredEntry) throws -> Bool
    ) throws(StoreError) {
        do {
            try pool.read { db in
                let kind: Postings.Kind
                let key: String
                switch query {
                case .patient(let patient): (kind, key) = (.patient, patient)
                case .user(let user): (kind, key) = (.user, user)
                case .conversation(let conversation): (kind, key) = (.conversation, conversation)
                case .trace(let trace): (kind, key) = (.trace, trace)
                case .tool, .failures:
                    throw StoreError(code: .readFailed, message: "only keyed queries page by sequence number")
                }
                let last = min(try Self.head(db)?.seq ?? 0, through)
                guard after < last else { return }
                for seq in try Postings.seqs(db, kind: kind, keys: [key], last: last) where seq > after && seq <= last {
                    guard let entry = try Self.entry(db, seq: seq) else { continue }
                    guard try body(entry) else { return }
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "cannot read the log: \(Self.reason(error))")
        }
    }

    private func forEachEntryInternal(
        _ query: EntryQuery, from: Timestamp?, to: Timestamp?, limit: Int, _ body: (StoredEntry) throws -> Void
    ) throws(StoreError) {
        do {
            try pool.read { db in
                let lower = from?.description
                let upper = to?.description
                let keyed: (Postings.Kind, String)?
                switch query {
                case .patient(let patient): keyed = (.patient, patient)
                case .user(let user): keyed = (.user, user)
                case .conversation(let conversation): keyed = (.conversation, conversation)
                case .trace(let trace): keyed = (.trace, trace)
                case .tool, .failures: keyed = nil
                }
                if let (kind, key) = keyed {
                    let last = try Self.head(db)?.seq ?? 0
                    var count = 0
                    for seq in try Postings.seqs(db, kind: kind, keys: [key], last: last) {
                        guard count < limit else { break }
                        guard let entry = try Self.entry(db, seq: seq) else { continue }
                        let time = entry.content.timestamp ?? entry.recordedAt
                        if let lower, time < lower { continue }
                        if let upper, time > upper { continue }
                        try body(entry)
                        count += 1
                    }
                    return
                }
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
    /// answered through an index rather than a scan of the log. For keyed queries: the plans
    /// of the posting lookup, the bucket probe of the block still filling and the entry fetch.
    func queryPlan(_ query: EntryQuery) throws -> [String] {
        try pool.read { db in
            func plan(_ sql: String, _ arguments: StatementArguments) throws -> [String] {
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] ?? "" }
            }
            let column: String
            switch query {
            case .patient: column = "patient_id"
            case .user: column = "user_id"
            case .conversation: column = "conversation_id"
            case .trace: column = "trace_id"
            case .tool, .failures:
                let (sql, arguments) = try Self.sql(for: query, from: nil, to: nil, limit: 10, db: db)
                return try plan(sql, arguments)
            }
            let probe = Postings.tailSQL(
                probe: "SELECT e.seq FROM bucket CROSS JOIN entry AS e ON (e.seq >> \(Self.bucketShift)) = bucket.b AND e.\(column) IN (?)"
            )
            return try plan(Postings.spansSQL(keys: 1), [1, 3, "k"]) + plan(Postings.blocksSQL(keys: 1), [0, 3, 1, "k"])
                + plan(probe, [0, 3, "k"]) + plan("SELECT \(Self.selectColumns) FROM entry AS e WHERE seq = ?", [1])
        }
    }

    /// The SQL of the queries answered through a time index: a tool's calls, failures.
    private static func sql(
        for query: EntryQuery, from: Timestamp?, to: Timestamp?, limit: Int, db: Database
    ) throws -> (String, StatementArguments) {
        let columns = (EntryHasher.hashedColumns.map(\.name) + ["entry_hash"]).map { "e." + $0 }.joined(separator: ", ")
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
        switch query {
        case .tool(let tool):
            return (
                "SELECT \(columns) FROM entry AS e WHERE e.tool_name = ?\(time) ORDER BY coalesce(e.timestamp, e.recorded_at), e.seq LIMIT \(limit)",
                [tool] + arguments
            )
        case .failures, .patient, .user, .conversation, .trace:
            // Keyed queries go through Postings.seqs; only failures reach this SQL.
            return (
                "SELECT \(columns) FROM entry AS e WHERE e.outcome = 'failure'\(time) ORDER BY coalesce(e.timestamp, e.recorded_at), e.seq LIMIT \(limit)",
                arguments
            )
        }
    }
}
