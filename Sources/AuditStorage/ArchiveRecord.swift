public import AuditChain
public import AuditCore

/// One segment of the cold archive as the chain knows it: the range of sequence numbers it
/// covers, the Merkle root of that range's leaves, which generation of the segment is current
/// (a retention run that deletes entries from a segment writes the next one), and the SHA-256
/// of its manifest, which names the SHA-256 of its data and index.
///
/// Chained in `archive` and `retention_purge` records, these make the archive's current state
/// part of the hash chain: a segment edited, dropped, swapped or replayed from an earlier
/// generation no longer matches the last record that names its range.
public struct ArchivedSegment: Sendable, Hashable {
    public var first: Int64
    public var last: Int64
    public var root: ChainHash
    public var generation: Int
    /// The SHA-256 of the manifest file, lower-case hex.
    public var manifestSHA256: String

    public init(first: Int64, last: Int64, root: ChainHash, generation: Int, manifestSHA256: String) {
        self.first = first
        self.last = last
        self.root = root
        self.generation = generation
        self.manifestSHA256 = manifestSHA256
    }

    public var range: ClosedRange<Int64> { first...last }

    /// The segment as a chained JSON object.
    public var jsonValue: JSONValue {
        .object([
            "first": .number(Double(first)), "last": .number(Double(last)), "root": .string(root.base64),
            "generation": .number(Double(generation)), "manifest_sha256": .string(manifestSHA256),
        ])
    }

    /// Reads a chained segment object; `nil` when malformed.
    public init?(_ value: JSONValue) {
        guard case .object(let object) = value, let first = object["first"]?.numberValue.flatMap(Int64.init(exactly:)),
            let last = object["last"]?.numberValue.flatMap(Int64.init(exactly:)), first >= 1, first <= last,
            let root = object["root"]?.stringValue.flatMap(ChainHash.init(base64:)),
            let generation = object["generation"]?.numberValue.flatMap(Int.init(exactly:)), generation >= 1,
            let manifest = object["manifest_sha256"]?.stringValue, manifest.utf8.count == 64
        else { return nil }
        self.init(first: first, last: last, root: root, generation: generation, manifestSHA256: manifest)
    }

    /// Reads a list of chained segments; `nil` when any is malformed.
    static func list(_ value: JSONValue?) -> [ArchivedSegment]? {
        guard let value else { return [] }
        guard let items = value.arrayValue else { return nil }
        let segments = items.compactMap(ArchivedSegment.init)
        return segments.count == items.count ? segments : nil
    }
}

/// The record an archive run chains when it moves entries to cold storage: the segments it
/// wrote, and the tree size of the checkpoint their manifests carry.
///
/// Verify reads these records back: every entry whose content left the hot log must lie in a
/// chained segment or a purge, and each segment's kept hashes must still make its root.
public struct ArchiveRecord: Sendable, Hashable {
    public var segments: [ArchivedSegment]
    /// The tree size of the signed checkpoint the segments' manifests prove their ranges against.
    public var checkpointSize: Int64

    public init(segments: [ArchivedSegment], checkpointSize: Int64) {
        self.segments = segments
        self.checkpointSize = checkpointSize
    }

    /// The entry that records this archive run.
    public func content(keyID: String) -> EntryContent {
        EntryContent(
            kind: .archive, tenantID: "*", userID: "caretrail", model: "caretrail", keyID: keyID,
            body: [
                "archive": .object([
                    "segments": .array(segments.map(\.jsonValue)), "checkpoint_size": .number(Double(checkpointSize)),
                ])
            ]
        )
    }

    /// Reads an archive record; `nil` when the entry is not one or is malformed.
    public init?(_ entry: StoredEntry) {
        guard entry.content.kind == .archive, case .object(let body)? = try? JSONParser.parse(entry.content.body),
            case .object(let archive)? = body["archive"], let segments = ArchivedSegment.list(archive["segments"]),
            !segments.isEmpty, let size = archive["checkpoint_size"]?.numberValue.flatMap(Int64.init(exactly:))
        else { return nil }
        self.init(segments: segments, checkpointSize: size)
    }
}

extension ArchivedSegment {
    /// The current state of every segment, from the chain's `archive` and `retention_purge`
    /// records in chain order: the last record naming a range wins. `unreadable` is the first
    /// archive record that cannot be read, if any.
    public static func current(from records: [StoredEntry]) -> (segments: [ArchivedSegment], unreadable: Int64?) {
        var byFirst: [Int64: ArchivedSegment] = [:]
        for entry in records.sorted(by: { $0.seq < $1.seq }) {
            if entry.content.kind == .archive {
                guard let record = ArchiveRecord(entry) else { return ([], entry.seq) }
                for segment in record.segments { byFirst[segment.first] = segment }
            } else if let purge = RetentionPurge(entry) {
                for segment in purge.segments { byFirst[segment.first] = segment }
            }
        }
        return (byFirst.values.sorted { $0.first < $1.first }, nil)
    }
}
