public import AuditChain
import AuditCore
public import AuditStorage
public import Foundation
import Synchronization

/// The entries a log has moved to its cold archive, read from the segments the chain names:
/// what reports, trace lookups, timelines, FHIR export and SIEM backlogs read once those
/// entries have left the hot log.
///
/// Loading reads each segment's manifest and index and checks them against the SHA-256 the
/// chain records (manifest) and the manifest records (index). Data is read when an entry is
/// asked for, one segment file at a time, checked against its SHA-256 before a frame of it is
/// inflated; a few segments and frames stay in memory for the next question. Segments in an
/// S3 bucket are first copied to a local cache directory, since the store protocols that read
/// through this type are synchronous: only objects missing from the cache are fetched, and
/// object names carry their generation, so a cached object never goes stale.
public final class ArchivedEntries: Sendable {
    /// One segment, as loaded.
    struct Segment: Sendable {
        let manifest: SegmentManifest
        let index: SegmentIndex
    }

    /// The segments, by their first sequence number.
    let segments: [Segment]
    /// Where the segments' data files are read from.
    private let files: DirectoryDestination
    private let cache = Mutex(Cache())

    /// Segments and frames read recently, for the next question.
    private struct Cache {
        var data: [(first: Int64, reader: SegmentReader)] = []
        var frames: [(key: FrameKey, entries: [SegmentReader.Entry])] = []
    }

    private struct FrameKey: Equatable {
        var segment: Int64
        var frame: Int
    }

    private static let cachedSegments = 2
    private static let cachedFrames = 32

    init(segments: [Segment], files: DirectoryDestination) {
        self.segments = segments.sorted { $0.manifest.first < $1.manifest.first }
        self.files = files
    }

    /// Loads the `segments` the chain names from `destination`; a remote destination's data
    /// files are copied to `cacheDirectory` first.
    public static func load(
        _ segments: [ArchivedSegment], from destination: any ArchiveDestination, cacheDirectory: URL
    ) async throws(ArchiveError) -> ArchivedEntries {
        let local = destination as? DirectoryDestination
        let files = local ?? DirectoryDestination(directory: cacheDirectory)
        var loaded: [Segment] = []
        for segment in segments {
            let name = SegmentName(first: segment.first, last: segment.last, generation: segment.generation)
            let manifest = try await SegmentManifest.read(of: segment, from: destination)
            guard let indexBytes = try await destination.get(name.object(.index)),
                SegmentManifest.sha256(indexBytes) == manifest.index.sha256
            else {
                throw ArchiveError(code: .malformed, message: "\(name): the index is missing or does not match its manifest")
            }
            if local == nil, try !files.holds(name.object(.data), bytes: manifest.data.bytes) {
                guard let data = try await destination.get(name.object(.data)), SegmentManifest.sha256(data) == manifest.data.sha256 else {
                    throw ArchiveError(code: .malformed, message: "\(name): the data is missing or does not match its manifest")
                }
                try await files.put(name.object(.data), data)
            }
            loaded.append(Segment(manifest: manifest, index: try SegmentIndex.decode(indexBytes)))
        }
        return ArchivedEntries(segments: loaded, files: files)
    }

    /// Whether any segment is loaded.
    public var isEmpty: Bool { segments.isEmpty }

    /// The sequence numbers the segments cover, from the first's first to the last's last.
    public var range: ClosedRange<Int64>? {
        guard let first = segments.first, let last = segments.last else { return nil }
        return first.manifest.first...last.manifest.last
    }

    /// The archived entry at `seq`, when a segment holds its content.
    public func entry(seq: Int64) throws(ArchiveError) -> StoredEntry? {
        guard let position = position(holding: seq) else { return nil }
        let segment = segments[position]
        let reader = try reader(segment)
        guard let frame = reader.frame(holding: seq) else { return nil }
        let entries = try frameEntries(reader, frame: frame)
        let offset = Int(seq - segment.manifest.frames[frame].first)
        guard entries.indices.contains(offset), let canonical = entries[offset].canonical else { return nil }
        return CanonicalEntry.decode(canonical, seq: seq, entryHash: entries[offset].entryHash)
    }

    /// The archived entries that answer `query`, with `after < seq <= through`, in order.
    public func seqs(_ query: EntryQuery, after: Int64, through: Int64) -> [Int64] {
        segments.filter { $0.manifest.last > after && $0.manifest.first <= through }
            .flatMap { $0.index.seqs(query).filter { $0 > after && $0 <= through } }
    }

    /// The archived entries whose bodies hold one of `tokens`, up to `through`, in order.
    public func seqs(tokens: [String], through: Int64) -> [Int64] {
        segments.filter { $0.manifest.first <= through }.flatMap { $0.index.seqs(tokens: tokens).filter { $0 <= through } }
    }

    /// Calls `body` with every archived entry that holds content, in order, until it returns `false`.
    public func forEachEntry(_ body: (StoredEntry) throws -> Bool) throws {
        for segment in segments {
            let reader = try reader(segment)
            for frame in segment.manifest.frames.indices {
                for item in try frameEntries(reader, frame: frame) {
                    guard let canonical = item.canonical else { continue }
                    guard try body(CanonicalEntry.decode(canonical, seq: item.seq, entryHash: item.entryHash)) else { return }
                }
            }
        }
    }

    private func position(holding seq: Int64) -> Int? {
        var low = 0
        var high = segments.count
        while low < high {
            let middle = (low + high) / 2
            if segments[middle].manifest.first <= seq { low = middle + 1 } else { high = middle }
        }
        guard low > 0, seq <= segments[low - 1].manifest.last else { return nil }
        return low - 1
    }

    /// The reader of a segment's data, read and checked on first use.
    private func reader(_ segment: Segment) throws(ArchiveError) -> SegmentReader {
        let first = segment.manifest.first
        if let cached = cache.withLock({ cache in cache.data.first { $0.first == first }?.reader }) { return cached }
        let name = segment.manifest.name
        guard let data = try files.read(name.object(.data)), SegmentManifest.sha256(data) == segment.manifest.data.sha256 else {
            throw ArchiveError(code: .malformed, message: "\(name): the data is missing or does not match its manifest")
        }
        let reader = SegmentReader(manifest: segment.manifest, data: data)
        guard reader.framesAreWellFormed else {
            throw ArchiveError(code: .malformed, message: "\(name): the frame table does not cover the data")
        }
        cache.withLock { cache in
            cache.data.append((first, reader))
            if cache.data.count > Self.cachedSegments { cache.data.removeFirst() }
        }
        return reader
    }

    private func frameEntries(_ reader: SegmentReader, frame: Int) throws(ArchiveError) -> [SegmentReader.Entry] {
        let key = FrameKey(segment: reader.manifest.first, frame: frame)
        if let cached = cache.withLock({ cache in cache.frames.first { $0.key == key }?.entries }) { return cached }
        let entries = try reader.entries(inFrame: frame)
        cache.withLock { cache in
            cache.frames.append((key, entries))
            if cache.frames.count > Self.cachedFrames { cache.frames.removeFirst() }
        }
        return entries
    }
}
