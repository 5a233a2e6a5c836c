public import AuditChain
public import AuditStorage

/// What a check of the archive found.
public struct ArchiveVerification: Sendable {
    /// Segments checked.
    public var segments = 0
    /// Entries the segments cover, and those whose content they hold.
    public var entries: Int64 = 0
    public var withContent: Int64 = 0
    /// The last sequence number the archive covers (0 when empty).
    public var through: Int64 = 0
    public var problems: [ArchiveProblem] = []

    public var isIntact: Bool { problems.isEmpty }
}

/// Checks an archive: each segment's data against its manifest, the entries' hash chain, the
/// Merkle root of each range, and the consistency of each range's tree with the signed
/// checkpoint its manifest carries; and the list of segments against an authority: the
/// log's chain (with the database) or the signed catalog (without it).
public struct ArchiveVerifier: Sendable {
    /// Which list of current segments to hold the destination to.
    public enum Authority: Sendable {
        /// The chain's archive and purge records: the current segments, and every range a
        /// retention run deleted.
        case chain(segments: [ArchivedSegment], deleted: [ClosedRange<Int64>])
        /// The signed catalog at the destination.
        case catalog
    }

    public let destination: any ArchiveDestination
    public let keys: [NoteVerifierKey]
    /// Whether each segment's index is rebuilt from its entries and compared with the stored
    /// one. An archive run reading back what it has just written turns this off: it built the
    /// index from those entries itself, and the index's SHA-256 is still checked.
    public var rebuildsIndexes = true

    public init(destination: any ArchiveDestination, keys: [NoteVerifierKey]) {
        self.destination = destination
        self.keys = keys
    }

    public func verify(_ authority: Authority) async throws(ArchiveError) -> ArchiveVerification {
        var report = ArchiveVerification()
        let present = Set(
            try await destination.list().compactMap { name in
                SegmentName.part(ofObject: name) == .manifest ? SegmentName(object: name) : nil
            })
        var expected: [ArchivedSegment]
        var deleted: [ClosedRange<Int64>] = []
        switch authority {
        case .chain(let segments, let ranges):
            expected = segments
            deleted = ranges
        case .catalog:
            if let catalog = try await Self.typed({ try await signedCatalog(&report) }) {
                expected = catalog.segments
            } else {
                // No list to trust: check the latest generation of each range found.
                var latest: [Int64: SegmentName] = [:]
                for name in present where (latest[name.first]?.generation ?? 0) < name.generation { latest[name.first] = name }
                expected = latest.values.sorted().map {
                    ArchivedSegment(first: $0.first, last: $0.last, root: .genesis, generation: $0.generation, manifestSHA256: "")
                }
            }
        }
        expected.sort { $0.first < $1.first }
        try await Self.typed {
            try await checkList(expected, after: 0, previousHash: .genesis, present: present, deleted: deleted, report: &report)
        }
        let listed = Set(expected.map { SegmentName(first: $0.first, last: $0.last, generation: $0.generation) })
        for name in present.sorted() where !listed.contains(name) {
            let stale = listed.contains { $0.range == name.range && $0.generation > name.generation }
            report.problems.append(
                ArchiveProblem(
                    kind: stale ? .staleGeneration : .segmentUnlisted, segment: name.description, seq: name.first,
                    message: stale
                        ? "an earlier generation of the segment is still at the destination"
                        : "the segment is at the destination but not in the archive's list"))
        }
        return report
    }

    /// Checks the segments the chain has just recorded, or is about to: `segments`, which
    /// continue the archive after entry `after`, whose hash is `previousHash`. What an archive
    /// run reads back before anything leaves the hot log.
    public func verify(segments: [ArchivedSegment], after: Int64, previousHash: ChainHash) async throws(ArchiveError)
        -> ArchiveVerification
    {
        var report = ArchiveVerification()
        let names = Set(segments.map { SegmentName(first: $0.first, last: $0.last, generation: $0.generation) })
        try await Self.typed {
            try await checkList(
                segments.sorted { $0.first < $1.first }, after: after, previousHash: previousHash, present: names, deleted: [],
                report: &report)
        }
        return report
    }

    /// Runs `body`, whose only errors are ``ArchiveError``s, and rethrows them typed.
    ///
    /// The checks below throw untyped and keep their synchronous work in helpers: with Swift
    /// 6.3 at `-Onone`, a large async function here wrote past the async frame its caller
    /// allocated (AddressSanitizer: a heap overflow in the task allocator). Smaller async
    /// frames avoid it.
    private static func typed<T>(_ body: () async throws -> T) async throws(ArchiveError) -> T {
        do {
            return try await body()
        } catch let error as ArchiveError {
            throw error
        } catch {
            throw ArchiveError(code: .malformed, message: "the archive check failed", cause: "\(error)")
        }
    }

    private func checkList(
        _ expected: [ArchivedSegment], after: Int64, previousHash start: ChainHash?, present: Set<SegmentName>,
        deleted: [ClosedRange<Int64>], report: inout ArchiveVerification
    ) async throws {
        var previousLast = after
        var previousHash = start
        for segment in expected {
            let name = SegmentName(first: segment.first, last: segment.last, generation: segment.generation)
            if segment.first != previousLast + 1 {
                report.problems.append(
                    ArchiveProblem(
                        kind: .segmentMissing, seq: previousLast + 1,
                        message: "no segment holds entries \(previousLast + 1)...\(segment.first - 1)"))
                previousHash = nil
            }
            previousLast = max(previousLast, segment.last)
            report.through = previousLast
            guard let manifestBytes = try await destination.get(name.object(.manifest)) else {
                let older = present.contains { $0.range == name.range && $0.generation < name.generation }
                report.problems.append(
                    ArchiveProblem(
                        kind: older ? .segmentReplayed : .segmentMissing, segment: name.description, seq: name.first,
                        message: older
                            ? "only an earlier generation of the segment is at the destination"
                            : "the segment is not at the destination"))
                previousHash = nil
                continue
            }
            let manifest: SegmentManifest
            switch Self.manifest(manifestBytes, of: segment) {
            case .matches(let found): manifest = found
            case .problem(let problem):
                report.problems.append(problem)
                previousHash = nil
                continue
            }
            let expectedRoot: ChainHash? = segment.manifestSHA256.isEmpty ? nil : segment.root
            let found = try await check(
                manifest, expectedRoot: expectedRoot, previousHash: previousHash, deleted: deleted, report: &report)
            report.problems += found
            previousHash = ChainHash(hex: manifest.lastHash)
        }
    }

    private enum ManifestCheck {
        case matches(SegmentManifest)
        case problem(ArchiveProblem)
    }

    /// The manifest in `bytes` when it is the one the list records for `segment`; otherwise
    /// the problem, named after how it differs.
    private static func manifest(_ bytes: [UInt8], of segment: ArchivedSegment) -> ManifestCheck {
        let name = SegmentName(first: segment.first, last: segment.last, generation: segment.generation)
        let manifest = try? SegmentManifest.decode(bytes)
        if !segment.manifestSHA256.isEmpty, Digest.hex(bytes) != segment.manifestSHA256 {
            let kind: ArchiveProblem.Kind
            if let manifest, manifest.first != name.first || manifest.last != name.last {
                kind = .segmentOutOfPlace
            } else if let manifest, manifest.generation < name.generation {
                kind = .segmentReplayed
            } else {
                kind = .manifestEdited
            }
            return .problem(
                ArchiveProblem(
                    kind: kind, segment: name.description, seq: name.first,
                    message: "the manifest is not the one recorded for entries \(name.first)...\(name.last)"))
        }
        guard let manifest, manifest.first == name.first, manifest.last == name.last, manifest.generation == name.generation
        else {
            return .problem(
                ArchiveProblem(
                    kind: manifest == nil ? .manifestEdited : .segmentOutOfPlace, segment: name.description, seq: name.first,
                    message: "the manifest does not describe entries \(name.first)...\(name.last)"))
        }
        return .matches(manifest)
    }

    /// The catalog at the destination, when it is there and signed by one of the keys.
    private func signedCatalog(_ report: inout ArchiveVerification) async throws -> ArchiveCatalog? {
        guard let bytes = try await destination.get(ArchiveCatalog.objectName) else {
            report.problems.append(ArchiveProblem(kind: .catalogInvalid, message: "the archive has no signed catalog"))
            return nil
        }
        guard let note = try? SignedNote(parsing: bytes), isSigned(note), let catalog = ArchiveCatalog(text: note.text) else {
            report.problems.append(ArchiveProblem(kind: .catalogInvalid, message: "the catalog is malformed or not signed by the key"))
            return nil
        }
        return catalog
    }

    private func isSigned(_ note: SignedNote) -> Bool {
        keys.contains { key in (try? note.verify(with: key)) != nil }
    }

    /// Checks one segment whose manifest is the expected one.
    private func check(
        _ manifest: SegmentManifest, expectedRoot: ChainHash?, previousHash: ChainHash?, deleted: [ClosedRange<Int64>],
        report: inout ArchiveVerification
    ) async throws -> [ArchiveProblem] {
        let name = manifest.name
        func problem(_ kind: ArchiveProblem.Kind, _ seq: Int64? = nil, _ message: String) -> ArchiveProblem {
            ArchiveProblem(kind: kind, segment: name.description, seq: seq, message: message)
        }
        report.segments += 1
        report.entries += manifest.last - manifest.first + 1
        var problems: [ArchiveProblem] = []
        // The checkpoint: signed by the log's key, of the manifest's origin.
        guard let note = try? SignedNote(parsing: Array(manifest.checkpoint.utf8)), let checkpoint = try? Checkpoint(text: note.text)
        else { return [problem(.checkpointMismatch, nil, "the manifest's checkpoint is malformed")] }
        guard isSigned(note), checkpoint.origin == manifest.origin else {
            return [problem(.segmentForeign, nil, "the segment's checkpoint is not signed by the log's key")]
        }
        if let previousHash, manifest.prevHash != previousHash.hex {
            problems.append(problem(.segmentForeign, manifest.first, "the segment does not link to the entry before it"))
        }
        guard let data = try await destination.get(name.object(.data)) else {
            return problems + [problem(.dataEdited, nil, "the data file is missing")]
        }
        guard Digest.hex(data) == manifest.data.sha256, data.count == manifest.data.bytes else {
            return problems + [problem(.dataEdited, nil, "the data file's SHA-256 differs from the manifest's")]
        }
        let index = try await destination.get(name.object(.index))
        if index.map(Digest.hex) != manifest.index.sha256 {
            problems.append(problem(.indexEdited, nil, "the index file's SHA-256 differs from the manifest's"))
        }
        let reader = SegmentReader(manifest: manifest, data: data)
        guard reader.framesAreWellFormed else { return problems + [problem(.dataEdited, nil, "the frames do not cover the range")] }
        guard let borderHashes = Optional(manifest.border.compactMap(ChainHash.init(base64:))),
            borderHashes.count == manifest.border.count,
            var tree = MerkleAccumulator(count: manifest.first - 1, border: borderHashes),
            var previous = ChainHash(hex: manifest.prevHash)
        else { return problems + [problem(.checkpointMismatch, nil, "the manifest's Merkle border is malformed")] }
        let purged = manifest.purged.compactMap { $0.count == 2 && $0[0] <= $0[1] ? $0[0]...$0[1] : nil }
        var leaves: [ChainHash] = []
        leaves.reserveCapacity(Int(manifest.last - manifest.first + 1))
        var rebuilt = SegmentIndex()
        var chainBroken = false
        var remains = false
        var recorded = RecordedTimes()
        let frames: [(entries: [SegmentReader.Entry], index: SegmentIndex)]
        do {
            frames = try reader.allFrames(indexing: rebuildsIndexes)
        } catch {
            return problems + [problem(.dataEdited, nil, "a frame cannot be read: \(error.message)")]
        }
        for (entries, frameIndex) in frames {
            rebuilt.append(frameIndex)
            for entry in entries {
                if let canonical = entry.canonical {
                    report.withContent += 1
                    canonical.withUnsafeBufferPointer { recorded.add($0) }
                    let link = canonical.withUnsafeBufferPointer(CanonicalEntry.link)
                    if !chainBroken, link.seq != entry.seq || link.prevHash != previous {
                        chainBroken = true
                        problems.append(problem(.entryMismatch, entry.seq, "the entry does not chain to the one before it"))
                    }
                    if !remains, deleted.contains(where: { $0.contains(entry.seq) }) || purged.contains(where: { $0.contains(entry.seq) }) {
                        remains = true
                        problems.append(problem(.deletedContentRemains, entry.seq, "the segment holds content a retention run deleted"))
                    }
                }
                leaves.append(entry.entryHash)
                tree.append(entryHash: entry.entryHash)
                previous = entry.entryHash
            }
        }
        // Recorded times, where the manifest gives them, are what retention runs rely on to
        // pass a segment over: they must be exactly its entries' earliest and latest.
        if manifest.recordedFrom != nil || manifest.recordedThrough != nil,
            recorded != RecordedTimes(earliest: manifest.recordedFrom, latest: manifest.recordedThrough)
        {
            problems.append(problem(.entryMismatch, manifest.first, "the manifest's recorded times differ from its entries'"))
        }
        if !chainBroken, previous.hex != manifest.lastHash {
            problems.append(problem(.entryMismatch, manifest.last, "the last entry's hash differs from the manifest's"))
        }
        let root = MerkleTree.root(ofEntries: leaves)
        if root.base64 != manifest.root || (expectedRoot.map { $0 != root } ?? false) {
            problems.append(problem(.rootMismatch, manifest.first, "the entries do not make the segment's recorded Merkle root"))
        }
        let proof = manifest.consistency.compactMap(ChainHash.init(base64:))
        if proof.count != manifest.consistency.count || checkpoint.size < manifest.last
            || (try? MerkleProof.verifyConsistency(
                from: manifest.last, to: checkpoint.size, oldRoot: tree.root, newRoot: checkpoint.root, proof: proof)) == nil
        {
            problems.append(problem(.checkpointMismatch, manifest.last, "the range's tree does not extend to the signed checkpoint"))
        }
        if rebuildsIndexes, let index, Digest.hex(index) == manifest.index.sha256, (try? SegmentIndex.decode(index)) != rebuilt {
            problems.append(problem(.indexEdited, nil, "the index does not match the entries"))
        }
        return problems
    }
}
