/// How an agent's `timestamp` may relate to the log's own clock (`recorded_at`).
///
/// - A record dated further ahead of the log's clock than ``maximumSkewMS`` is refused as
///   `timestamp_skew`: no agent legitimately reports the future, and a record dated in year
///   2999 must not move anomaly detection's windows.
/// - A record dated more than ``latenessMS`` behind the log's clock is accepted (agents buffer
///   while offline; historical files are backfilled) and marked `"late": true` in its stored
///   body; anomaly detection judges it in its own time window against the log's stored
///   history, and the alerts it raises say that it was late.
public struct RecordTimePolicy: Sendable, Hashable {
    /// Milliseconds a `timestamp` may run ahead of the log's clock.
    public var maximumSkewMS: Int64
    /// Milliseconds behind the log's clock after which a record is marked late.
    public var latenessMS: Int64

    public init(maximumSkewMS: Int64 = IngestLimits.defaultMaximumSkewMS, latenessMS: Int64 = IngestLimits.defaultLatenessMS) {
        self.maximumSkewMS = maximumSkewMS
        self.latenessMS = latenessMS
    }

    /// Five minutes of skew, late after twenty-four hours.
    public static let standard = RecordTimePolicy()

    /// The record's `timestamp`, if it has one.
    static func timestamp(of record: IngestRecord) -> Timestamp? {
        switch record {
        case .toolCall(let call): call.timestamp
        case .agentRequest(let request): request.timestamp
        }
    }

    /// Refuses a record dated further ahead of `now` than the allowed skew.
    public func check(_ record: IngestRecord, now: Timestamp) throws(IngestError) {
        guard let timestamp = Self.timestamp(of: record) else { return }
        let (ahead, overflow) = timestamp.millisecondsSinceEpoch.subtractingReportingOverflow(now.millisecondsSinceEpoch)
        if !overflow, ahead <= maximumSkewMS { return }
        throw IngestError(
            code: .timestampSkew, field: "timestamp",
            message: "ahead of the log's clock by more than \(maximumSkewMS / 1000) seconds; check the agent's clock"
        )
    }

    /// Whether the record is dated more than ``latenessMS`` before `now`.
    public func isLate(_ record: IngestRecord, now: Timestamp) -> Bool {
        guard let timestamp = Self.timestamp(of: record) else { return false }
        let (behind, overflow) = now.millisecondsSinceEpoch.subtractingReportingOverflow(timestamp.millisecondsSinceEpoch)
        return !overflow && behind > latenessMS
    }
}
