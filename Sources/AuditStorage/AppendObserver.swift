public import AuditChain

/// Watches every entry the store appends, inside the append's write transaction, and may
/// derive further entries from them, which the store appends in the same transaction.
///
/// CareTrail's anomaly detection is one: it raises alerts as the accesses that trigger them
/// are appended, so an acknowledged access and its alert are durable together. An observer
/// sees entries in sequence order. It is called with SQLite's write lock held, so calls never
/// overlap, across processes too; entries other processes appended since its last call can
/// be read through the ``LogReader``.
public protocol AppendObserver: AnyObject, Sendable {
    /// The entries just appended, in order; returns entries to append after them (possibly none).
    /// Derived entries are passed to the observer in turn.
    func entriesAppended(_ entries: [StoredEntry], reader: any LogReader) throws -> [EncodedEntry]

    /// The transaction that held the last entries passed in was rolled back: they are not in
    /// the log. The observer must forget what it learnt from them.
    func appendRolledBack()

    /// Brings the observer up to date with the log through `seq`, outside any append, so that
    /// the first append does not do it inside its transaction. Optional.
    func catchUp(through seq: Int64, reader: any LogReader) throws
}

extension AppendObserver {
    public func catchUp(through seq: Int64, reader: any LogReader) throws {}
}
