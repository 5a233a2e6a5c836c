public import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// Appends a batch atomically and durably, sharing the commit with batches that other tasks
    /// of this process append at the same time.
    public func append(_ batch: [EncodedEntry]) async throws -> AppendReceipt {
        try await committer.submit(batch, store: self)
    }

    /// Appends a batch atomically and durably in a transaction of its own, blocking the caller.
    public func appendNow(_ batch: [EncodedEntry]) throws(StoreError) -> AppendReceipt {
        guard !batch.isEmpty else { throw StoreError(code: .appendFailed, message: "nothing to append") }
        // swift-format-ignore: NeverForceUnwrap
        return try commit([batch])[0].get()
    }

    /// Appends everything `produce` hands to its sink in one transaction: all of it, or none.
    public func appendAll(
        _ produce: (_ append: ([EncodedEntry]) throws -> Void) throws -> Void
    ) throws -> (count: Int64, derived: Int64, head: ChainHead?) {
        do {
            return try pool.lend { connection in
                try appending(connection, pool.logger) { sink in
                    try produce { entries in try sink.append(entries) }
                    return (sink.appended, sink.derived, sink.head)
                }
            }
        } catch {
            observer?.appendRolledBack()
            // The producer's own errors (bad input) pass through; the database's are append failures.
            if error is PSQLError { throw StoreError(code: .appendFailed, message: "nothing was appended: \(Self.reason(error))") }
            throw error
        }
    }

    /// Commits several batches in one transaction. A batch the log cannot take fails alone;
    /// if the commit fails, every batch fails.
    func commit(_ batches: [[EncodedEntry]]) -> [Result<AppendReceipt, StoreError>] {
        commit(taking: { batches })
    }

    /// Commits, in one transaction, the batches `take` returns once the transaction holds the
    /// log's lock: what arrived while it waited for another server's commit goes into this one.
    /// Returns one result per batch taken (`take` is called exactly once).
    func commit(taking take: () -> [[EncodedEntry]]) -> [Result<AppendReceipt, StoreError>] {
        var taken: [[EncodedEntry]]?
        // Other servers' entries are replayed through the observer from a snapshot first,
        // outside the lock, so that inside it only what they committed meanwhile is.
        if observer != nil { _ = try? prepareObserver() }
        do {
            return try withConnection { connection, logger in
                try appending(connection, logger) { sink in
                    let batches = take()
                    taken = batches
                    var results: [Result<AppendReceipt, StoreError>] = []
                    for batch in batches {
                        // A batch the log cannot take fails alone, before anything of it is written;
                        // a failure of the database fails the whole commit (every batch).
                        if batches.count > 1, let refusal = PostgresAppendSink.refusal(batch) {
                            results.append(.failure(refusal))
                            continue
                        }
                        let receipts = try sink.append(batch)
                        results.append(.success(AppendReceipt(entries: receipts, head: sink.head)))
                    }
                    return results
                }
            }
        } catch {
            observer?.appendRolledBack()
            let failure = StoreError(code: .appendFailed, message: "nothing was appended: \(Self.reason(error))")
            return (taken ?? take()).map { _ in .failure(failure) }
        }
    }

    /// Runs `body` with an append sink inside a transaction that holds the log's advisory lock
    /// and starts from the head read under it; commits when `body` returns.
    func appending<T>(_ connection: PostgresConnection, _ logger: Logger, _ body: (inout PostgresAppendSink) throws -> T) throws -> T {
        // BEGIN and the lock with the head sent together: one round trip. The function takes
        // the lock, then reads the head in a statement of its own, after the lock is held.
        let begin = connection.query("BEGIN", logger: logger)
        let opened = connection.query("SELECT seq, entry_hash, month FROM caretrail_begin_append()", logger: logger)
        do {
            _ = try begin.wait()
            let row = try opened.wait().rows.first
            let (seq, hash, month) = try row?.decode((Int64?, ByteBuffer?, String?).self) ?? (nil, nil, nil)
            let head = seq.flatMap { seq in hash.map { ChainHead(seq: seq, hash: ChainHash(unchecked: Array(buffer: $0))) } }
            // What other servers appended since this one's last append is read now, before
            // anything of this transaction waits to be sent.
            if let observer, let head {
                try observer.catchUp(through: head.seq, reader: PostgresLogReader(connection: connection, logger: logger))
            }
            var sink = PostgresAppendSink(connection: connection, logger: logger, store: self, head: head)
            sink.openMonth = month
            let result = try body(&sink)
            // The rows and COMMIT sent together: one round trip. A failed insert aborts the
            // transaction, and its COMMIT then rolls back; the insert's error is what is thrown.
            let inserted = try sink.pending.send()
            let commit = connection.query("COMMIT", logger: logger)
            do {
                _ = try inserted?.wait()
            } catch {
                _ = try? commit.wait()
                throw error
            }
            _ = try commit.wait()
            return result
        } catch {
            _ = try? connection.run("ROLLBACK", logger)
            throw error
        }
    }
}

/// Appends entries inside an open transaction that holds the log's advisory lock: links each
/// entry to the head it carries and inserts, per batch, one statement per table (the spine,
/// the canonical bytes, the keys, the tool-call counts), then runs the store's observer.
struct PostgresAppendSink {
    let connection: PostgresConnection
    let logger: Logger
    let store: PostgresStore
    var head: ChainHead?
    /// The month of the partition entries go into (`YYYY-MM`), `nil` before the first.
    var openMonth: String?
    /// Rows appended and not yet sent.
    let pending: PendingRows
    private(set) var appended: Int64 = 0
    private(set) var derived: Int64 = 0
    private var buffer: [UInt8] = []

    init(connection: PostgresConnection, logger: Logger, store: PostgresStore, head: ChainHead?) {
        self.connection = connection
        self.logger = logger
        self.store = store
        self.head = head
        self.pending = PendingRows(connection: connection, logger: logger)
    }

    /// Appends entries in order, then what the store's ``AppendObserver`` derives from them
    /// (alerts); returns the `(seq, hash)` of each of `entries`.
    @discardableResult
    mutating func append(_ entries: [EncodedEntry]) throws -> [ChainHead] {
        guard !entries.isEmpty else { return [] }
        let recordedAt = store.clock().description
        var observed = try insert(entries, recordedAt: recordedAt)
        let receipts = observed.map { ChainHead(seq: $0.seq, hash: $0.entryHash) }
        guard let observer = store.observer else { return receipts }
        while true {
            let more = try observer.entriesAppended(
                observed, reader: PostgresLogReader(connection: connection, logger: logger, pending: pending))
            if more.isEmpty { break }
            observed = try insert(more, recordedAt: recordedAt)
            derived += Int64(more.count)
            appended -= Int64(more.count)
        }
        return receipts
    }

    private mutating func insert(_ entries: [EncodedEntry], recordedAt: String) throws -> [StoredEntry] {
        let first = (head?.seq ?? 0) + 1
        let month = String(recordedAt.prefix(7))
        if openMonth.map({ month > $0 }) ?? true {
            try pending.flush()
            try connection.run("SELECT caretrail_open_partition(\(first), \(month))", logger)
            openMonth = month
        }
        var stored: [StoredEntry] = []
        stored.reserveCapacity(entries.count)
        for entry in entries {
            try Self.checkVocabulary(entry)
            let seq = (head?.seq ?? 0) + 1
            let prev = head?.hash ?? .genesis
            let hash = store.hasher.hash(seq: seq, recordedAt: recordedAt, prevHash: prev, content: entry, buffer: &buffer)
            let storedEntry = StoredEntry(seq: seq, recordedAt: recordedAt, prevHash: prev, entryHash: hash, content: entry)
            pending.chain.add(seq: seq, prev: prev, hash: hash, recordedAt: recordedAt)
            pending.content.add(storedEntry, canonical: buffer)
            stored.append(storedEntry)
            head = ChainHead(seq: seq, hash: hash)
            appended += 1
        }
        return stored
    }

    /// Why the log cannot take `batch`, if it cannot.
    static func refusal(_ batch: [EncodedEntry]) -> StoreError? {
        for entry in batch {
            do { try checkVocabulary(entry) } catch let error as StoreError { return error } catch { return nil }
        }
        return nil
    }

    /// Refuses an entry whose kind, action or outcome is not one the log knows.
    private static func checkVocabulary(_ entry: EncodedEntry) throws {
        guard RecordKind.allCases.contains(entry.kind) else {
            throw StoreError(code: .appendFailed, message: "unknown kind \(entry.kind.rawValue)")
        }
        if let action = entry.action, !ToolAction.allCases.contains(action) {
            throw StoreError(code: .appendFailed, message: "unknown action \(action.rawValue)")
        }
        if let outcome = entry.outcome, !Outcome.allCases.contains(outcome) {
            throw StoreError(code: .appendFailed, message: "unknown outcome \(outcome.rawValue)")
        }
    }
}

/// The rows a transaction's appends have made but not yet sent: sent in one statement when the
/// transaction commits, or before anything in it reads the log (the observer's reader, a month's
/// partition opening), so that reads see every entry appended before them. A commit of many
/// callers' batches thus costs one round trip for its rows, not one per batch.
final class PendingRows {
    let connection: PostgresConnection
    let logger: Logger
    var chain = ChainColumns()
    var content = ContentColumns()

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Sends the rows, if any, and waits for them to be inserted.
    func flush() throws {
        _ = try send()?.wait()
    }

    /// Sends the rows, if any: the four inserts as data-modifying parts of one query. Returns
    /// the query's result to come.
    func send() throws -> EventLoopFuture<PostgresQueryResult>? {
        guard !chain.seqs.isEmpty else { return nil }
        defer { (chain, content) = (ChainColumns(), ContentColumns()) }
        let calls = content.calls
        let counters = ToolDayColumns(calls)
        return connection.query(
            """
            WITH spine AS (
                INSERT INTO caretrail_chain (seq, prev_hash, entry_hash, recorded_at) \
                SELECT * FROM unnest(\(chain.seqs)::bigint[], \(chain.prevs)::bytea[], \(chain.hashes)::bytea[], \(chain.times)::text[])
            ), content AS (
                INSERT INTO caretrail_entry (seq, kind, canonical) \
                SELECT * FROM unnest(\(content.seqs)::bigint[], \(content.kinds)::text[], \(content.canonicals)::bytea[])
            ), keys AS (
                INSERT INTO caretrail_key (kind, key, seq, event_time) \
                SELECT * FROM unnest(\(content.keyKinds)::smallint[], \(content.keyValues)::text[], \(content.keySeqs)::bigint[], \
                \(content.keyTimes)::text[])
            ), accesses AS (
                INSERT INTO caretrail_access (patient, seq, record) \
                SELECT * FROM unnest(\(content.accessPatients)::text[], \(content.accessSeqs)::bigint[], \(content.accessRecords)::bytea[])
            ), calls AS (
                INSERT INTO caretrail_call (seq, tool_name, day, failed, duration_ms, user_id) \
                SELECT x.s, x.t, x.d, x.f, nullif(x.ms, -1), x.u \
                FROM unnest(\(calls.seqs)::bigint[], \(calls.tools)::text[], \(calls.days)::text[], \(calls.failed)::boolean[], \
                \(calls.durations)::double precision[], \(calls.users)::text[]) AS x(s, t, d, f, ms, u)
            ), tool_days AS (
                INSERT INTO caretrail_tool_day AS c (tool_name, day, calls, failures, timed, duration_sum) \
                SELECT * FROM unnest(\(counters.tools)::text[], \(counters.days)::text[], \(counters.calls)::bigint[], \
                \(counters.failures)::bigint[], \(counters.timed)::bigint[], \(counters.durationSums)::double precision[]) \
                ON CONFLICT (tool_name, day) DO UPDATE SET calls = c.calls + excluded.calls, failures = c.failures + excluded.failures, \
                timed = c.timed + excluded.timed, duration_sum = c.duration_sum + excluded.duration_sum
            ), tool_durations AS (
                INSERT INTO caretrail_tool_day_duration AS c (tool_name, day, bucket, calls) \
                SELECT * FROM unnest(\(counters.bucketTools)::text[], \(counters.bucketDays)::text[], \(counters.buckets)::bigint[], \
                \(counters.bucketCalls)::bigint[]) \
                ON CONFLICT (tool_name, day, bucket) DO UPDATE SET calls = c.calls + excluded.calls
            ), tool_users AS (
                INSERT INTO caretrail_tool_day_user (tool_name, day, user_id) \
                SELECT * FROM unnest(\(counters.userTools)::text[], \(counters.userDays)::text[], \(counters.users)::text[]) \
                ON CONFLICT DO NOTHING
            )
            SELECT 1
            """, logger: logger)
    }

}

/// The spine's columns of a batch, bound as arrays.
struct ChainColumns {
    var seqs: [Int64] = []
    var prevs: [ByteBuffer] = []
    var hashes: [ByteBuffer] = []
    var times: [String] = []

    mutating func add(seq: Int64, prev: ChainHash, hash: ChainHash, recordedAt: String) {
        seqs.append(seq)
        prevs.append(ByteBuffer(bytes: prev.bytes))
        hashes.append(ByteBuffer(bytes: hash.bytes))
        times.append(recordedAt)
    }
}

/// The content columns of a batch (canonical bytes, keys, tool-call counts), bound as arrays.
struct ContentColumns {
    var seqs: [Int64] = []
    var kinds: [String] = []
    var canonicals: [ByteBuffer] = []
    var keyKinds: [Int16] = []
    var keyValues: [String] = []
    var keySeqs: [Int64] = []
    var keyTimes: [String] = []
    /// Each patient's report record of the entry (``AccessRecord``).
    var accessPatients: [String] = []
    var accessSeqs: [Int64] = []
    var accessRecords: [ByteBuffer] = []
    var calls = CallColumns()

    mutating func add(_ entry: StoredEntry, canonical: [UInt8]) {
        seqs.append(entry.seq)
        kinds.append(entry.content.kind.rawValue)
        canonicals.append(ByteBuffer(bytes: canonical))
        let keys = EntryKeys(entry)
        let time = entry.content.timestamp ?? entry.recordedAt
        for (kind, value) in keys.keys {
            keyKinds.append(Int16(kind.rawValue))
            keyValues.append(value)
            keySeqs.append(entry.seq)
            keyTimes.append(time)
        }
        addAccesses(of: entry, keys: keys)
        if entry.content.kind == .toolCall, let tool = entry.content.toolName {
            calls.seqs.append(entry.seq)
            calls.tools.append(tool)
            calls.days.append(String(time.prefix(10)))
            calls.failed.append(entry.content.outcome == .failure)
            let duration = keys.scan?.durationMS.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
            calls.durations.append(duration ?? -1)
            calls.users.append(entry.content.userID)
        }
    }

    /// Files the entry's report record under each of its patients.
    mutating func addAccesses(of entry: StoredEntry, keys: EntryKeys) {
        let patients = keys.keys.filter { $0.0 == .patient }
        guard !patients.isEmpty else { return }
        var bytes: [UInt8] = []
        AccessRecord.append(AccessRow(reporting: entry), to: &bytes)
        let record = ByteBuffer(bytes: bytes)
        for (_, patient) in patients {
            accessPatients.append(patient)
            accessSeqs.append(entry.seq)
            accessRecords.append(record)
        }
    }
}

/// What tool statistics count of each tool call; a duration of -1 stands for none.
struct CallColumns {
    var seqs: [Int64] = []
    var tools: [String] = []
    var days: [String] = []
    var failed: [Bool] = []
    var durations: [Double] = []
    var users: [String] = []
}

/// The counters per tool and day that a batch of tool calls adds, one row per key (an
/// `INSERT … ON CONFLICT DO UPDATE` may not touch a row twice), in the order keys first appear.
struct ToolDayColumns {
    var tools: [String] = []
    var days: [String] = []
    var calls: [Int64] = []
    var failures: [Int64] = []
    var timed: [Int64] = []
    var durationSums: [Double] = []
    var bucketTools: [String] = []
    var bucketDays: [String] = []
    var buckets: [Int64] = []
    var bucketCalls: [Int64] = []
    var userTools: [String] = []
    var userDays: [String] = []
    var users: [String] = []

    private struct Key: Hashable {
        var tool: String
        var day: String
    }

    private struct BucketKey: Hashable {
        var key: Key
        var bucket: Int
    }

    private struct UserKey: Hashable {
        var key: Key
        var user: String
    }

    init(_ columns: CallColumns) {
        var rows: [Key: Int] = [:]
        var bucketRows: [BucketKey: Int] = [:]
        var seenUsers: Set<UserKey> = []
        for index in columns.seqs.indices {
            let key = Key(tool: columns.tools[index], day: columns.days[index])
            let row: Int
            if let existing = rows[key] {
                row = existing
            } else {
                row = tools.count
                rows[key] = row
                tools.append(key.tool)
                days.append(key.day)
                calls.append(0)
                failures.append(0)
                timed.append(0)
                durationSums.append(0)
            }
            calls[row] += 1
            if columns.failed[index] { failures[row] += 1 }
            let duration = columns.durations[index]
            if duration >= 0 {
                timed[row] += 1
                durationSums[row] += duration
                let bucketKey = BucketKey(key: key, bucket: ToolStatistics.bucket(duration))
                if let bucketRow = bucketRows[bucketKey] {
                    bucketCalls[bucketRow] += 1
                } else {
                    bucketRows[bucketKey] = buckets.count
                    bucketTools.append(key.tool)
                    bucketDays.append(key.day)
                    buckets.append(Int64(bucketKey.bucket))
                    bucketCalls.append(1)
                }
            }
            if seenUsers.insert(UserKey(key: key, user: columns.users[index])).inserted {
                userTools.append(key.tool)
                userDays.append(key.day)
                users.append(columns.users[index])
            }
        }
    }
}

/// Groups appends that arrive while a commit is running, or waiting for another server's
/// commit, into the next commit; commits run on a queue of their own, so that the callers'
/// tasks suspend rather than block.
final class PostgresGroupCommitter: Sendable {
    typealias Waiter = (batch: [EncodedEntry], continuation: CheckedContinuation<AppendReceipt, any Error>)
    private let state = NIOLockedValueBox<(waiting: [Waiter], draining: Bool)>(([], false))
    private let queue = DispatchQueue(label: "caretrail.postgres.commit")

    func submit(_ batch: [EncodedEntry], store: PostgresStore) async throws -> AppendReceipt {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLockedValue { state -> Bool in
                state.waiting.append((batch, continuation))
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            if start { queue.async { self.drain(store) } }
        }
    }

    private func drain(_ store: PostgresStore) {
        while true {
            var taken: [Waiter] = []
            let results = store.commit(taking: {
                taken = state.withLockedValue { state in
                    defer { state.waiting = [] }
                    return state.waiting
                }
                return taken.map(\.batch)
            })
            for (waiter, result) in zip(taken, results) {
                waiter.continuation.resume(with: result.mapError { $0 as any Error })
            }
            let more = state.withLockedValue { state -> Bool in
                if state.waiting.isEmpty { state.draining = false }
                return state.draining
            }
            if !more { return }
        }
    }
}
