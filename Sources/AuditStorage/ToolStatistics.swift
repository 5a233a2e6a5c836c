import Foundation

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

    public init(
        toolName: String, calls: Int64, failures: Int64, timedCalls: Int64, meanDurationMS: Double?, p95DurationMS: Double?,
        uniqueUsers: Int64
    ) {
        self.toolName = toolName
        self.calls = calls
        self.failures = failures
        self.timedCalls = timedCalls
        self.meanDurationMS = meanDurationMS
        self.p95DurationMS = p95DurationMS
        self.uniqueUsers = uniqueUsers
    }

    public var successRate: Double { calls == 0 ? 0 : Double(calls - failures) / Double(calls) }
}

extension ToolStatistics {
    /// Durations fall into buckets about 2% wide: bucket `b` holds `exp((b - 0.5) / 50) ..< exp((b + 0.5) / 50)` ms.
    package static let bucketsPerE = 50.0
    /// The bucket of durations of zero.
    package static let zeroBucket = Int(Int32.min)

    /// The bucket of a duration in milliseconds.
    package static func bucket(_ milliseconds: Double) -> Int {
        milliseconds > 0 ? Int((log(milliseconds) * bucketsPerE).rounded()) : zeroBucket
    }

    /// The representative duration of a bucket (its geometric centre).
    package static func value(ofBucket bucket: Int) -> Double {
        bucket == zeroBucket ? 0 : exp(Double(bucket) / bucketsPerE)
    }

    /// The nearest-rank 95th percentile: the smallest bucket with at least 95% of calls at or below it.
    package static func percentile95(_ buckets: [Int: Int], of count: Int) -> Double? {
        guard count > 0 else { return nil }
        let rank = Int((0.95 * Double(count)).rounded(.up))
        var running = 0
        for bucket in buckets.keys.sorted() {
            running += buckets[bucket] ?? 0
            if running >= rank { return value(ofBucket: bucket) }
        }
        return nil
    }
}
