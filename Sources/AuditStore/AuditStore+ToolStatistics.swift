import Foundation
import GRDB

/// How one tool was used: calls, success rate, durations, users.
public struct ToolStatistics: Sendable, Hashable {
    public var toolName: String
    public var calls: Int64
    public var failures: Int64
    /// Calls that gave a `duration_ms`.
    public var timedCalls: Int64
    public var meanDurationMS: Double?
    /// The 95th percentile of durations, from a histogram of buckets about 2% wide (so within
    /// about 1% of the exact value).
    public var p95DurationMS: Double?
    public var uniqueUsers: Int64

    public var successRate: Double { calls == 0 ? 0 : Double(calls - failures) / Double(calls) }
}

extension AuditStore {
    /// Per-tool statistics over the UTC days `fromDay...toDay` (`YYYY-MM-DD`, both optional),
    /// for one tool or all, from the counters every append keeps: no scan of the log.
    public func toolStatistics(tool: String? = nil, fromDay: String? = nil, toDay: String? = nil) throws(StoreError) -> [ToolStatistics] {
        try read { db in
            var conditions = ["1"]
            var arguments: StatementArguments = []
            if let tool {
                conditions.append("tool_name = ?")
                arguments += [tool]
            }
            if let fromDay {
                conditions.append("day >= ?")
                arguments += [fromDay]
            }
            if let toDay {
                conditions.append("day <= ?")
                arguments += [toDay]
            }
            let filter = conditions.joined(separator: " AND ")
            var result: [String: ToolStatistics] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT tool_name, sum(calls), sum(failures), sum(timed), sum(duration_sum) FROM tool_day WHERE \(filter) GROUP BY tool_name",
                arguments: arguments
            ) {
                let timed: Int64 = row[3]
                let sum: Double = row[4]
                result[row[0]] = ToolStatistics(
                    toolName: row[0], calls: row[1], failures: row[2], timedCalls: timed,
                    meanDurationMS: timed > 0 ? sum / Double(timed) : nil, p95DurationMS: nil, uniqueUsers: 0
                )
            }
            for row in try Row.fetchAll(
                db, sql: "SELECT tool_name, count(DISTINCT user_id) FROM tool_day_user WHERE \(filter) GROUP BY tool_name",
                arguments: arguments
            ) {
                result[row[0]]?.uniqueUsers = row[1]
            }
            // Walk each tool's histogram in bucket order to the 95th percentile.
            var cumulative: [String: Int64] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT tool_name, bucket, sum(calls) FROM tool_day_duration WHERE \(filter) GROUP BY tool_name, bucket ORDER BY tool_name, bucket",
                arguments: arguments
            ) {
                let tool: String = row[0]
                guard let stats = result[tool], stats.p95DurationMS == nil, stats.timedCalls > 0 else { continue }
                let count: Int64 = row[2]
                let running = (cumulative[tool] ?? 0) + count
                cumulative[tool] = running
                // The nearest-rank percentile: the smallest value with at least 95% of calls at or below it.
                if Double(running) >= (0.95 * Double(stats.timedCalls)).rounded(.up) {
                    result[tool]?.p95DurationMS = ToolDayCounters.value(ofBucket: row[1])
                }
            }
            return result.values.sorted { $0.toolName < $1.toolName }
        }
    }
}
