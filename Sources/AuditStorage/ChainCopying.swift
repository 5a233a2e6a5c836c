public import AuditChain

/// One entry of another log, as a copy carries it: its place, its hash and its canonical
/// bytes (empty for an entry whose content a retention or archive run took).
public struct CopiedEntry: Sendable, Hashable {
    public var seq: Int64
    public var entryHash: ChainHash
    /// `recorded_at`, read from the bytes; `""` for an entry without content.
    public var recordedAt: String
    public var canonical: [UInt8]

    public init(seq: Int64, entryHash: ChainHash, canonical: [UInt8]) {
        self.seq = seq
        self.entryHash = entryHash
        self.canonical = canonical
        self.recordedAt = canonical.withUnsafeBufferPointer { CanonicalEntry.text("recorded_at", in: $0) } ?? ""
    }

    /// Whether the entry's content left its log (only its hash remains).
    public var isSealed: Bool { canonical.isEmpty }

    /// The entry, decoded; `nil` when sealed.
    public var stored: StoredEntry? {
        isSealed ? nil : canonical.withUnsafeBufferPointer { CanonicalEntry.decode($0, seq: seq, entryHash: entryHash) }
    }

    /// Refuses an entry that does not follow `head`: the wrong sequence number, a link to
    /// another entry, or bytes that do not hash to its hash. A copy is verified as it is made.
    public func check(following head: ChainHead?) throws(StoreError) {
        guard seq == (head?.seq ?? 0) + 1 else {
            throw StoreError(code: .outOfRange, message: "the copy expected entry \((head?.seq ?? 0) + 1), not \(seq)")
        }
        guard !isSealed else { return }
        let (valid, link) = canonical.withUnsafeBufferPointer { bytes in
            (CanonicalEntry.hash(bytes) == entryHash, CanonicalEntry.link(bytes))
        }
        guard valid, link.seq == seq, link.prevHash == (head?.hash ?? .genesis) else {
            throw StoreError(code: .appendFailed, message: "entry \(seq) of the source does not verify: nothing of its batch was copied")
        }
    }
}

/// Receiving a copy of another log, entry for entry: how `caretrail copy` moves a log between
/// backends with the same head.
public protocol ChainCopying: Sendable {
    /// Appends `entries` at exactly their sequence numbers, hashes and `recorded_at`, each
    /// checked against the head before it (``CopiedEntry/check(following:)``), with their keys
    /// derived as for any append, in one transaction. No observer runs: the alerts of the
    /// source are among its entries. Returns the new head.
    func appendCopies(_ entries: [CopiedEntry]) throws(StoreError) -> ChainHead?
}
