public import AuditChain
import AuditCore
import Crypto
import Foundation

/// A segment's objects, ready to write.
public struct SegmentObjects: Sendable {
    public var manifest: SegmentManifest
    public var data: [UInt8]
    public var index: [UInt8]
    public var manifestBytes: [UInt8]

    public var name: SegmentName { manifest.name }
    /// The SHA-256 of the manifest, hex: what the chain records of the segment.
    public var manifestSHA256: String { Digest.hex(manifestBytes) }

    /// The objects by name, the manifest last: a reader that finds the manifest finds the rest.
    public var objects: [(name: String, bytes: [UInt8])] {
        [(name.object(.data), data), (name.object(.index), index), (name.object(.manifest), manifestBytes)]
    }
}

/// Builds one segment from the entries of a range, in order.
///
/// An entry of a retained kind (``RecordKind/retained``) whose canonical bytes are given goes
/// in with its content; the log's own records, which stay in the hot log, go in by hash, and
/// so do entries whose content is gone (a retention run deleted it). Closed frames are kept
/// raw until ``finish(generation:origin:border:checkpoint:consistency:)``, which deflates and
/// indexes them on every core: memory holds the segment's raw frames while it is built.
public struct SegmentBuilder: Sendable {
    public static let entriesPerFrame = 256

    public let first: Int64
    public private(set) var next: Int64
    private let prevHash: ChainHash
    private var lastHash: ChainHash
    private var leaves: [ChainHash] = []
    private var frame: [UInt8] = []
    private var frameFirst: Int64
    private var frameCount = 0
    /// The closed frames, not yet deflated: ``finish(generation:origin:border:checkpoint:consistency:)``
    /// deflates and indexes them on every core.
    private var rawFrames: [(first: Int64, count: Int, bytes: [UInt8])] = []
    private var withContent = 0
    private var purged: [ClosedRange<Int64>] = []
    private static let retained = Set(RecordKind.retained.map(\.rawValue))

    /// A builder for the segment starting at `first`, whose previous entry's hash is `prevHash`.
    public init(first: Int64, prevHash: ChainHash) {
        self.first = first
        self.next = first
        self.prevHash = prevHash
        self.lastHash = prevHash
        self.frameFirst = first
    }

    /// How many entries were added.
    public var count: Int64 { next - first }

    /// Adds the next entry: its hash and canonical bytes (empty when its content is gone). With
    /// `deleting`, an entry with content goes in by hash, as deleted.
    public mutating func add(seq: Int64, entryHash: ChainHash, canonical: UnsafeBufferPointer<UInt8>, deleting: Bool = false)
        throws(ArchiveError)
    {
        let kind = canonical.isEmpty || deleting ? nil : CanonicalEntry.text("kind", in: canonical)
        try add(seq: seq, entryHash: entryHash, canonical: canonical, kind: kind, deleting: deleting)
    }

    /// Adds the next entry as ``add(seq:entryHash:canonical:deleting:)`` does, with its `kind`
    /// already read from its canonical bytes by the caller.
    public mutating func add(
        seq: Int64, entryHash: ChainHash, canonical: UnsafeBufferPointer<UInt8>, kind: String?, deleting: Bool = false
    ) throws(ArchiveError) {
        guard seq == next else {
            throw ArchiveError(code: .malformed, message: "entry \(seq) is out of order in segment from \(first) (expected \(next))")
        }
        if canonical.isEmpty || deleting {
            markPurged(seq)
            FrameCodec.appendHash(entryHash.bytes, to: &frame)
        } else if let kind, Self.retained.contains(kind) {
            FrameCodec.appendContent(canonical, to: &frame)
            withContent += 1
        } else {
            FrameCodec.appendHash(entryHash.bytes, to: &frame)
        }
        try advance(entryHash)
    }

    /// Adds the next entry by its hash alone: an entry a segment being rewritten already held
    /// by hash, `purged` when a retention run deleted it (not when it is a record of the log's
    /// own).
    public mutating func addHash(seq: Int64, entryHash: ChainHash, purged: Bool) throws(ArchiveError) {
        guard seq == next else {
            throw ArchiveError(code: .malformed, message: "entry \(seq) is out of order in segment from \(first) (expected \(next))")
        }
        if purged { markPurged(seq) }
        FrameCodec.appendHash(entryHash.bytes, to: &frame)
        try advance(entryHash)
    }

    private mutating func markPurged(_ seq: Int64) {
        if let last = purged.last, last.upperBound == seq - 1 {
            purged[purged.count - 1] = last.lowerBound...seq
        } else {
            purged.append(seq...seq)
        }
    }

    private mutating func advance(_ entryHash: ChainHash) throws(ArchiveError) {
        leaves.append(entryHash)
        lastHash = entryHash
        next += 1
        frameCount += 1
        if frameCount == Self.entriesPerFrame { try closeFrame() }
    }

    private mutating func closeFrame() throws(ArchiveError) {
        guard frameCount > 0 else { return }
        // A copy of the frame's exact size, so that `frame` keeps its buffer for the next:
        // appending `frame` itself would share the buffer, and emptying it then takes another.
        let bytes = [UInt8](unsafeUninitializedCapacity: frame.count) { buffer, count in
            count = frame.withUnsafeBufferPointer {
                UnsafeMutableRawBufferPointer(buffer).copyBytes(from: $0)
                return $0.count
            }
        }
        rawFrames.append((frameFirst, frameCount, bytes))
        frame.removeAll(keepingCapacity: true)
        frameFirst = next
        frameCount = 0
    }

    /// Deflates and indexes the frames, on every core, then joins them in order: the data,
    /// its frame table and the segment's index.
    private func packFrames() throws(ArchiveError) -> (
        data: [UInt8], frames: [SegmentManifest.Frame], index: SegmentIndex, recorded: RecordedTimes
    ) {
        let raw = rawFrames
        var packed = [Result<(deflated: [UInt8], index: SegmentIndex, recorded: RecordedTimes), ArchiveError>](
            repeating: .failure(ArchiveError(code: .malformed, message: "a frame was not packed")), count: raw.count)
        packed.withUnsafeMutableBufferPointer { results in
            // Each iteration writes its own slot, and the buffer outlives them all.
            nonisolated(unsafe) let slots = results
            DispatchQueue.concurrentPerform(iterations: raw.count) { position in
                slots[position] = Result { () throws(ArchiveError) in
                    var index = SegmentIndex()
                    var recorded = RecordedTimes()
                    guard let records = FrameCodec.records(raw[position].bytes) else {
                        throw ArchiveError(code: .malformed, message: "a frame cannot be read back")
                    }
                    for (offset, record) in records.enumerated() {
                        guard case .content(let bytes) = record else { continue }
                        bytes.withUnsafeBufferPointer { canonical in
                            let time = index.add(seq: raw[position].first + Int64(offset), canonical: canonical)
                            recorded.add(RecordedTimes(earliest: time, latest: time))
                        }
                    }
                    return (try FrameCodec.deflate(raw[position].bytes), index, recorded)
                }
            }
        }
        var data: [UInt8] = []
        var frames: [SegmentManifest.Frame] = []
        var index = SegmentIndex()
        var recorded = RecordedTimes()
        for (position, result) in packed.enumerated() {
            let (deflated, frameIndex, frameRecorded) = try result.get()
            recorded.add(frameRecorded)
            frames.append(
                SegmentManifest.Frame(first: raw[position].first, count: raw[position].count, offset: data.count, bytes: deflated.count))
            data.append(contentsOf: deflated)
            index.append(frameIndex)
        }
        return (data, frames, index, recorded)
    }

    /// Closes the segment: its data, index and manifest, proven against `checkpoint` (a
    /// signed note of the log `origin`) by `consistency`, the proof from tree size `last` to
    /// the checkpoint's size.
    public mutating func finish(
        generation: Int, origin: String, border: MerkleAccumulator, checkpoint: SignedNote, consistency: [ChainHash]
    ) throws(ArchiveError) -> SegmentObjects {
        guard border.count == first - 1 else {
            throw ArchiveError(code: .malformed, message: "the Merkle border of segment \(first) covers \(border.count) leaves")
        }
        guard count > 0 else { throw ArchiveError(code: .malformed, message: "a segment holds at least one entry") }
        try closeFrame()
        let (data, frames, index, recorded) = try packFrames()
        let indexBytes = try index.encoded()
        let manifest = SegmentManifest(
            format: SegmentManifest.currentFormat, origin: origin, first: first, last: next - 1, generation: generation,
            withContent: withContent, prevHash: prevHash.hex, lastHash: lastHash.hex,
            root: MerkleTree.root(ofEntries: leaves).base64, checkpoint: checkpoint.serialized,
            consistency: consistency.map(\.base64), border: border.borderHashes.map(\.base64),
            purged: purged.map { [$0.lowerBound, $0.upperBound] },
            data: .init(bytes: data.count, sha256: Digest.hex(data)), index: .init(bytes: indexBytes.count, sha256: Digest.hex(indexBytes)),
            frames: frames, recordedFrom: recorded.earliest, recordedThrough: recorded.latest
        )
        return SegmentObjects(manifest: manifest, data: data, index: indexBytes, manifestBytes: manifest.encoded())
    }
}

/// SHA-256 in lower-case hex.
enum Digest {
    static func hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

/// The earliest and latest `recorded_at` among entries (RFC 3339 strings of the log's one
/// format, which order as they compare).
struct RecordedTimes: Sendable, Equatable {
    var earliest: String?
    var latest: String?

    /// Takes in the `recorded_at` of an entry's canonical bytes.
    mutating func add(_ canonical: UnsafeBufferPointer<UInt8>) {
        guard let time = CanonicalEntry.text("recorded_at", in: canonical) else { return }
        add(RecordedTimes(earliest: time, latest: time))
    }

    mutating func add(_ other: RecordedTimes) {
        if let time = other.earliest, earliest.map({ time < $0 }) ?? true { earliest = time }
        if let time = other.latest, latest.map({ time > $0 }) ?? true { latest = time }
    }
}
