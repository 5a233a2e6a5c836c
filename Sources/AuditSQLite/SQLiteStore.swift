public import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// The append-only, hash-chained audit log in one SQLite file (WAL, `synchronous=FULL`).
///
/// Every append is one write transaction that reads the head, links each new entry to it and
/// inserts; SQLite's write lock (taken at `BEGIN IMMEDIATE`) serialises appenders of every
/// process, so the chain never forks. Appends from concurrent tasks are grouped into one
/// transaction (``append(_:)``), each batch in its own savepoint, so throughput scales while
/// every batch stays all-or-nothing. An append returns only after its commit is durable.
///
/// No GRDB type appears in this type's API.
public final class SQLiteStore: AuditStore {
    /// The database file.
    public let path: String
    /// The database file.
    public var location: String { path }
    let pool: DatabasePool
    /// The log's clock: `recorded_at` of every entry, and `now` for review deadlines.
    public let clock: @Sendable () -> Timestamp
    let hasher = EntryHasher()
    let committer: GroupCommitter
    /// Writes the postings of completed blocks after the appends that completed them.
    let compaction = BackgroundPasses()
    /// Sees every appended entry inside its transaction (CareTrail's alert detection).
    let observer: (any AppendObserver)?
    /// Entries per block of posting lists, as 2^shift (fixed when the log was created).
    let postingBlockShift: Int
    /// Checkpoints the WAL beside the appends instead of inside them.
    let checkpointer: WALCheckpointer
    /// The keys of the block still filling, in memory (see ``TailIndex``).
    let tail: TailIndex
    /// Postings of whole blocks collected while a transaction appended them (``BlockCollector``).
    let collectedBlocks = CollectedBlocks()
    /// The log's purge generation (meta `purge_generation`) when the running compaction
    /// began: a compaction that read postings before a retention run removed entries from
    /// them must not write them back (see ``isCurrent(_:)``).
    let compactionGeneration = Mutex<Int64>(0)

    private init(
        path: String, pool: DatabasePool, clock: @escaping @Sendable () -> Timestamp, observer: (any AppendObserver)?,
        postingBlockShift: Int, checkpointer: WALCheckpointer
    ) {
        self.checkpointer = checkpointer
        self.path = path
        self.pool = pool
        self.clock = clock
        self.committer = GroupCommitter()
        self.observer = observer
        self.postingBlockShift = postingBlockShift
        self.tail = TailIndex(blockShift: postingBlockShift)
    }

    deinit {
        // SQLite calls the checkpointer after each commit: take it off before it goes. Reentrant,
        // because the last reference may go with a closure that ran on the writer's queue.
        pool.unsafeReentrantWrite { db in checkpointer.uninstall(from: db) }
    }

    /// Creates a new, empty log. Fails if a file is already there.
    ///
    /// `postingBlockShift` sets the size of the blocks whose postings are written when they
    /// are complete (2^shift entries), `postingSpanShift` how many blocks (2^shift) are merged
    /// into a span and `postingEpochShift` how many spans into an epoch (see `Postings`); tests
    /// use small blocks, spans and epochs.
    public static func create(
        at path: String, clock: @escaping @Sendable () -> Timestamp = SystemClock.now, observer: (any AppendObserver)? = nil,
        postingBlockShift: Int = 12, postingSpanShift: Int = 4, postingEpochShift: Int = 4
    ) throws(StoreError) -> SQLiteStore {
        if FileManager.default.fileExists(atPath: path) {
            throw StoreError(code: .alreadyExists, message: "a file already exists at \(path)")
        }
        let shift = max(2, min(postingBlockShift, 30))
        let store = try connect(path: path, clock: clock, observer: observer, postingBlockShift: shift)
        do {
            try store.pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO meta (key, value) VALUES ('format', ?), ('created_at', ?), ('posting_block_shift', ?),
                            ('posting_span_shift', ?), ('posting_epoch_shift', ?)
                            ON CONFLICT (key) DO UPDATE SET value = excluded.value
                        """,
                    arguments: [
                        Schema.format, clock().description, String(shift), String(max(0, min(postingSpanShift, 10))),
                        String(max(1, min(postingEpochShift, 10))),
                    ]
                )
            }
        } catch {
            throw StoreError(code: .appendFailed, message: "cannot initialise the log at \(path): \(Self.reason(error))")
        }
        return store
    }

    /// Opens an existing log.
    public static func open(
        at path: String, clock: @escaping @Sendable () -> Timestamp = SystemClock.now, observer: (any AppendObserver)? = nil,
        busyTimeout: Double = 30
    ) throws(StoreError) -> SQLiteStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(code: .notFound, message: "no CareTrail log at \(path) (run 'caretrail init' first)")
        }
        let store = try connect(path: path, clock: clock, observer: observer, busyTimeout: busyTimeout)
        let format: String?
        do {
            format = try store.pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'format'") }
        } catch {
            throw StoreError(code: .notACareTrailLog, message: "\(path) is not a CareTrail log")
        }
        guard format == Schema.format else {
            throw StoreError(code: .notACareTrailLog, message: "\(path) is not a CareTrail log of a format this version reads")
        }
        return store
    }

    private static func connect(
        path: String, clock: @escaping @Sendable () -> Timestamp, observer: (any AppendObserver)?, postingBlockShift: Int? = nil,
        busyTimeout: Double = 30
    ) throws(StoreError) -> SQLiteStore {
        var configuration = Configuration()
        // How long a write waits for another process's lock before it fails (and is answered 503).
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "caretrail"
        configuration.prepareDatabase { db in
            // A 64 MiB page cache per connection keeps the indexes' hot pages in memory.
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // Readers map the file (up to SQLite's 2 GB cap) instead of copying every page they
            // visit into their cache: verification, exports and reports read without a system
            // call per page. The writer keeps plain I/O, so a failing disk surfaces as an error.
            if db.configuration.readonly { try db.execute(sql: "PRAGMA mmap_size = \(readerMapSize)") }
        }
        let checkpointer = WALCheckpointer(path: path)
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            // DatabasePool's WAL setup leaves synchronous=NORMAL, under which a commit can roll back
            // after a power cut. FULL syncs the WAL at every commit: an acknowledged append survives.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // Checkpoints run beside the appends, not in the commit that crosses a threshold.
                checkpointer.install(on: db)
            }
            // Only a CareTrail log is upgraded: a foreign database is left as it is.
            if postingBlockShift == nil {
                let format = try? pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'format'") }
                guard let format, Schema.readableFormats.contains(format) else {
                    throw StoreError(code: .notACareTrailLog, message: "\(path) is not a CareTrail log of a format this version reads")
                }
            }
            try Schema.migrator.migrate(pool)
            let shift = try postingBlockShift ?? pool.read { db in try Postings.blockShift(db) }
            let store = SQLiteStore(
                path: path, pool: pool, clock: clock, observer: observer, postingBlockShift: shift, checkpointer: checkpointer
            )
            // A log written by schema v1, or one whose process ended before its last block's
            // postings were written: write the postings of every complete block.
            store.compactPostingsNow()
            return store
        } catch {
            throw StoreError(code: .notACareTrailLog, message: "cannot open \(path) as a CareTrail log: \(reason(error))")
        }
    }

    /// How much of the file a reader maps (SQLite's cap).
    static let readerMapSize = 2_147_418_112

    /// The SQLite reason of an error, without SQL or arguments.
    static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message ?? "SQLite error \(error.resultCode.rawValue)"
        }
        if let error = error as? StoreError { return error.message }
        return "unexpected error"
    }

    // MARK: Reading

    /// The current head, or `nil` for an empty log.
    public func head() throws(StoreError) -> ChainHead? {
        try read { db in try Self.head(db) }
    }

    static func head(_ db: Database) throws -> ChainHead? {
        let statement = try db.cachedStatement(sql: "SELECT seq, entry_hash FROM entry ORDER BY seq DESC LIMIT 1").sqliteStatement
        sqlite3_reset(statement)
        defer { sqlite3_reset(statement) }
        guard try StatementColumns.step(statement, db) else { return nil }
        let columns = StatementColumns(statement: statement)
        return ChainHead(seq: columns.int64(0), hash: columns.hash(1))
    }

    /// The entry at `seq`.
    public func entry(seq: Int64) throws(StoreError) -> StoredEntry? {
        try read { db in try Self.entry(db, seq: seq) }
    }

    /// Entries with `seq` in the range, in order (at most `limit`).
    public func entries(from first: Int64, through last: Int64, limit: Int) throws(StoreError) -> [StoredEntry] {
        try read { db in
            try Self.fetchEntries(db, where: "seq BETWEEN ? AND ?", arguments: [first, last], limit: limit)
        }
    }

    /// Moves the WAL's content into the database file (a passive checkpoint, as SQLite does on
    /// its own from time to time).
    public func checkpoint() throws(StoreError) {
        do {
            _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        } catch {
            throw StoreError(code: .appendFailed, message: "checkpoint failed: \(Self.reason(error))")
        }
    }

    /// Every entry of `kind`, in log order. The kinds other than tool calls and agent requests
    /// (alerts, reviews, configuration changes, key events), which are few, are found through
    /// `entry_kind`; tool calls and agent requests by reading the log.
    public func entries(kind: RecordKind) throws(StoreError) -> [StoredEntry] {
        try read { db in try Self.entries(db, kind: kind, atOrBefore: nil, limit: nil) }
    }

    public func entries(kind: RecordKind, after seq: Int64) throws(StoreError) -> [StoredEntry] {
        try read { db in try Self.entries(db, kind: kind, after: seq, atOrBefore: nil, limit: nil) }
    }

    /// The last entry of `kind`, if any.
    public func latest(_ kind: RecordKind) throws(StoreError) -> StoredEntry? {
        try read { db in try Self.entries(db, kind: kind, atOrBefore: nil, limit: 1).first }
    }

    /// Entries of `kind` above `after` and up to `last`: all in log order, or the last `limit`
    /// newest first.
    static func entries(_ db: Database, kind: RecordKind, after: Int64 = 0, atOrBefore last: Int64?, limit: Int?) throws -> [StoredEntry] {
        let bound = last ?? Int64.max
        if kind == .toolCall || kind == .agentRequest {
            var found: [StoredEntry] = []
            try forEachEntry(db, from: after + 1, through: bound) { entry in
                if entry.content.kind == kind { found.append(entry) }
            }
            if let limit { return Array(found.suffix(limit).reversed()) }
            return found
        }
        let order = limit == nil ? "seq" : "seq DESC"
        let limitClause = limit.map { " LIMIT \($0)" } ?? ""
        let seqs = try Int64.fetchAll(
            db.cachedStatement(sql: "SELECT seq FROM entry_kind WHERE kind = ? AND seq > ? AND seq <= ? ORDER BY \(order)\(limitClause)"),
            arguments: [kind.rawValue, after, bound]
        )
        return try seqs.compactMap { try entry(db, seq: $0) }
    }

    /// Whether the log can take a write now: takes SQLite's write lock and lets it go (the
    /// readiness check of the server).
    public func canWrite() -> Bool {
        do {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                try db.execute(sql: "ROLLBACK")
            }
            return true
        } catch {
            return false
        }
    }

    /// Runs `body` with a ``LogReader`` over one read transaction: a consistent snapshot of the
    /// log, as an ``AppendObserver`` sees it inside an append.
    public func withLogReader<T>(_ body: (any LogReader) throws -> T) throws(StoreError) -> T {
        try read { db in try body(SQLiteLogReader(db: db, tail: tail)) }
    }

    /// Lets the store's ``AppendObserver`` (alert detection) read the history it needs now,
    /// in a read transaction beside any appends, rather than in the first append's
    /// transaction. A server calls this before it takes requests: on a log with hours of busy
    /// history, that first append would otherwise wait seconds, and every append behind it.
    /// Returns the head it caught up to.
    @discardableResult
    public func prepareObserver() throws(StoreError) -> Int64 {
        guard let observer else { return 0 }
        return try read { db in
            let seq = try Self.head(db)?.seq ?? 0
            try observer.catchUp(through: seq, reader: SQLiteLogReader(db: db, tail: tail))
            return seq
        }
    }

    /// How many entries the log holds.
    public func count() throws(StoreError) -> Int64 {
        try read { db in try Int64.fetchOne(db, sql: "SELECT count(*) FROM entry") ?? 0 }
    }

    /// The columns an entry is read from.
    static let selectColumns = "seq, canonical, entry_hash"
    /// The condition that keeps sealed entries out of reads: an entry whose content a
    /// retention run deleted keeps its row, with its hash and no canonical bytes, for verify
    /// and the Merkle tree only.
    static let hasContent = "canonical <> ''"

    /// Calls `body` with each entry `first...last` in order, decoded from its canonical bytes
    /// straight from SQLite's buffer.
    static func forEachEntry(_ db: Database, from first: Int64, through last: Int64, _ body: (StoredEntry) throws -> Void) throws {
        guard first <= last else { return }
        let prepared = try db.makeStatement(
            sql: "SELECT \(selectColumns) FROM entry WHERE seq BETWEEN ? AND ? AND \(hasContent) ORDER BY seq")
        let statement = prepared.sqliteStatement
        sqlite3_bind_int64(statement, 1, first)
        sqlite3_bind_int64(statement, 2, last)
        let columns = StatementColumns(statement: statement)
        while try StatementColumns.step(statement, db) { try body(storedEntry(columns)) }
        withExtendedLifetime(prepared) {}
    }

    static func fetchEntries(
        _ db: Database, where condition: String, arguments: StatementArguments, limit: Int? = nil, order: String = "seq"
    ) throws -> [StoredEntry] {
        let limitClause = limit.map { " LIMIT \($0)" } ?? ""
        let statement = try db.cachedStatement(
            sql: "SELECT \(selectColumns) FROM entry WHERE (\(condition)) AND \(hasContent) ORDER BY \(order)\(limitClause)"
        )
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        var entries: [StoredEntry] = []
        while let row = try rows.next() {
            entries.append(storedEntry(row))
        }
        return entries
    }

    /// The entry at `seq` through a cached statement of ``selectColumns``, read without GRDB's
    /// `Row` (lookups and reports fetch their entries one sequence number at a time).
    static func entry(_ db: Database, seq: Int64) throws -> StoredEntry? {
        let statement = try db.cachedStatement(sql: "SELECT \(selectColumns) FROM entry WHERE seq = ? AND \(hasContent)")
            .sqliteStatement
        sqlite3_reset(statement)
        defer { sqlite3_reset(statement) }
        sqlite3_bind_int64(statement, 1, seq)
        guard try StatementColumns.step(statement, db) else { return nil }
        return storedEntry(StatementColumns(statement: statement))
    }

    /// The entry in the current row of a statement of ``selectColumns``.
    static func storedEntry(_ c: StatementColumns) -> StoredEntry {
        c.withBytes(1) { bytes in
            CanonicalEntry.decode(bytes ?? UnsafeBufferPointer(start: nil, count: 0), seq: c.int64(0), entryHash: c.hash(2))
        }
    }

    static func storedEntry(_ row: Row) -> StoredEntry {
        let canonical = (row[1] as String?) ?? ""
        let hash = (row[2] as Data?).map { [UInt8]($0) } ?? []
        return CanonicalEntry.decode(Array(canonical.utf8), seq: row[0], entryHash: ChainHash(unchecked: hash))
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw StoreError(code: .readFailed, message: "cannot read the log: \(Self.reason(error))")
        }
    }
}
