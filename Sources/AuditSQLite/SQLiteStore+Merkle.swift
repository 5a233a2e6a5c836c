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

    public func inclusionProofs(seqs: [Int64], treeSize: Int64) throws(StoreError) -> [InclusionProof] {
        try readTree { db, head throws(StoreError) in
            guard treeSize <= head else { throw Self.beyond(treeSize, head) }
            var nodes = MerkleNodes(db)
            return try StoreError.proofs(MerkleTree.inclusionProofs(seqs: seqs, treeSize: treeSize, from: &nodes))
        }
    }

    public func consistencyProof(from: Int64, to: Int64) throws(StoreError) -> ConsistencyProof {
        try readTree { db, head throws(StoreError) in
            guard to <= head else { throw Self.beyond(to, head) }
            var nodes = MerkleNodes(db)
            guard let proof = try MerkleTree.consistency(from: from, to: to, from: &nodes) else { throw StoreError.notConsistent(from, to) }
            return proof
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
