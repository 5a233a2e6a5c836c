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
