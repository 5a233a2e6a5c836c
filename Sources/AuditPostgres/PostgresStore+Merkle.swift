public import AuditChain
public import AuditStorage
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

extension PostgresStore {
    public func merkleRoot(size: Int64) throws(StoreError) -> ChainHash {
        try withTree { nodes, head throws(StoreError) in
            guard size >= 0, size <= head else { throw Self.beyond(size, head) }
            return try MerkleTree.root(size: size, from: &nodes)
        }
    }

    public func inclusionProofs(seqs: [Int64], treeSize: Int64) throws(StoreError) -> [InclusionProof] {
        try withTree { nodes, head throws(StoreError) in
            guard treeSize <= head else { throw Self.beyond(treeSize, head) }
            return try StoreError.proofs(MerkleTree.inclusionProofs(seqs: seqs, treeSize: treeSize, from: &nodes))
        }
    }

    public func consistencyProof(from: Int64, to: Int64) throws(StoreError) -> ConsistencyProof {
        try withTree { nodes, head throws(StoreError) in
            guard to <= head else { throw Self.beyond(to, head) }
            guard let proof = try MerkleTree.consistency(from: from, to: to, from: &nodes) else { throw StoreError.notConsistent(from, to) }
            return proof
        }
    }

    private func withTree<T>(_ body: (inout PostgresMerkleNodes, Int64) throws(StoreError) -> T) throws(StoreError) -> T {
        let head = try self.head()?.seq ?? 0
        var nodes = PostgresMerkleNodes(store: self)
        return try body(&nodes, head)
    }

    private static func beyond(_ size: Int64, _ head: Int64) -> StoreError {
        StoreError(code: .outOfRange, message: "the log holds \(head) entries, not \(size)")
    }
}

/// The Merkle tree's perfect subtrees, computed from the spine's hashes: a subtree of up to
/// 4,096 leaves from one read of its entries' hashes, a larger one from its halves. Subtrees of
/// 256 leaves and more are kept in the store's ``MerkleNodeCache``, since a complete subtree of
/// an append-only chain never changes.
struct PostgresMerkleNodes: MerkleNodeSource {
    let store: PostgresStore
    /// The largest subtree computed from one read.
    static let readLevel = 12
    /// The smallest subtree kept in the cache.
    static let cachedLevel = 8

    mutating func hash(of node: MerkleNode) throws(StoreError) -> ChainHash {
        if let known = store.merkleCache[node] { return known }
        let hash: ChainHash
        if node.level <= Self.readLevel {
            let first = node.firstLeaf + 1
            let hashes = try store.spine(hashesFrom: first, through: first + node.leafCount - 1)
            guard hashes.count == Int(node.leafCount) else {
                throw StoreError(code: .outOfRange, message: "the log does not hold entries \(first)...\(first + node.leafCount - 1)")
            }
            let leaves = hashes.map(MerkleTree.leafHash)
            hash = node.level == 0 ? leaves[0] : MerkleTree.perfectRoot(leaves)
        } else {
            let left = try self.hash(of: MerkleNode(level: node.level - 1, index: node.index * 2))
            let right = try self.hash(of: MerkleNode(level: node.level - 1, index: node.index * 2 + 1))
            hash = MerkleTree.nodeHash(left, right)
        }
        if node.level >= Self.cachedLevel { store.merkleCache[node] = hash }
        return hash
    }
}

/// Merkle nodes already computed, shared by a store's readers.
final class MerkleNodeCache: Sendable {
    private let nodes = NIOLockedValueBox<[MerkleNode: ChainHash]>([:])

    subscript(node: MerkleNode) -> ChainHash? {
        get { nodes.withLockedValue { $0[node] } }
        set { nodes.withLockedValue { $0[node] = newValue } }
    }
}

extension PostgresStore {
    /// The entry hashes of `first...last`, from the spine.
    func spine(hashesFrom first: Int64, through last: Int64) throws(StoreError) -> [ChainHash] {
        try withConnection { connection, logger in
            try connection.rows("SELECT entry_hash FROM caretrail_chain WHERE seq BETWEEN \(first) AND \(last) ORDER BY seq", logger)
                .map { ChainHash(unchecked: Array(buffer: try $0.decode(ByteBuffer.self))) }
        }
    }
}
