package import AuditChain

/// Why the store could not do what was asked. Messages never contain entry content.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// No database at the path.
        case notFound = "not_found"
        /// `create` found a database already there.
        case alreadyExists = "already_exists"
        /// The file is not a CareTrail log (or a newer format).
        case notACareTrailLog = "not_a_caretrail_log"
        /// An append could not be made durable; nothing of it was stored.
        case appendFailed = "append_failed"
        /// Reading failed.
        case readFailed = "read_failed"
        /// A sequence number or tree size beyond the log (a proof asked of entries it does
        /// not hold).
        case outOfRange = "out_of_range"
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension StoreError {
    /// Proofs a Merkle source made, or the out-of-range error naming the entry outside the tree.
    package static func proofs(_ result: Result<[InclusionProof], MerkleTree.OutsideTree>) throws(StoreError) -> [InclusionProof] {
        switch result {
        case .success(let proofs): return proofs
        case .failure(let outside):
            throw StoreError(code: .outOfRange, message: "entry \(outside.seq) is not in a tree of \(outside.treeSize) entries")
        }
    }

    /// A consistency proof asked with sizes out of order.
    package static func notConsistent(_ from: Int64, _ to: Int64) -> StoreError {
        StoreError(code: .outOfRange, message: "a consistency proof needs 0 < from ≤ to; got \(from) and \(to)")
    }
}
