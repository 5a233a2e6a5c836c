public import AuditChain
import Foundation

/// Reads a segment's entries from its manifest and data, one frame at a time.
public struct SegmentReader: Sendable {
    /// One entry of a segment: its hash, and its canonical bytes when the segment holds them.
    public struct Entry: Sendable {
        public var seq: Int64
        public var entryHash: ChainHash
        public var canonical: [UInt8]?
    }

    public let manifest: SegmentManifest
    private let data: [UInt8]
    /// The most an inflated frame may hold: entries are at most a few hundred kilobytes.
    static let frameLimit = 256 << 20

    public init(manifest: SegmentManifest, data: [UInt8]) {
        self.manifest = manifest
        self.data = data
    }

    /// Whether the frame table covers the range exactly, in order, inside the data.
    public var framesAreWellFormed: Bool {
        var next = manifest.first
        var offset = 0
        for frame in manifest.frames {
            guard frame.first == next, frame.count > 0, frame.offset == offset, frame.bytes > 0, offset + frame.bytes <= data.count
            else { return false }
            next += Int64(frame.count)
            offset += frame.bytes
        }
        return next == manifest.last + 1 && offset == data.count
    }

    /// The entries of frame `index`, in order.
    public func entries(inFrame index: Int) throws(ArchiveError) -> [Entry] {
        guard manifest.frames.indices.contains(index) else {
            throw ArchiveError(code: .malformed, message: "\(manifest.name): no frame \(index)")
        }
        let frame = manifest.frames[index]
        guard frame.offset >= 0, frame.bytes > 0, frame.offset + frame.bytes <= data.count else {
            throw ArchiveError(code: .malformed, message: "\(manifest.name): frame \(index) lies outside the data")
        }
        let inflated = try FrameCodec.inflate(data[frame.offset..<(frame.offset + frame.bytes)], limit: Self.frameLimit)
        guard let records = FrameCodec.records(inflated), records.count == frame.count else {
            throw ArchiveError(code: .malformed, message: "\(manifest.name): frame \(index) does not hold its \(frame.count) entries")
        }
        return records.enumerated().map { offset, record in
            let seq = frame.first + Int64(offset)
            switch record {
            case .content(let bytes):
                let canonical = Array(bytes)
                return Entry(seq: seq, entryHash: canonical.withUnsafeBufferPointer(CanonicalEntry.hash), canonical: canonical)
            case .hash(let hash):
                return Entry(seq: seq, entryHash: ChainHash(unchecked: hash), canonical: nil)
            }
        }
    }

    /// The index of the frame holding `seq`; `nil` when outside the segment.
    public func frame(holding seq: Int64) -> Int? {
        var low = 0
        var high = manifest.frames.count
        while low < high {
            let middle = (low + high) / 2
            if manifest.frames[middle].first <= seq { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let frame = manifest.frames[low - 1]
        return seq < frame.first + Int64(frame.count) ? low - 1 : nil
    }

    /// Every frame's entries, inflated and hashed on every core, each with the index of its
    /// entries when `indexing`: what a check of the whole segment reads.
    public func allFrames(indexing: Bool) throws(ArchiveError) -> [(entries: [Entry], index: SegmentIndex)] {
        let count = manifest.frames.count
        var frames = [Result<(entries: [Entry], index: SegmentIndex), ArchiveError>](
            repeating: .failure(ArchiveError(code: .malformed, message: "a frame was not read")), count: count)
        frames.withUnsafeMutableBufferPointer { results in
            // Each iteration writes its own slot, and the buffer outlives them all.
            nonisolated(unsafe) let slots = results
            DispatchQueue.concurrentPerform(iterations: count) { position in
                slots[position] = Result { () throws(ArchiveError) in
                    let entries = try self.entries(inFrame: position)
                    var index = SegmentIndex()
                    if indexing {
                        for entry in entries {
                            _ = entry.canonical?.withUnsafeBufferPointer { index.add(seq: entry.seq, canonical: $0) }
                        }
                    }
                    return (entries, index)
                }
            }
        }
        return try frames.map { result throws(ArchiveError) in try result.get() }
    }

    /// Calls `body` with every entry in order, one frame inflated at a time.
    public func forEachEntry(_ body: (Entry) throws(ArchiveError) -> Void) throws(ArchiveError) {
        for index in manifest.frames.indices {
            for entry in try entries(inFrame: index) { try body(entry) }
        }
    }
}
