public import AuditChain
public import AuditCore
public import AuditStorage
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// The log in a PostgreSQL database, through postgres-nio: the beginning of the PostgreSQL
/// backend (schema, appends from many writers, reads in order, verification).
///
/// The storage ports are synchronous, as SQLite's calls are; this store answers them by
/// waiting on postgres-nio's futures, which run on an event loop of its own, never on the
/// caller's thread or on Swift's cooperative pool. One connection per store, one call at a
/// time on it; several stores (several servers) append to one log concurrently.
///
/// Appends take a transaction-scoped advisory lock, read the head inside the transaction and
/// insert after it, so writers queue rather than fork; the database refuses a fork or a gap on
/// its own as well (``PostgresSchema``). A commit returns once it is durable
/// (`synchronous_commit` is left on).
public final class PostgresStore: Sendable {
    public let location: PostgresLocation
    public let clock: @Sendable () -> Timestamp
    private let group: MultiThreadedEventLoopGroup
    private let connection: PostgresConnection
    private let lock = NIOLock()
    private let logger: Logger = {
        var logger = Logger(label: "caretrail.postgres")
        logger.logLevel = .critical
        return logger
    }()

    private init(
        location: PostgresLocation, clock: @escaping @Sendable () -> Timestamp, group: MultiThreadedEventLoopGroup,
        connection: PostgresConnection
    ) {
        self.location = location
        self.clock = clock
        self.group = group
        self.connection = connection
    }

    /// Connects to the database `location` names.
    public static func connect(_ location: PostgresLocation, clock: @escaping @Sendable () -> Timestamp) throws(StoreError)
        -> PostgresStore
    {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let configuration = try location.configuration()
        let connection: PostgresConnection
        do {
            var logger = Logger(label: "caretrail.postgres")
            logger.logLevel = .critical
            connection = try PostgresConnection.connect(on: group.next(), configuration: configuration, id: 1, logger: logger).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw StoreError(code: .readFailed, message: "cannot connect to \(location): \(Self.reason(error))")
        }
        return PostgresStore(location: location, clock: clock, group: group, connection: connection)
    }

    /// Closes the connection and its event loop.
    public func close() {
        try? connection.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Creates the tables, triggers and role (with the owner's credentials); returns what was
    /// granted, as `caretrail init` prints it.
    public func install() throws(StoreError) -> [String] {
        try run { connection, logger in
            for statement in PostgresSchema.statements {
                _ = try connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).wait()
            }
        }
        return PostgresSchema.granted
    }

    /// The current head, or `nil` for an empty log.
    public func head() throws(StoreError) -> ChainHead? {
        try run { connection, logger in try Self.head(connection, logger) }
    }

    /// How many entries the log holds.
    public func count() throws(StoreError) -> Int64 {
        try run { connection, logger in
            let rows = try connection.query("SELECT count(*)::bigint FROM caretrail_entry", logger: logger).wait()
            return try rows.rows.first?.decode(Int64.self) ?? 0
        }
    }

    /// Entries with `seq` in `first...last`, in order, at most `limit`.
    public func entries(from first: Int64, through last: Int64, limit: Int) throws(StoreError) -> [StoredEntry] {
        try run { connection, logger in
            let query: PostgresQuery = """
                SELECT seq, entry_hash, canonical FROM caretrail_entry WHERE seq BETWEEN \(first) AND \(last) \
                ORDER BY seq LIMIT \(Int64(limit))
                """
            return try connection.query(query, logger: logger).wait().rows.map { row in
                let (seq, hash, canonical) = try row.decode((Int64, ByteBuffer, ByteBuffer).self)
                let bytes = Array(buffer: canonical)
                return CanonicalEntry.decode(bytes, seq: seq, entryHash: ChainHash(unchecked: Array(buffer: hash)))
            }
        }
    }

    /// Appends a batch atomically and durably after the head read inside the same
    /// transaction, under the log's advisory lock.
    public func appendNow(_ batch: [EncodedEntry]) throws(StoreError) -> AppendReceipt {
        guard !batch.isEmpty else { throw StoreError(code: .appendFailed, message: "nothing to append") }
        return try run { connection, logger in
            _ = try connection.query("BEGIN", logger: logger).wait()
            do {
                _ = try connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.appendLock))", logger: logger).wait()
                var previous = try Self.head(connection, logger) ?? ChainHead(seq: 0, hash: .genesis)
                let hasher = EntryHasher()
                var heads: [ChainHead] = []
                for content in batch {
                    let seq = previous.seq + 1
                    let recordedAt = clock().description
                    let canonical = hasher.canonicalBytes(seq: seq, recordedAt: recordedAt, prevHash: previous.hash, content: content)
                    let hash = canonical.withUnsafeBufferPointer(CanonicalEntry.hash)
                    let query: PostgresQuery = """
                        INSERT INTO caretrail_entry (seq, prev_hash, entry_hash, recorded_at, canonical) \
                        VALUES (\(seq), \(ByteBuffer(bytes: previous.hash.bytes)), \(ByteBuffer(bytes: hash.bytes)), \
                        \(recordedAt), \(ByteBuffer(bytes: canonical)))
                        """
                    _ = try connection.query(query, logger: logger).wait()
                    previous = ChainHead(seq: seq, hash: hash)
                    heads.append(previous)
                }
                _ = try connection.query("COMMIT", logger: logger).wait()
                return AppendReceipt(entries: heads, head: previous)
            } catch {
                _ = try? connection.query("ROLLBACK", logger: logger).wait()
                throw error
            }
        }
    }

    /// Re-hashes every entry and checks every link, in chunks; the first problem, or `nil`.
    public func verifyChain(chunkSize: Int = 16_384) throws(StoreError) -> ChainProblem? {
        var verifier = ChainVerifier()
        var next: Int64 = 1
        let hasher = EntryHasher()
        var buffer: [UInt8] = []
        while true {
            let chunk = try entries(from: next, through: Int64.max, limit: chunkSize)
            guard !chunk.isEmpty else { return nil }
            let links = chunk.map { entry in
                ChainLink(
                    seq: entry.seq, prevHash: entry.prevHash, entryHash: entry.entryHash,
                    hashIsValid: hasher.isValid(entry, buffer: &buffer))
            }
            if let index = verifier.check(links) {
                return ChainVerifier.diagnose(
                    suspect: chunk[index], before: index > 0 ? chunk[index - 1] : nil,
                    after: index + 1 < chunk.count ? chunk[index + 1] : nil)
            }
            next = chunk[chunk.count - 1].seq + 1
        }
    }

    private static func head(_ connection: PostgresConnection, _ logger: Logger) throws -> ChainHead? {
        let rows = try connection.query("SELECT seq, entry_hash FROM caretrail_entry ORDER BY seq DESC LIMIT 1", logger: logger).wait()
        guard let row = rows.rows.first else { return nil }
        let (seq, hash) = try row.decode((Int64, ByteBuffer).self)
        return ChainHead(seq: seq, hash: ChainHash(unchecked: Array(buffer: hash)))
    }

    /// Runs `body` on the connection, one call at a time, turning failures into read errors
    /// that name the server's reason (never the query's values).
    private func run<T>(_ body: (PostgresConnection, Logger) throws -> T) throws(StoreError) -> T {
        do {
            return try lock.withLock { try body(connection, logger) }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "the PostgreSQL log at \(location) failed: \(Self.reason(error))")
        }
    }

    /// The server's message of a failure, without the query (which may hold entry content).
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError, let message = error.serverInfo?[.message] { return message }
        return String(describing: type(of: error))
    }
}
