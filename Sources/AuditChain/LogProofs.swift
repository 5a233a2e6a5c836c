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
