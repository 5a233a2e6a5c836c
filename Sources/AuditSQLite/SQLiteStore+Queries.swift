public import AuditChain
public import AuditCore
public import AuditStorage
import GRDB

extension SQLiteStore {
    /// Calls `body` with each entry that answers `query` and whose event time (`timestamp`,
    /// else `recorded_at`) lies in `from...to`, streamed (memory stays flat however many there
    /// are), in log order, at most `limit`.
    ///
    /// Every question is answered through the posting lists of complete blocks and the
    /// ``TailIndex`` of the block still filling (see ``Postings``): patients, users,
    /// conversations, traces, tools, and failures under one key.
    public func forEachEntry(
        _ query: EntryQuery, from: Timestamp?, to: Timestamp?, limit: Int,
        _ body: (StoredEntry) throws -> Void
    ) throws(StoreError) {
        try forEachEntryPaging(query, from: from, to: to, limit: limit, body)
    }

    /// The entries that answer `query` with `after < seq <= through`, in seq order, until
    /// `body` returns `false`. Paging readers (FHIR search) use it to start where the previous
    /// page ended and to stop as soon as a page is full, without fetching the entries before
    /// or after.
    public func forEachEntry(
        _ query: EntryQuery, after: Int64, through: Int64, _ body: (StoredEntry) throws -> Bool
    ) throws(StoreError) {
        do {
            try pool.read { db in
                let (kind, key) = Self.posting(query)
                let last = min(try Self.head(db)?.seq ?? 0, through)
                guard after < last else { return }
                for seq in try Postings.seqs(db, tail: tail, kind: kind, keys: [key], last: last) where seq > after && seq <= last {
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

    /// The last `count` entries that answer `query`: only their sequence numbers are read
    /// from the postings before them.
    public func lastEntries(_ query: EntryQuery, count: Int) throws(StoreError) -> [StoredEntry] {
        guard count > 0 else { return [] }
        do {
            return try pool.read { db in
                let (kind, key) = Self.posting(query)
                guard let last = try Self.head(db)?.seq else { return [] }
                return try Postings.seqs(db, tail: tail, kind: kind, keys: [key], last: last).suffix(count).compactMap {
                    try Self.entry(db, seq: $0)
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "cannot read the log: \(Self.reason(error))")
        }
    }

    /// The posting list that answers `query`.
    static func posting(_ query: EntryQuery) -> (Postings.Kind, String) {
        EntryKeys.key(query)
    }

    /// SQLite's plan for `query`, one line per step: tests use it to prove every question is
    /// answered through an index rather than a scan of the log: the plans of the epoch, span
    /// and block lookups and of the entry fetch.
    func queryPlan(_ query: EntryQuery) throws -> [String] {
        try pool.read { db in
            func plan(_ sql: String, _ arguments: StatementArguments) throws -> [String] {
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] ?? "" }
            }
            let kind = Self.posting(query).0.rawValue
            return try plan(Postings.epochsSQL(keys: 1), [kind, 3, "k"]) + plan(Postings.spansSQL(keys: 1), [kind, 0, 3, "k"])
                + plan(Postings.blocksSQL(keys: 1), [0, 3, kind, "k"])
                + plan("SELECT \(Self.selectColumns) FROM entry WHERE seq = ?", [1])
        }
    }
}
