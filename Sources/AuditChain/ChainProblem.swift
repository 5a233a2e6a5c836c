/// What `verify` found wrong with the log, pinpointed to the first sequence number affected.
///
/// The message says what is wrong in words and never contains entry content.
public struct ChainProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of damage.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// An entry's content no longer matches its hash.
        case edited
        /// Entries are missing: a gap in the sequence, or later entries renumbered to hide it.
        case deleted
        /// An entry that was not part of the chain was put into it.
        case inserted
        /// Entries are in the wrong place (e.g. two rows swapped).
        case reordered
        /// An entry's `prev_hash` does not match the hash of the entry before it.
        case brokenLink = "broken_link"
        /// The log ends before a head that was published earlier.
        case truncated
        /// A head that was published earlier is no longer in the log: history was rewritten.
        case rewritten
        /// The patient index disagrees with the entries (an access hidden from patient reports).
        case indexMismatch = "index_mismatch"
        /// The stored Merkle tree disagrees with the entries' hashes (proofs would not hold).
        case merkleMismatch = "merkle_mismatch"
        /// The log does not extend a checkpoint signed earlier: entries it covered were changed.
        case rewrittenSinceCheckpoint = "rewritten_since_checkpoint"
        /// The log holds fewer entries than a checkpoint signed earlier covered.
        case truncatedSinceCheckpoint = "truncated_since_checkpoint"
        /// An API key in the key table that the log's key events do not back (created with
        /// another secret, role or tenant, never created, or revoked in the log but active).
        case keyNotInLog = "key_not_in_log"
        /// An entry's content is gone but no `retention_purge` record of the chain deleted it.
        case purgedWithoutRecord = "purged_without_record"
        /// A `retention_purge` record's range no longer holds the hashes it recorded, or
        /// entries it deleted hold content again.
        case purgeMismatch = "purge_mismatch"
    }

    public var kind: Kind
    /// The first sequence number affected.
    public var seq: Int64
    public var message: String

    public init(kind: Kind, seq: Int64, message: String) {
        self.kind = kind
        self.seq = seq
        self.message = message
    }

    public var description: String { "seq \(seq): \(kind.rawValue): \(message)" }
}
