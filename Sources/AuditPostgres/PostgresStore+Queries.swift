public import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// How many entries one read of a streamed answer fetches.
    static let page = 1_000

    /// Entries answering `query` with event time in `from...to`, through the keys, which
    /// carry each entry's event time; read a page at a time.
    public func forEachEntry(
        _ query: EntryQuery, from: Timestamp?, to: Timestamp?, limit: Int, _ body: (StoredEntry) throws -> Void
    ) throws(StoreError) {
        let (kind, key) = EntryKeys.key(query)
        let lower = from?.description ?? ""
        let upper = to?.description ?? "~"
        var after: Int64 = 0
        var remaining = limit
        while remaining > 0 {
            let entries = try withConnection { connection, logger in
                try Self.decode(
                    connection.rows(
                        """
                        SELECT e.seq, c.entry_hash, e.canonical FROM caretrail_key k JOIN caretrail_entry e ON e.seq = k.seq \
                        JOIN caretrail_chain c ON c.seq = k.seq \
                        WHERE k.kind = \(Int16(kind.rawValue)) AND k.key = \(key) AND k.seq > \(after) \
                        AND k.event_time >= \(lower) AND k.event_time <= \(upper) ORDER BY k.seq LIMIT \(Int64(min(remaining, Self.page)))
                        """, logger))
            }
            for entry in entries { try call(body, entry) }
            guard let last = entries.last, entries.count == min(remaining, Self.page) else { return }
            remaining -= entries.count
            after = last.seq
        }
    }

    /// The entries answering `query` with `after < seq <= through`, in seq order, until `body`
    /// returns `false`; read a page at a time.
    public func forEachEntry(_ query: EntryQuery, after: Int64, through: Int64, _ body: (StoredEntry) throws -> Bool) throws(StoreError) {
        let (kind, key) = EntryKeys.key(query)
        var cursor = after
        while cursor < through {
            let entries = try withConnection { connection, logger in
                try Self.decode(
                    connection.rows(
                        """
                        SELECT e.seq, c.entry_hash, e.canonical FROM caretrail_key k JOIN caretrail_entry e ON e.seq = k.seq \
                        JOIN caretrail_chain c ON c.seq = k.seq \
                        WHERE k.kind = \(Int16(kind.rawValue)) AND k.key = \(key) AND k.seq > \(cursor) AND k.seq <= \(through) \
                        ORDER BY k.seq LIMIT \(Int64(Self.page))
                        """, logger))
            }
            for entry in entries where try !call(body, entry) { return }
            guard let last = entries.last, entries.count == Self.page else { return }
            cursor = last.seq
        }
    }

    public func patientSeqs(_ patient: String) throws(StoreError) -> [Int64] {
        try withConnection { connection, logger in
            try connection.rows(
                "SELECT seq FROM caretrail_key WHERE kind = \(Int16(EntryKeys.Kind.patient.rawValue)) AND key = \(patient) ORDER BY seq",
                logger
            ).map { try $0.decode(Int64.self) }
        }
    }

    /// Per-tool statistics over the UTC days `fromDay...toDay`, for one tool or all, summed from
    /// the counters per tool and day that appends keep (as SQLite keeps them): a question costs
    /// the days and tools it covers, not the calls; the 95th percentile from the same 2%-wide
    /// buckets SQLite keeps.
    public func toolStatistics(tool: String?, fromDay: String?, toDay: String?) throws(StoreError) -> [ToolStatistics] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        for (column, comparison, value) in [("tool_name", "=", tool), ("day", ">=", fromDay), ("day", "<=", toDay)] {
            guard let value else { continue }
            binds.append(value)
            conditions.append("\(column) \(comparison) $\(binds.count)")
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return try withConnection { connection, logger in
            var totals: [String: (calls: Int64, failures: Int64, timed: Int64, sum: Double)] = [:]
            let counts = PostgresQuery(
                unsafeSQL: "SELECT tool_name, sum(calls)::bigint, sum(failures)::bigint, sum(timed)::bigint, sum(duration_sum) "
                    + "FROM caretrail_tool_day" + filter + " GROUP BY tool_name",
                binds: binds)
            for row in try connection.rows(counts, logger) {
                let (name, calls, failures, timed, sum) = try row.decode((String, Int64, Int64, Int64, Double).self)
                totals[name] = (calls, failures, timed, sum)
            }
            var users: [String: Int64] = [:]
            let distinctUsers = PostgresQuery(
                // Distinct pairs first: hashed, where `count(DISTINCT …)` sorts (4× slower).
                unsafeSQL: "SELECT tool_name, count(*)::bigint FROM (SELECT DISTINCT tool_name, user_id FROM caretrail_tool_day_user"
                    + filter + ") AS pairs GROUP BY tool_name",
                binds: binds)
            for row in try connection.rows(distinctUsers, logger) {
                let (name, count) = try row.decode((String, Int64).self)
                users[name] = count
            }
            var buckets: [String: [Int: Int]] = [:]
            let durations = PostgresQuery(
                unsafeSQL: "SELECT tool_name, bucket, sum(calls)::bigint FROM caretrail_tool_day_duration" + filter + " GROUP BY 1, 2",
                binds: binds)
            for row in try connection.rows(durations, logger) {
                let (name, bucket, count) = try row.decode((String, Int64, Int64).self)
                buckets[name, default: [:]][Int(bucket), default: 0] += Int(count)
            }
            return totals.keys.sorted().compactMap { name in
                guard let total = totals[name], total.calls > 0 else { return nil }
                return ToolStatistics(
                    toolName: name, calls: total.calls, failures: total.failures, timedCalls: total.timed,
                    meanDurationMS: total.timed > 0 ? total.sum / Double(total.timed) : nil,
                    p95DurationMS: ToolStatistics.percentile95(buckets[name] ?? [:], of: Int(total.timed)), uniqueUsers: users[name] ?? 0)
            }
        }
    }

    // MARK: Stream cursors

    public func streamCursor(_ destination: String) throws(StoreError) -> Int64 {
        try withConnection { connection, logger in
            try connection.rows("SELECT seq FROM caretrail_stream_cursor WHERE destination = \(destination)", logger).first?
                .decode(Int64.self) ?? 0
        }
    }

    public func setStreamCursor(_ destination: String, to seq: Int64) throws(StoreError) {
        try withConnection { connection, logger in
            try connection.run(
                """
                INSERT INTO caretrail_stream_cursor (destination, seq) VALUES (\(destination), \(seq)) \
                ON CONFLICT (destination) DO UPDATE SET seq = excluded.seq
                """, logger)
        }
    }

    /// Calls `body`, whose errors are the caller's, from inside a connection's closure.
    func call<T, R>(_ body: (T) throws -> R, _ value: T) throws(StoreError) -> R {
        do {
            return try body(value)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "reading the log stopped: \(Self.reason(error))")
        }
    }
}
