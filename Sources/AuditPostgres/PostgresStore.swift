public import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The log in a PostgreSQL database, through postgres-nio: the storage protocols of
/// ``AuditStore``, so that several CareTrail servers append to one chain in a database their
/// operators already run and back up.
///
/// The storage ports are synchronous, as SQLite's calls are; this store answers them by
/// waiting on postgres-nio's futures, which run on an event loop of the store's own
/// (``PostgresConnectionPool``).
///
/// Appends take a transaction-scoped advisory lock, read the head inside the transaction and
/// insert after it, so writers in any number of processes queue rather than fork; the database
/// refuses a fork or a gap on its own as well (``PostgresSchema``). Appends that arrive in one
/// process while a commit runs share the next commit. A commit returns once it is durable
/// (`synchronous_commit` is left on); a connection lost mid-commit leaves all of it or none.
public final class PostgresStore: AuditStore {
    public let postgresLocation: PostgresLocation
    public let clock: @Sendable () -> Timestamp
    /// Runs inside every append's transaction (alert detection), if any.
    let observer: (any AppendObserver)?
    let pool: PostgresConnectionPool
    let hasher = EntryHasher()
    let committer = PostgresGroupCommitter()
    /// Merkle nodes of complete subtrees already computed: the chain is append-only, so a
    /// complete subtree's hash never changes.
    let merkleCache = MerkleNodeCache()

    private init(
        location: PostgresLocation, clock: @escaping @Sendable () -> Timestamp, observer: (any AppendObserver)?,
        pool: PostgresConnectionPool
    ) {
        self.postgresLocation = location
        self.clock = clock
        self.observer = observer
        self.pool = pool
    }

    /// Connects to the database `location` names (at most `connections` at once).
    public static func connect(
        _ location: PostgresLocation, clock: @escaping @Sendable () -> Timestamp, observer: (any AppendObserver)? = nil,
        connections: Int = 4
    ) throws(StoreError) -> PostgresStore {
        let pool = try PostgresConnectionPool(location: location, size: max(1, connections))
        do {
            try pool.check()
        } catch {
            pool.close()
            throw error
        }
        return PostgresStore(location: location, clock: clock, observer: observer, pool: pool)
    }

    /// Opens the log at `location`, refusing a database without CareTrail's tables.
    public static func open(
        _ location: PostgresLocation, clock: @escaping @Sendable () -> Timestamp, observer: (any AppendObserver)? = nil
    ) throws(StoreError) -> PostgresStore {
        let store = try connect(location, clock: clock, observer: observer)
        guard try store.isInstalled() else {
            store.close()
            throw StoreError(
                code: .notACareTrailLog, message: "\(location) holds no CareTrail log; run 'caretrail init' with the owner's credentials")
        }
        guard try store.isCurrent() else {
            store.close()
            throw StoreError(
                code: .notACareTrailLog,
                message:
                    "\(location) holds a log of an earlier CareTrail; run 'caretrail init' with the owner's credentials to bring it up to date"
            )
        }
        return store
    }

    /// Where the log is, without the password.
    public var location: String { postgresLocation.description }

    /// Closes the connections and their event loop.
    public func close() {
        pool.close()
    }

    deinit {
        pool.close()
    }

    /// Creates the tables, triggers, functions and roles (with the owner's credentials), or
    /// brings them up to date, and writes the report records a log made by an earlier
    /// CareTrail lacks; returns what was granted, as `caretrail init` prints it.
    public func install() throws(StoreError) -> [String] {
        try withConnection { connection, logger in
            try connection.transaction(logger) {
                // Two installers at once would race on CREATE ... IF NOT EXISTS.
                try connection.run("SELECT pg_advisory_xact_lock(\(PostgresSchema.appendLock))", logger)
                for statement in PostgresSchema.statements {
                    try connection.run(PostgresQuery(unsafeSQL: statement), logger)
                }
                try Self.fillToolCounters(connection, logger)
            }
        }
        _ = try fillAccessRecords()
        return PostgresSchema.granted
    }

    /// What ``install()`` grants, as `caretrail init` prints it.
    public static var granted: [String] { PostgresSchema.granted }

    /// Whether the database holds CareTrail's tables.
    public func isInstalled() throws(StoreError) -> Bool {
        try withConnection { connection, logger in
            let rows = try connection.rows("SELECT to_regclass('caretrail_chain') IS NOT NULL", logger)
            return try rows.first?.decode(Bool.self) ?? false
        }
    }

    /// Whether the database holds every table this version writes to (an earlier version's
    /// log lacks the report records' and the tool counters' tables until `caretrail init`
    /// brings it up to date).
    public func isCurrent() throws(StoreError) -> Bool {
        try withConnection { connection, logger in
            let rows = try connection.rows(
                "SELECT to_regclass('caretrail_access') IS NOT NULL AND to_regclass('caretrail_tool_day') IS NOT NULL", logger)
            return try rows.first?.decode(Bool.self) ?? false
        }
    }

    /// Runs `body` with a connection, turning failures into read errors that name the
    /// server's reason (never the query's values).
    func withConnection<T>(_ body: (PostgresConnection, Logger) throws -> T) throws(StoreError) -> T {
        let logger = pool.logger
        return try pool.withConnection { connection in try body(connection, logger) }
    }

    /// The server's message of a failure, without the query (which may hold entry content).
    static func reason(_ error: any Error) -> String {
        if let error = error as? StoreError { return error.message }
        if let error = error as? PSQLError, let message = error.serverInfo?[.message] { return message }
        return String(describing: type(of: error))
    }

    // MARK: Reading

    public func head() throws(StoreError) -> ChainHead? {
        try withConnection { connection, logger in try Self.head(connection, logger) }
    }

    public func count() throws(StoreError) -> Int64 {
        try withConnection { connection, logger in
            try connection.rows("SELECT count(*)::bigint FROM caretrail_chain", logger).first?.decode(Int64.self) ?? 0
        }
    }

    public func entry(seq: Int64) throws(StoreError) -> StoredEntry? {
        try entries(from: seq, through: seq, limit: 1).first
    }

    public func entries(from first: Int64, through last: Int64, limit: Int) throws(StoreError) -> [StoredEntry] {
        try withConnection { connection, logger in try Self.entries(connection, logger, from: first, through: last, limit: limit) }
    }

    public func entries(kind: RecordKind) throws(StoreError) -> [StoredEntry] {
        try withConnection { connection, logger in try Self.entries(connection, logger, kind: kind, atOrBefore: nil, newestFirst: false) }
    }

    public func entries(kind: RecordKind, after seq: Int64) throws(StoreError) -> [StoredEntry] {
        try withConnection { connection, logger in
            try Self.entries(connection, logger, kind: kind, after: seq, atOrBefore: nil, newestFirst: false)
        }
    }

    public func latest(_ kind: RecordKind) throws(StoreError) -> StoredEntry? {
        try withConnection { connection, logger in
            try Self.entries(connection, logger, kind: kind, atOrBefore: nil, newestFirst: true).first
        }
    }

    public func withLogReader<T>(_ body: (any LogReader) throws -> T) throws(StoreError) -> T {
        try withConnection { connection, logger in
            try connection.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger)
            defer { _ = try? connection.run("COMMIT", logger) }
            return try body(PostgresLogReader(connection: connection, logger: logger))
        }
    }

    public func canWrite() -> Bool {
        (try? withConnection { connection, logger in
            try connection.rows("SELECT has_table_privilege('caretrail_chain', 'INSERT')", logger).first?.decode(Bool.self) ?? false
        }) ?? false
    }

    @discardableResult
    public func prepareObserver() throws(StoreError) -> Int64 {
        guard let observer else { return 0 }
        return try withConnection { connection, logger in
            try connection.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger)
            defer { _ = try? connection.run("COMMIT", logger) }
            let seq = try Self.head(connection, logger)?.seq ?? 0
            try observer.catchUp(through: seq, reader: PostgresLogReader(connection: connection, logger: logger))
            return seq
        }
    }

    /// PostgreSQL writes its own checkpoints; nothing to do.
    public func checkpoint() throws(StoreError) {}

    // MARK: Queries shared by the store and its readers

    static func head(_ connection: PostgresConnection, _ logger: Logger) throws -> ChainHead? {
        let rows = try connection.rows("SELECT seq, entry_hash FROM caretrail_chain ORDER BY seq DESC LIMIT 1", logger)
        guard let row = rows.first else { return nil }
        let (seq, hash) = try row.decode((Int64, ByteBuffer).self)
        return ChainHead(seq: seq, hash: ChainHash(unchecked: Array(buffer: hash)))
    }

    /// The columns every entry read selects, from `caretrail_entry e` joined to `caretrail_chain c`.
    static let entryColumns = "e.seq, c.entry_hash, e.canonical"

    static func entries(_ connection: PostgresConnection, _ logger: Logger, from first: Int64, through last: Int64, limit: Int) throws
        -> [StoredEntry]
    {
        try decode(
            connection.rows(
                """
                SELECT e.seq, c.entry_hash, e.canonical FROM caretrail_entry e JOIN caretrail_chain c ON c.seq = e.seq \
                WHERE e.seq BETWEEN \(first) AND \(last) AND c.seq BETWEEN \(first) AND \(last) \
                ORDER BY e.seq LIMIT \(Int64(max(0, limit)))
                """, logger))
    }

    static func entries(
        _ connection: PostgresConnection, _ logger: Logger, kind: RecordKind, after: Int64 = 0, atOrBefore last: Int64?, newestFirst: Bool
    ) throws -> [StoredEntry] {
        let bound = last ?? Int64.max
        let order = newestFirst ? "DESC LIMIT 1" : "ASC"
        let rare = kind != .toolCall && kind != .agentRequest
        // The partial index holds the rare kinds; tool calls and agent requests are read in full.
        let filter = rare ? " AND e.kind <> 'tool_call' AND e.kind <> 'agent_request'" : ""
        return try decode(
            connection.rows(
                """
                SELECT e.seq, c.entry_hash, e.canonical FROM caretrail_entry e JOIN caretrail_chain c ON c.seq = e.seq \
                WHERE e.kind = \(kind.rawValue) AND e.seq > \(after) AND e.seq <= \(bound) AND c.seq > \(after) AND c.seq <= \(bound)\
                \(unescaped: filter) ORDER BY e.seq \(unescaped: order)
                """, logger))
    }

    /// Entries from rows of ``entryColumns``.
    static func decode(_ rows: [PostgresRow]) throws -> [StoredEntry] {
        try rows.map { row in
            let (seq, hash, canonical) = try row.decode((Int64, ByteBuffer, ByteBuffer).self)
            return canonical.withUnsafeReadableBytes { raw in
                CanonicalEntry.decode(
                    raw.bindMemory(to: UInt8.self), seq: seq, entryHash: ChainHash(unchecked: Array(buffer: hash)))
            }
        }
    }
}
