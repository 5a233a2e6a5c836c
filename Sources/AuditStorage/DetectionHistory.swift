public import AuditChain
public import AuditCore

/// The log's stored history, as anomaly detection reads it to judge a late record in its own
/// time window: the entries of a patient or a user in a range of sequence numbers.
///
/// Live detection reads it inside the append (``LogReader``); `caretrail alerts scan` reads it
/// from one snapshot of the log. Both ask only for entries before the one being judged, so
/// both see exactly what was stored when it arrived, and raise the same alerts.
public protocol DetectionHistory {
    /// The sequence numbers before `seq` recorded while events of `(after, through]` could
    /// still arrive on time; `nil` when there are none.
    func recordedRange(eventAfter after: Timestamp, through: Timestamp, before seq: Int64, skewMS: Int64) throws -> ClosedRange<Int64>?
    /// The entries before `seq` that accessed `patient`, with event time in `(after, through]`.
    func entries(
        patient: String, eventAfter after: Timestamp, through: Timestamp, before seq: Int64, recorded: ClosedRange<Int64>?
    ) throws -> [StoredEntry]
    /// The entries before `seq` of `user`, with event time in `(after, through]`.
    func entries(
        user: String, eventAfter after: Timestamp, through: Timestamp, before seq: Int64, recorded: ClosedRange<Int64>?
    ) throws -> [StoredEntry]
    /// Whether the log may hold a tool call before `seq`. `false` is a promise that it holds
    /// none, so that a backfill into a new log skips reading a history that cannot exist;
    /// `true` may be said whenever finding out would cost more than reading.
    func mayHoldToolCalls(before seq: Int64) throws -> Bool
}
