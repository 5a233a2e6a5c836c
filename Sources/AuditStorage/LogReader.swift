public import AuditChain
public import AuditCore

/// Read access to the log in one transaction: inside an append, for an ``AppendObserver``,
/// or over a read snapshot (``EntryReading/withLogReader(_:)``).
public protocol LogReader: DetectionHistory {
    /// The entries with `seq` from `first` through `last`, in order.
    func entries(from first: Int64, through last: Int64) throws -> [StoredEntry]
    /// The first `seq` in `1...last` whose `recorded_at` is at or after `time` (`last + 1`
    /// when none is).
    func firstSeq(recordedAtOrAfter time: String, through last: Int64) throws -> Int64
    /// The chain's head in this transaction.
    func head() throws -> ChainHead?
    /// The last entry of `kind` at or before `seq`, if any.
    func latest(_ kind: RecordKind, atOrBefore seq: Int64) throws -> StoredEntry?
}
