/// Checks Merkle proofs exactly as RFC 9162 (sections 2.1.3.2 and 2.1.4.2) says a verifier
/// must, from nothing but the proof, the sizes and the roots: what an auditor runs offline.
public enum MerkleProof {
    /// Why a proof was refused.
    public enum Failure: String, Sendable, Error, Equatable {
        /// The leaf index is not below the tree size.
        case indexBeyondSize = "index_beyond_size"
        /// The proof has more or fewer hashes than the sizes call for.
        case wrongLength = "wrong_proof_length"
        /// The hashes lead to another root.
        case rootMismatch = "root_mismatch"
        /// The older size is zero or larger than the newer one.
        case sizesOutOfOrder = "sizes_out_of_order"
    }

    /// The root that leaf `index`'s hash and its audit path lead to in a tree of `size`
    /// leaves.
    public static func rootFromInclusion(
        index: Int64, size: Int64, leafHash: ChainHash, path: [ChainHash]
    ) throws(Failure) -> ChainHash {
        guard index >= 0, index < size else { throw .indexBeyondSize }
        var fn = index
        var sn = size - 1
        var root = leafHash
        for hash in path {
            guard sn != 0 else { throw .wrongLength }
            if fn & 1 == 1 || fn == sn {
                root = MerkleTree.nodeHash(hash, root)
                if fn & 1 == 0 { climbRightBorder(&fn, &sn) }
            } else {
                root = MerkleTree.nodeHash(root, hash)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw .wrongLength }
        return root
    }

    /// Checks that leaf `index` with `leafHash` is in the tree of `size` leaves whose root is
    /// `root`.
    public static func verifyInclusion(
        index: Int64, size: Int64, leafHash: ChainHash, path: [ChainHash], root: ChainHash
    ) throws(Failure) {
        guard try rootFromInclusion(index: index, size: size, leafHash: leafHash, path: path) == root else {
            throw .rootMismatch
        }
    }

    /// Checks that the tree of `newSize` leaves with root `newRoot` extends the tree of
    /// `oldSize` leaves with root `oldRoot`.
    public static func verifyConsistency(
        from oldSize: Int64, to newSize: Int64, oldRoot: ChainHash, newRoot: ChainHash, proof: [ChainHash]
    ) throws(Failure) {
        guard oldSize > 0, oldSize <= newSize else { throw .sizesOutOfOrder }
        if oldSize == newSize {
            guard proof.isEmpty else { throw .wrongLength }
            guard oldRoot == newRoot else { throw .rootMismatch }
            return
        }
        guard !proof.isEmpty else { throw .wrongLength }
        var path = proof
        // An older tree that is a perfect subtree is its own first node.
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var oldComputed = path[0]
        var newComputed = path[0]
        for hash in path.dropFirst() {
            guard sn != 0 else { throw .wrongLength }
            if fn & 1 == 1 || fn == sn {
                oldComputed = MerkleTree.nodeHash(hash, oldComputed)
                newComputed = MerkleTree.nodeHash(hash, newComputed)
                if fn & 1 == 0 { climbRightBorder(&fn, &sn) }
            } else {
                newComputed = MerkleTree.nodeHash(newComputed, hash)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw .wrongLength }
        guard oldComputed == oldRoot, newComputed == newRoot else { throw .rootMismatch }
    }

    /// On the tree's right border a node has no right sibling: both indexes move up until `fn`
    /// is a right child or reaches the root (the inner loop of both RFC 9162 algorithms).
    private static func climbRightBorder(_ fn: inout Int64, _ sn: inout Int64) {
        repeat {
            fn >>= 1
            sn >>= 1
        } while fn & 1 == 0 && fn != 0
    }
}
