import Foundation

/// The proof that entry `leafIndex + 1` is in the log of `treeSize` entries whose Merkle root is
/// `root`: what `caretrail proof inclusion` prints and a bundle carries for each entry.
public struct InclusionProof: Sendable, Equatable {
    public var leafIndex: Int64
    public var treeSize: Int64
    public var leafHash: ChainHash
    /// The audit path, from the leaf upwards.
    public var hashes: [ChainHash]
    public var root: ChainHash

    public init(leafIndex: Int64, treeSize: Int64, leafHash: ChainHash, hashes: [ChainHash], root: ChainHash) {
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.leafHash = leafHash
        self.hashes = hashes
        self.root = root
    }

    /// Checks the path against the root, as RFC 9162 says.
    public func verify() throws(MerkleProof.Failure) {
        try MerkleProof.verifyInclusion(index: leafIndex, size: treeSize, leafHash: leafHash, path: hashes, root: root)
    }

    /// The JSON object of the command line and the HTTP API, hashes in base64, members in a
    /// fixed order.
    public var json: String {
        "{\"leaf_index\":\(leafIndex),\"tree_size\":\(treeSize),\"leaf_hash\":\"\(leafHash.base64)\","
            + "\"hashes\":[\(hashes.map { "\"\($0.base64)\"" }.joined(separator: ","))],\"root\":\"\(root.base64)\"}"
    }
}

/// The proof that the log of `toSize` entries extends the log of `fromSize` entries: what
/// shows that nothing a checkpoint covered was rewritten or removed since.
public struct ConsistencyProof: Sendable, Equatable {
    public var fromSize: Int64
    public var toSize: Int64
    public var hashes: [ChainHash]
    public var fromRoot: ChainHash
    public var toRoot: ChainHash

    public init(fromSize: Int64, toSize: Int64, hashes: [ChainHash], fromRoot: ChainHash, toRoot: ChainHash) {
        self.fromSize = fromSize
        self.toSize = toSize
        self.hashes = hashes
        self.fromRoot = fromRoot
        self.toRoot = toRoot
    }

    public func verify() throws(MerkleProof.Failure) {
        try MerkleProof.verifyConsistency(from: fromSize, to: toSize, oldRoot: fromRoot, newRoot: toRoot, proof: hashes)
    }

    public var json: String {
        "{\"from_size\":\(fromSize),\"to_size\":\(toSize),\"hashes\":[\(hashes.map { "\"\($0.base64)\"" }.joined(separator: ","))],"
            + "\"from_root\":\"\(fromRoot.base64)\",\"to_root\":\"\(toRoot.base64)\"}"
    }
}

extension ChainHash {
    /// Standard base64 (RFC 4648 section 4), as checkpoints and proofs write hashes.
    public var base64: String { Data(bytes).base64EncodedString() }

    /// Reads a hash from standard base64; `nil` unless it decodes to 32 bytes.
    public init?(base64: String) {
        guard let data = Data(base64Encoded: base64) else { return nil }
        self.init(bytes: [UInt8](data))
    }
}

extension MerkleTree {
    /// The proofs that each entry of `seqs` is in the tree of `treeSize` entries, with that
    /// tree's root, from one source (the nodes near the root are read once): what every
    /// backend answers for proofs and bundles. `nil` names the first entry outside the tree.
    public static func inclusionProofs<Source: MerkleNodeSource>(
        seqs: [Int64], treeSize: Int64, from source: inout Source
    ) throws(Source.Failure) -> Result<[InclusionProof], OutsideTree> {
        let root = try MerkleTree.root(size: treeSize, from: &source)
        var proofs: [InclusionProof] = []
        proofs.reserveCapacity(seqs.count)
        for seq in seqs {
            guard seq >= 1, seq <= treeSize, let path = try inclusionProof(index: seq - 1, size: treeSize, from: &source) else {
                return .failure(OutsideTree(seq: seq, treeSize: treeSize))
            }
            let leaf = try source.hash(of: MerkleNode(level: 0, index: seq - 1))
            proofs.append(InclusionProof(leafIndex: seq - 1, treeSize: treeSize, leafHash: leaf, hashes: path, root: root))
        }
        return .success(proofs)
    }

    /// The proof that the tree of `to` entries extends the tree of `from`, with both roots;
    /// `nil` unless `0 < from ≤ to`.
    public static func consistency<Source: MerkleNodeSource>(
        from: Int64, to: Int64, from source: inout Source
    ) throws(Source.Failure) -> ConsistencyProof? {
        guard let proof = try consistencyProof(from: from, to: to, from: &source) else { return nil }
        let fromRoot = try root(size: from, from: &source)
        let toRoot = try root(size: to, from: &source)
        return ConsistencyProof(fromSize: from, toSize: to, hashes: proof, fromRoot: fromRoot, toRoot: toRoot)
    }

    /// An entry asked of a tree that does not hold it.
    public struct OutsideTree: Error, Sendable, Hashable {
        public var seq: Int64
        public var treeSize: Int64
    }
}
