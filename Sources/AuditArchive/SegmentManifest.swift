import AuditChain
import AuditCore
public import AuditStorage
import Foundation

/// What a segment holds and how to check it, stored beside its data as JSON.
///
/// A reader needs nothing else to check a segment: the SHA-256 of its data and index, the
/// hash chain inside it (from `prev_hash` to `last_hash`), the Merkle root of its range, and
/// the signed checkpoint with the consistency proof that ties the tree up to `last` to a
/// checkpoint the log signed.
public struct SegmentManifest: Sendable, Codable, Equatable {
    /// One deflate frame of the data: where it is and which entries it holds.
    public struct Frame: Sendable, Codable, Equatable {
        public var first: Int64
        public var count: Int
        public var offset: Int
        public var bytes: Int
    }

    /// One file of the segment: its size and SHA-256 (lower-case hex).
    public struct File: Sendable, Codable, Equatable {
        public var bytes: Int
        public var sha256: String
    }

    public static let currentFormat = "caretrail-segment/1"

    public var format: String
    /// The log's name, as its checkpoints give it.
    public var origin: String
    public var first: Int64
    public var last: Int64
    public var generation: Int
    /// Entries whose canonical bytes the segment holds; the others are held by hash.
    public var withContent: Int
    /// The hash of the entry before `first`, hex (the chain's genesis for the first segment).
    public var prevHash: String
    /// The hash of the entry at `last`, hex.
    public var lastHash: String
    /// RFC 6962's root over the range's leaves, base64.
    public var root: String
    /// The signed checkpoint (a C2SP signed note) the range is proven against.
    public var checkpoint: String
    /// The consistency proof from tree size `last` to the checkpoint's size, base64 hashes.
    public var consistency: [String]
    /// The roots of the perfect subtrees over the leaves before `first`, largest first, base64:
    /// with the segment's own leaves they give the tree's root at `last`, so each segment is
    /// checked against its checkpoint on its own.
    public var border: [String]
    /// The ranges whose content a retention run deleted from this segment.
    public var purged: [[Int64]]
    public var data: File
    public var index: File
    public var frames: [Frame]
    /// The earliest and latest `recorded_at` of the entries the segment holds with content
    /// (absent when it holds none, and in segments written before they were recorded): a
    /// retention run passes over a segment whose entries are all too young to have expired
    /// without reading its data.
    public var recordedFrom: String?
    public var recordedThrough: String?

    public var name: SegmentName { SegmentName(first: first, last: last, generation: generation) }

    /// SHA-256 in lower-case hex, as manifests and the chain record objects.
    public static func sha256(_ bytes: [UInt8]) -> String { Digest.hex(bytes) }

    /// The manifest as stored: JSON with sorted keys.
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return (try? [UInt8](encoder.encode(self))) ?? []
    }

    /// Reads a stored manifest.
    public static func decode(_ bytes: [UInt8]) throws(ArchiveError) -> SegmentManifest {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let manifest: SegmentManifest
        do {
            manifest = try decoder.decode(SegmentManifest.self, from: Data(bytes))
        } catch {
            throw ArchiveError(code: .malformed, message: "a segment manifest is not readable JSON")
        }
        // Sizes and offsets are bounded so that the reader's arithmetic on them cannot overflow.
        let sizes = 0...Int(Int32.max)
        guard manifest.format == currentFormat,
            SegmentName.isPlausible(first: manifest.first, last: manifest.last, generation: manifest.generation),
            ChainHash(hex: manifest.prevHash) != nil, ChainHash(hex: manifest.lastHash) != nil,
            ChainHash(base64: manifest.root) != nil, sizes.contains(manifest.data.bytes), sizes.contains(manifest.index.bytes),
            (0...Int(SegmentName.maximumEntries)).contains(manifest.withContent), manifest.border.count <= 64,
            manifest.consistency.count <= 128, manifest.frames.count <= Int(SegmentName.maximumEntries),
            manifest.frames.allSatisfy({
                $0.first >= manifest.first && $0.first <= manifest.last && (1...Int(SegmentName.maximumEntries)).contains($0.count)
                    && sizes.contains($0.offset) && sizes.contains($0.bytes)
            }),
            recordedTimesArePlausible(manifest)
        else {
            throw ArchiveError(code: .malformed, message: "segment \(manifest.first)...\(manifest.last): the manifest is malformed")
        }
        return manifest
    }

    /// The manifest of `segment` at `destination`, refused unless it is the one the chain
    /// names (its SHA-256) and describes that segment.
    public static func read(of segment: ArchivedSegment, from destination: any ArchiveDestination) async throws(ArchiveError)
        -> SegmentManifest
    {
        let name = SegmentName(first: segment.first, last: segment.last, generation: segment.generation)
        guard let bytes = try await destination.get(name.object(.manifest)), sha256(bytes) == segment.manifestSHA256 else {
            throw ArchiveError(code: .malformed, message: "\(name): the manifest is missing or is not the one the chain names")
        }
        let manifest = try decode(bytes)
        guard manifest.name == name else {
            throw ArchiveError(code: .malformed, message: "\(name): the manifest describes another segment")
        }
        return manifest
    }

    /// Both recorded times or neither, each a timestamp, the first not after the second.
    private static func recordedTimesArePlausible(_ manifest: SegmentManifest) -> Bool {
        switch (manifest.recordedFrom, manifest.recordedThrough) {
        case (nil, nil): return true
        case (let from?, let through?):
            guard let start = Timestamp(rfc3339: from), let end = Timestamp(rfc3339: through) else { return false }
            return !(end < start)
        default: return false
        }
    }
}
