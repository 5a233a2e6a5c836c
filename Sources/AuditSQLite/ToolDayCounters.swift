import AuditStorage
import Foundation
import GRDB
import GRDBSQLite

/// The per-tool, per-day counters one batch adds, merged into `tool_day`,
/// `tool_day_duration` and `tool_day_user` at the end of the batch.
struct ToolDayCounters {
    struct Key: Hashable {
        var tool: String
        var day: String
    }

    struct Counts {
        var calls = 0
        var failures = 0
        var timed = 0
        var durationSum = 0.0
        var buckets: [Int: Int] = [:]
        var users: Set<String> = []

        mutating func merge(_ other: Counts) {
            calls += other.calls
            failures += other.failures
            timed += other.timed
            durationSum += other.durationSum
            for (bucket, count) in other.buckets { buckets[bucket, default: 0] += count }
            users.formUnion(other.users)
        }
    }

    var days: [Key: Counts] = [:]

    mutating func add(tool: String, time: String, failed: Bool, durationMS: Double?, user: String) {
        let key = Key(tool: tool, day: String(time.prefix(10)))
        days[key, default: Counts()].calls += 1
        if failed { days[key, default: Counts()].failures += 1 }
        if let durationMS, durationMS.isFinite, durationMS >= 0 {
            days[key, default: Counts()].timed += 1
            days[key, default: Counts()].durationSum += durationMS
            days[key, default: Counts()].buckets[ToolStatistics.bucket(durationMS), default: 0] += 1
        }
        days[key, default: Counts()].users.insert(user)
    }

    /// Merges the counters into the tables and empties them.
    mutating func flush(_ db: Database) throws {
        guard !days.isEmpty else { return }
        let day = try db.cachedStatement(
            sql: """
                INSERT INTO tool_day (tool_name, day, calls, failures, timed, duration_sum) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (tool_name, day) DO UPDATE SET calls = calls + excluded.calls, failures = failures + excluded.failures,
                    timed = timed + excluded.timed, duration_sum = duration_sum + excluded.duration_sum
                """)
        let duration = try db.cachedStatement(
            sql: """
                INSERT INTO tool_day_duration (tool_name, day, bucket, calls) VALUES (?, ?, ?, ?)
                ON CONFLICT (tool_name, day, bucket) DO UPDATE SET calls = calls + excluded.calls
                """)
        let user = try db.cachedStatement(sql: "INSERT OR IGNORE INTO tool_day_user (tool_name, day, user_id) VALUES (?, ?, ?)")
        for (key, counts) in days {
            try day.execute(arguments: [key.tool, key.day, counts.calls, counts.failures, counts.timed, counts.durationSum])
            for (bucket, calls) in counts.buckets { try duration.execute(arguments: [key.tool, key.day, bucket, calls]) }
            for id in counts.users { try user.execute(arguments: [key.tool, key.day, id]) }
        }
        days = [:]
    }
}
