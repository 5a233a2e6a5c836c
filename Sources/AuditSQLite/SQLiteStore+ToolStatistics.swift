import AuditChain
public import AuditStorage
import Foundation
import GRDB

extension SQLiteStore {
    /// Per-tool statistics over the UTC days `fromDay...toDay` (`YYYY-MM-DD`, both optional),
    /// for one tool or all: complete blocks of entries from the counters written with their
    /// postings, the block still filling from the counters of the ``TailIndex``.
    public func toolStatistics(tool: String?, fromDay: String?, toDay: String?) throws(StoreError) -> [ToolStatistics] {
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
            var totals: [String: ToolDayCounters.Counts] = [:]
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT tool_name, sum(calls), sum(failures), sum(timed), sum(duration_sum) FROM tool_day WHERE \(filter) GROUP BY tool_name",
                arguments: arguments
            ) {
                var counts = ToolDayCounters.Counts()
                (counts.calls, counts.failures, counts.timed, counts.durationSum) = (row[1], row[2], row[3], row[4])
                totals[row[0]] = counts
            }
            for row in try Row.fetchAll(
                db, sql: "SELECT tool_name, bucket, sum(calls) FROM tool_day_duration WHERE \(filter) GROUP BY tool_name, bucket",
                arguments: arguments
            ) {
                totals[row[0], default: .init()].buckets[row[1], default: 0] += row[2]
            }
            for row in try Row.fetchAll(
                db, sql: "SELECT DISTINCT tool_name, user_id FROM tool_day_user WHERE \(filter)", arguments: arguments)
            {
                totals[row[0], default: .init()].users.insert(row[1])
            }
            // The block still filling, from the tail index's counters.
            let head = try Self.head(db)?.seq ?? 0
            for counters in try tail.toolCounters(db, after: try Postings.compactedThrough(db), last: head) {
                for (key, counts) in counters.days {
                    if let tool, key.tool != tool { continue }
                    if let fromDay, key.day < fromDay { continue }
                    if let toDay, key.day > toDay { continue }
                    totals[key.tool, default: .init()].merge(counts)
                }
            }
            return totals.keys.sorted().compactMap { name in
                guard let counts = totals[name], counts.calls > 0 else { return nil }
                return ToolStatistics(
                    toolName: name, calls: Int64(counts.calls), failures: Int64(counts.failures), timedCalls: Int64(counts.timed),
                    meanDurationMS: counts.timed > 0 ? counts.durationSum / Double(counts.timed) : nil,
                    p95DurationMS: ToolStatistics.percentile95(counts.buckets, of: counts.timed), uniqueUsers: Int64(counts.users.count)
                )
            }
        }
    }
}
