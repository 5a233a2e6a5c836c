/// What is wrong with an archive, named for the damage.
public struct ArchiveProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// A segment the chain or the catalog names is not at the destination, or the
        /// segments leave a gap in the chain.
        case segmentMissing = "segment_missing"
        /// A segment's objects hold another range than their name says: segments swapped or
        /// moved.
        case segmentOutOfPlace = "segment_out_of_place"
        /// A segment is an earlier generation than the current one: replayed from before a
        /// retention run deleted entries from it.
        case segmentReplayed = "segment_replayed"
        /// A segment of another log: signed by another key, of another origin, or not
        /// linking to its neighbours.
        case segmentForeign = "segment_foreign"
        /// Segment objects at the destination that neither the chain nor the catalog names.
        case segmentUnlisted = "segment_unlisted"
        /// An earlier generation of a segment is still at the destination, with content a
        /// retention run deleted.
        case staleGeneration = "stale_generation"
        /// The manifest differs from the one the chain or the catalog recorded.
        case manifestEdited = "manifest_edited"
        /// The data file's SHA-256 or frames differ from the manifest's.
        case dataEdited = "data_edited"
        /// The index's SHA-256 or content differ from what the entries make.
        case indexEdited = "index_edited"
        /// An entry does not chain to the one before it.
        case entryMismatch = "entry_mismatch"
        /// The entries do not make the recorded Merkle root.
        case rootMismatch = "root_mismatch"
        /// The range's tree does not extend to the signed checkpoint, or its signature fails.
        case checkpointMismatch = "checkpoint_mismatch"
        /// Content a retention run deleted is still in the segment.
        case deletedContentRemains = "deleted_content_remains"
        /// The signed catalog is missing, malformed or not signed by the key.
        case catalogInvalid = "catalog_invalid"
    }

    public var kind: Kind
    /// The segment concerned, as named at the destination.
    public var segment: String?
    /// The first entry concerned, when one is.
    public var seq: Int64?
    public var message: String

    public init(kind: Kind, segment: String? = nil, seq: Int64? = nil, message: String) {
        self.kind = kind
        self.segment = segment
        self.seq = seq
        self.message = message
    }

    public var description: String {
        "\(kind.rawValue)\(segment.map { " in \($0)" } ?? "")\(seq.map { " at seq \($0)" } ?? ""): \(message)"
    }
}
