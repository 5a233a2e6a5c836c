import Crypto

/// The Merkle tree over the chain's entries, hashed as RFC 6962 and RFC 9162 define it, so that
/// anyone can check an inclusion or consistency proof of the log with the small, standard code
/// that checks Certificate Transparency logs.
///
/// Leaf `i` is entry `i + 1`'s hash: `leaf = SHA-256(0x00 ‖ entry hash)`, and an interior
/// node is `SHA-256(0x01 ‖ left ‖ right)`. The two prefixes keep a leaf from ever being read
/// as a node.
///
/// The tree is pure: every function here asks a ``MerkleNodeSource`` for the hashes of
/// perfect subtrees and composes them; where those come from (a store's nodes, entries read
/// back, a bundle's proof) is the caller's affair.
public enum MerkleTree {
    /// The root of the tree of no leaves: the SHA-256 of nothing.
    public static let emptyRoot: ChainHash = digest([])

    /// The leaf hash of an entry whose chain hash is `entryHash`.
    public static func leafHash(_ entryHash: ChainHash) -> ChainHash {
        withUnsafeTemporaryAllocation(byteCount: 33, alignment: 8) { input in
            input.storeBytes(of: 0, toByteOffset: 0, as: UInt8.self)
            entryHash.store(into: input, at: 1)
            return digest(UnsafeRawBufferPointer(input))
        }
    }

    /// The hash of an interior node from its two children.
    public static func nodeHash(_ left: ChainHash, _ right: ChainHash) -> ChainHash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 8) { input in
            input.storeBytes(of: 1, toByteOffset: 0, as: UInt8.self)
            left.store(into: input, at: 1)
            right.store(into: input, at: 33)
            return digest(UnsafeRawBufferPointer(input))
        }
    }

    /// The root of a perfect subtree from the hashes of its `2^k` children at one level, in
    /// order. `hashes` must not be empty and its count must be a power of two.
    public static func perfectRoot(_ hashes: [ChainHash]) -> ChainHash {
        precondition(!hashes.isEmpty && hashes.count & (hashes.count - 1) == 0, "a perfect subtree has 2^k children")
        var level = hashes
        while level.count > 1 {
            var next = [ChainHash]()
            next.reserveCapacity(level.count / 2)
            for index in stride(from: 0, to: level.count, by: 2) { next.append(nodeHash(level[index], level[index + 1])) }
            level = next
        }
        return level[0]
    }

    /// The root of the first `size` leaves: RFC 6962's MTH(D[0:size]).
    public static func root<Source: MerkleNodeSource>(size: Int64, from source: inout Source) throws(Source.Failure) -> ChainHash {
        guard size > 0 else { return emptyRoot }
        return try rangeHash(0, size, &source)
    }

    /// The root of a run of entries on its own: RFC 6962's MTH over the leaf hashes of
    /// `entryHashes`, as if they were a whole tree. A retention purge records one per range it
    /// deletes, so that the hashes it keeps stay vouched for by the chain.
    public static func root(ofEntries entryHashes: [ChainHash]) -> ChainHash {
        var level = entryHashes.map(leafHash)
        guard !level.isEmpty else { return emptyRoot }
        // MTH splits at the largest power of two below the count; pairing left to right and
        // carrying an odd last node up gives the same tree.
        while level.count > 1 {
            var next = [ChainHash]()
            next.reserveCapacity((level.count + 1) / 2)
            var index = 0
            while index + 1 < level.count {
                next.append(nodeHash(level[index], level[index + 1]))
                index += 2
            }
            if index < level.count { next.append(level[index]) }
            level = next
        }
        return level[0]
    }

    /// The audit path of leaf `index` in the tree of `size` leaves (RFC 6962 PATH), from the
    /// leaf upwards; `nil` unless `0 ≤ index < size`.
    public static func inclusionProof<Source: MerkleNodeSource>(
        index: Int64, size: Int64, from source: inout Source
    ) throws(Source.Failure) -> [ChainHash]? {
        guard index >= 0 && index < size else { return nil }
        var path: [ChainHash] = []
        try inclusionPath(index, 0, size, &source, &path)
        return path
    }

    /// The proof that the tree of `newSize` leaves extends the tree of `oldSize` (RFC 6962
    /// PROOF); empty when the sizes are equal, `nil` unless `0 < oldSize ≤ newSize`.
    public static func consistencyProof<Source: MerkleNodeSource>(
        from oldSize: Int64, to newSize: Int64, from source: inout Source
    ) throws(Source.Failure) -> [ChainHash]? {
        guard oldSize > 0 && oldSize <= newSize else { return nil }
        var proof: [ChainHash] = []
        if oldSize < newSize { try subproof(oldSize, 0, newSize, true, &source, &proof) }
        return proof
    }

    // MARK: - The recursions of RFC 6962, over leaf ranges [start, end)

    /// MTH of the leaves `[start, end)`, a range that the RFC's recursion makes: `start` is a
    /// multiple of the largest power of two below the range's size, so every left part is a
    /// perfect, aligned subtree.
    static func rangeHash<Source: MerkleNodeSource>(
        _ start: Int64, _ end: Int64, _ source: inout Source
    ) throws(Source.Failure) -> ChainHash {
        let count = end - start
        if count & (count - 1) == 0 && start % count == 0 {
            let level = count.trailingZeroBitCount
            return try source.hash(of: MerkleNode(level: level, index: start >> Int64(level)))
        }
        let split = start + largestPowerOfTwo(below: count)
        let left = try rangeHash(start, split, &source)
        return nodeHash(left, try rangeHash(split, end, &source))
    }

    private static func inclusionPath<Source: MerkleNodeSource>(
        _ index: Int64, _ start: Int64, _ end: Int64, _ source: inout Source, _ path: inout [ChainHash]
    ) throws(Source.Failure) {
        let count = end - start
        guard count > 1 else { return }
        let split = start + largestPowerOfTwo(below: count)
        if index < split {
            try inclusionPath(index, start, split, &source, &path)
            path.append(try rangeHash(split, end, &source))
        } else {
            try inclusionPath(index, split, end, &source, &path)
            path.append(try rangeHash(start, split, &source))
        }
    }

    private static func subproof<Source: MerkleNodeSource>(
        _ old: Int64, _ start: Int64, _ end: Int64, _ complete: Bool, _ source: inout Source, _ proof: inout [ChainHash]
    ) throws(Source.Failure) {
        let count = end - start
        if old == count {
            if !complete { proof.append(try rangeHash(start, end, &source)) }
            return
        }
        let half = largestPowerOfTwo(below: count)
        if old <= half {
            try subproof(old, start, start + half, complete, &source, &proof)
            proof.append(try rangeHash(start + half, end, &source))
        } else {
            try subproof(old - half, start + half, end, false, &source, &proof)
            proof.append(try rangeHash(start, start + half, &source))
        }
    }

    /// The largest power of two strictly below `count` (`count` ≥ 2).
    static func largestPowerOfTwo(below count: Int64) -> Int64 {
        Int64(1) << Int64(63 - (count - 1).leadingZeroBitCount)
    }

    static func digest(_ bytes: [UInt8]) -> ChainHash {
        bytes.withUnsafeBytes { digest($0) }
    }

    static func digest(_ bytes: UnsafeRawBufferPointer) -> ChainHash {
        SHA256.hash(data: bytes).withUnsafeBytes { raw in ChainHash(unchecked: raw.bindMemory(to: UInt8.self)) }
    }
}

/// A perfect, aligned subtree of the Merkle tree: the `2^level` leaves from
/// `index << level`. Level 0 is a leaf.
public struct MerkleNode: Sendable, Hashable, CustomStringConvertible {
    public var level: Int
    public var index: Int64

    public init(level: Int, index: Int64) {
        self.level = level
        self.index = index
    }

    /// The first leaf it covers.
    public var firstLeaf: Int64 { index << Int64(level) }
    /// How many leaves it covers.
    public var leafCount: Int64 { Int64(1) << Int64(level) }

    public var description: String { "\(level)/\(index)" }
}

/// Where the tree's functions get the hashes of perfect subtrees.
public protocol MerkleNodeSource {
    associatedtype Failure: Error
    /// The hash of `node`, whose leaves all exist.
    mutating func hash(of node: MerkleNode) throws(Failure) -> ChainHash
}

/// A source over leaf hashes held in memory: tests, bundles and small trees.
public struct InMemoryMerkleLeaves: MerkleNodeSource {
    public var leaves: [ChainHash]
    private var cache: [MerkleNode: ChainHash] = [:]

    /// `leaves` are leaf hashes (``MerkleTree/leafHash(_:)`` of entry hashes).
    public init(leaves: [ChainHash]) {
        self.leaves = leaves
    }

    public mutating func hash(of node: MerkleNode) -> ChainHash {
        if node.level == 0 { return leaves[Int(node.index)] }
        if let known = cache[node] { return known }
        let left = hash(of: MerkleNode(level: node.level - 1, index: node.index * 2))
        let right = hash(of: MerkleNode(level: node.level - 1, index: node.index * 2 + 1))
        let hash = MerkleTree.nodeHash(left, right)
        cache[node] = hash
        return hash
    }
}
