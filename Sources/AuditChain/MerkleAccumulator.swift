/// The Merkle tree of a growing run of leaves, kept as its right border: the roots of the
/// perfect subtrees that the leaves so far make, largest first, one per set bit of the count.
///
/// Memory stays at `log2(count)` hashes, so a reader that walks millions of archived entries
/// in order can compute RFC 6962's root at any size it passes, and check it against a
/// checkpoint with a consistency proof, without holding the leaves.
public struct MerkleAccumulator: Sendable, Hashable {
    /// The perfect subtrees' roots, largest (leftmost) first, with their leaf counts.
    private var border: [(count: Int64, hash: ChainHash)] = []
    /// How many leaves have been added.
    public private(set) var count: Int64 = 0

    public init() {}

    /// The accumulator of `count` leaves whose right border is `hashes`, largest subtree
    /// first (one hash per set bit of `count`); `nil` when the count of hashes does not fit.
    public init?(count: Int64, border hashes: [ChainHash]) {
        guard count >= 0, count.nonzeroBitCount == hashes.count else { return nil }
        var sizes: [Int64] = []
        var bit = Int64(1) << 62
        while bit > 0 {
            if count & bit != 0 { sizes.append(bit) }
            bit >>= 1
        }
        border = zip(sizes, hashes).map { (count: $0, hash: $1) }
        self.count = count
    }

    /// The roots of the perfect subtrees, largest first.
    public var borderHashes: [ChainHash] { border.map(\.hash) }

    /// Adds the leaf of the entry whose chain hash is `entryHash`.
    public mutating func append(entryHash: ChainHash) {
        var node = (count: Int64(1), hash: MerkleTree.leafHash(entryHash))
        while let last = border.last, last.count == node.count {
            border.removeLast()
            node = (last.count * 2, MerkleTree.nodeHash(last.hash, node.hash))
        }
        border.append(node)
        count += 1
    }

    /// RFC 6962's MTH of the leaves added so far: the border folded from the right.
    public var root: ChainHash {
        guard var hash = border.last?.hash else { return MerkleTree.emptyRoot }
        for node in border.dropLast().reversed() { hash = MerkleTree.nodeHash(node.hash, hash) }
        return hash
    }

    public static func == (lhs: MerkleAccumulator, rhs: MerkleAccumulator) -> Bool {
        lhs.count == rhs.count && lhs.border.map(\.hash) == rhs.border.map(\.hash)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for node in border { hasher.combine(node.hash) }
    }
}
