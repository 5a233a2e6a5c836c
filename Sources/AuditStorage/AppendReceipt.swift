public import AuditChain

/// What an append made durable: each entry's place in the chain, and the new head.
public struct AppendReceipt: Sendable, Hashable {
    /// One `(seq, hash)` per appended entry, in order.
    public var entries: [ChainHead]
    /// The head after the append.
    public var head: ChainHead?

    public init(entries: [ChainHead], head: ChainHead?) {
        self.entries = entries
        self.head = head
    }
}
