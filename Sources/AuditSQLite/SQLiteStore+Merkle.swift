public import AuditChain
public import AuditStorage
import GRDB

extension SQLiteStore {
    public func merkleRoot(size: Int64) throws(StoreError) -> ChainHash {
        try readTree { db, head throws(StoreError) in
            guard size >= 0, size <= head else { throw Self.beyond(size, head) }
            var nodes = MerkleNodes(db)
            return try MerkleTree.root(size: size, from: &nodes)
        }
    }

    public func inclusionProof(seq: Int64, treeSize: Int64) throws(StoreError) -> InclusionProof {
        guard let proof = try inclusionProofs(seqs: [seq], treeSize: treeSize).first else {
            throw StoreError(code: .readFailed, message: "no proof was made")
        }
        return proof
    }

    public func inclusionProofs(seqs: [Int64], treeSize: Int64) throws(StoreError) -> [InclusionProof] {
        try readTree { db, head throws(StoreError) in
            guard treeSize <= head else { throw Self.beyond(treeSize, head) }
            // One source for all: the nodes near the root are read once.
            var nodes = MerkleNodes(db)
            let root = try MerkleTree.root(size: treeSize, from: &nodes)
            var proofs: [InclusionProof] = []
            proofs.reserveCapacity(seqs.count)
            for seq in seqs {
                guard seq >= 1, seq <= treeSize,
                    let path = try MerkleTree.inclusionProof(index: seq - 1, size: treeSize, from: &nodes)
                else { throw StoreError(code: .outOfRange, message: "entry \(seq) is not in a tree of \(treeSize) entries") }
                let leaf = try nodes.hash(of: MerkleNode(level: 0, index: seq - 1))
                proofs.append(InclusionProof(leafIndex: seq - 1, treeSize: treeSize, leafHash: leaf, hashes: path, root: root))
            }
            return proofs
        }
    }

    public func consistencyProof(from: Int64, to: Int64) throws(StoreError) -> ConsistencyProof {
        try readTree { db, head throws(StoreError) in
            guard to <= head else { throw Self.beyond(to, head) }
            var nodes = MerkleNodes(db)
            guard let proof = try MerkleTree.consistencyProof(from: from, to: to, from: &nodes) else {
                throw StoreError(code: .outOfRange, message: "a consistency proof needs 0 < from ≤ to; got \(from) and \(to)")
            }
            let fromRoot = try MerkleTree.root(size: from, from: &nodes)
            let toRoot = try MerkleTree.root(size: to, from: &nodes)
            return ConsistencyProof(fromSize: from, toSize: to, hashes: proof, fromRoot: fromRoot, toRoot: toRoot)
        }
    }

    /// Stores the Merkle nodes the log's complete subtrees allow, in write transactions of at
    /// most 65,536 entries' worth. Derived data: a failure leaves them to the next pass.
    func extendMerkleTree() {
        while true {
            let more = try? pool.write { db -> Bool in
                guard let head = try Self.head(db)?.seq else { return false }
                return try MerkleNodes.extend(db, through: head)
            }
            guard more == true else { return }
        }
    }

    /// Runs `body` in one read transaction with the head's seq (0 for an empty log).
    private func readTree<T>(_ body: (Database, Int64) throws(StoreError) -> T) throws(StoreError) -> T {
        do {
            return try pool.read { db in try body(db, try Self.head(db)?.seq ?? 0) }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "cannot read the Merkle tree: \(Self.reason(error))")
        }
    }

    private static func beyond(_ size: Int64, _ head: Int64) -> StoreError {
        StoreError(code: .outOfRange, message: "the log holds \(head) entries, not \(size)")
    }
}
