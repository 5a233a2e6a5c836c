/// Checks the links of a chain, chunk by chunk, and diagnoses the first place it breaks.
///
/// It is pure: the caller fetches entries and, because recomputing hashes is the costly part
/// and each entry's hash depends only on that entry, may compute the hash checks in parallel
/// and hand them in. Links and sequence numbers are then checked in order.
public struct ChainVerifier: Sendable {
    /// The last link checked, which the next entry must link to.
    public private(set) var previous: ChainLink?
    /// How many entries were checked.
    public private(set) var checkedCount: Int64 = 0

    /// Starts at the beginning of the log, or after a link already known to be good.
    public init(after previous: ChainLink? = nil) {
        self.previous = previous
    }

    /// Checks the next links, in sequence order. Returns the index of the first one where
    /// something is wrong, or `nil` when all are intact (the last becomes ``previous``).
    public mutating func check(_ links: [ChainLink]) -> Int? {
        for (index, link) in links.enumerated() {
            let expectedSeq = (previous?.seq ?? 0) + 1
            let expectedLink = previous?.entryHash ?? .genesis
            if link.seq != expectedSeq || !link.isSealed && (!link.hashIsValid || link.prevHash != expectedLink) {
                return index
            }
            previous = link
            checkedCount += 1
        }
        return nil
    }

    /// Says what is wrong at `suspect`, looking at its neighbours: `window` holds the entries
    /// around it in sequence order (at least the one before and the one after, where they exist).
    public static func diagnose(suspect: StoredEntry, before: StoredEntry?, after: StoredEntry?, hasher: EntryHasher = EntryHasher())
        -> ChainProblem
    {
        var buffer: [UInt8] = []
        let seq = suspect.seq
        let expectedSeq = (before?.seq ?? 0) + 1
        let expectedLink = before?.entryHash ?? .genesis
        let hashValid = hasher.isValid(suspect, buffer: &buffer)

        if seq != expectedSeq {
            let missing = expectedSeq == seq - 1 ? "entry \(expectedSeq) is" : "entries \(expectedSeq)–\(seq - 1) are"
            return ChainProblem(kind: .deleted, seq: expectedSeq, message: "\(missing) missing (gap in the sequence)")
        }
        if !hashValid {
            if hasher.isValid(suspect, asSeq: seq + 1, buffer: &buffer) {
                if let after, after.seq == seq + 1, hasher.isValid(after, asSeq: seq, buffer: &buffer) {
                    return ChainProblem(
                        kind: .reordered, seq: seq, message: "entries \(seq) and \(seq + 1) were swapped"
                    )
                }
                return ChainProblem(
                    kind: .deleted, seq: seq,
                    message: "an entry was removed here and the entries after it renumbered to close the gap"
                )
            }
            if seq > 1, hasher.isValid(suspect, asSeq: seq - 1, buffer: &buffer) {
                return ChainProblem(
                    kind: .inserted, seq: seq - 1,
                    message: "entry \(seq - 1) is not part of the original chain (the entries after it were renumbered)"
                )
            }
            if suspect.prevHash != expectedLink {
                return ChainProblem(
                    kind: .brokenLink, seq: seq,
                    message: "prev_hash does not match the entry before it, and the entry's hash does not match its content"
                )
            }
            return ChainProblem(
                kind: .edited, seq: seq, message: "the stored content no longer matches entry_hash (changed after it was written)"
            )
        }
        // The entry is self-consistent but does not link to its predecessor.
        if let before, suspect.prevHash == before.prevHash {
            return ChainProblem(
                kind: .inserted, seq: before.seq,
                message: "entry \(before.seq) was inserted: entry \(seq) still links to the entry before it"
            )
        }
        if let after, after.entryHash == suspect.prevHash {
            return ChainProblem(kind: .reordered, seq: seq, message: "entry \(seq) links to the entry after it")
        }
        return ChainProblem(
            kind: .brokenLink, seq: seq,
            message: seq == 1
                ? "the first entry's prev_hash is not the genesis value" : "prev_hash does not match the hash of entry \(seq - 1)"
        )
    }

    /// Checks that an earlier published head is still in the log, unchanged.
    public static func checkExpectedHead(_ expected: ChainHead, stored: StoredEntry?, currentHead: ChainHead?) -> ChainProblem? {
        guard let stored else {
            let end = currentHead.map { "the log ends at seq \($0.seq)" } ?? "the log is empty"
            return ChainProblem(
                kind: .truncated, seq: (currentHead?.seq ?? 0) + 1,
                message: "\(end), before the expected head at seq \(expected.seq): entries were cut from the end"
            )
        }
        guard stored.entryHash == expected.hash else {
            return ChainProblem(
                kind: .rewritten, seq: expected.seq,
                message: "entry \(expected.seq) no longer has the expected head's hash: the log was rewritten"
            )
        }
        return nil
    }
}

/// What the link check needs of an entry: its place, its two hashes, and whether its stored
/// hash matches its content (computed by the caller, possibly in parallel).
public struct ChainLink: Sendable, Hashable {
    public var seq: Int64
    public var prevHash: ChainHash
    public var entryHash: ChainHash
    public var hashIsValid: Bool
    /// Whether the entry is sealed: a retention run deleted its content and kept its hash,
    /// which the next entry's link and the purge record's Merkle root vouch for instead.
    public var isSealed: Bool

    public init(seq: Int64, prevHash: ChainHash, entryHash: ChainHash, hashIsValid: Bool, isSealed: Bool = false) {
        self.seq = seq
        self.prevHash = prevHash
        self.entryHash = entryHash
        self.hashIsValid = hashIsValid
        self.isSealed = isSealed
    }
}
