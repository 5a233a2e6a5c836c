import AuditAnalysis
public import AuditArchive
import AuditChain
import AuditCore
public import AuditKeys
import AuditStorage

extension AuditLog {
    /// A retention run over the hot log and the archive at `destination`: deletes every entry
    /// whose period has ended and that no hold keeps, wherever its content is.
    ///
    /// Archived entries are judged from the segments' content. Each segment that loses
    /// entries is rewritten as its next generation, those entries held by hash only, with the
    /// same Merkle root, checkpoint and consistency proof; it is read back and checked before
    /// the hot log changes. Then one transaction seals the hot entries and chains the
    /// `retention_purge` record naming the new generations; only after that are the old
    /// generations deleted and the catalog rewritten. A crash before the record leaves the old
    /// generation current (the new one is removed by the next run); after it, the old one is
    /// stale until the next run removes it, and verification names it until then.
    public func runRetention(dryRun: Bool, archive destination: any ArchiveDestination, keys: SigningKeyRing)
        async throws(CareTrailError) -> RetentionRun
    {
        // Kept small, its state in one object: with Swift 6.3 (debug builds), a larger body
        // with more values held across its `await`s made the async frame overrun its
        // allocation (glibc: "malloc assertion failure in sysmalloc").
        let segments = try archivedSegments()
        if !dryRun {
            try await removeStrayObjects(destination, current: segments, frontier: (segments.last?.last ?? 0) + 1, origin: keys.origin)
        }
        let judged = try startJudging()
        for segment in segments {
            try await judge(segment, from: destination, into: judged)
        }
        try finishJudging(judged)
        guard !dryRun, !judged.plan.ranges.isEmpty else { return RetentionRun(plan: judged.plan, record: nil, archived: judged.archived) }
        let verifier = Self.readBackVerifier(destination, keys: keys)
        for segment in segments {
            guard let seqs = judged.deleting[segment.first], !seqs.isEmpty else { continue }
            judged.rewritten.append(try await rewrite(segment, deleting: seqs, at: destination, verifier: verifier))
        }
        let head = try purge(judged)
        let current = try archivedSegments()
        try await removeStrayObjects(destination, current: current, frontier: (current.last?.last ?? 0) + 1, origin: keys.origin)
        try await writeCatalog(destination, segments: current, keys: keys)
        return RetentionRun(plan: judged.plan, record: head, archived: judged.archived)
    }

    /// What a retention run over the archive has found so far.
    final class ArchiveJudgement {
        let policy: RetentionPolicy
        let version: Int64
        let holds: LegalHolds
        let now: Timestamp
        var plan: RetentionPlan
        /// The sequence numbers to delete, by the first of their segment.
        var deleting: [Int64: Set<Int64>] = [:]
        /// The segments' next generations, as written.
        var rewritten: [ArchivedSegment] = []

        init(policy: RetentionPolicy, version: Int64, holds: LegalHolds, now: Timestamp) {
            self.policy = policy
            self.version = version
            self.holds = holds
            self.now = now
            plan = RetentionPlan(policyVersion: version, now: now)
        }

        /// Archived entries to delete.
        var archived: Int { deleting.values.reduce(0) { $0 + $1.count } }

        /// Whether a segment may hold an entry whose period has ended: not when it holds no
        /// content, nor when its earliest entry was recorded after the shortest period began.
        /// Such a segment is passed over without reading its data.
        func mayHoldExpired(_ manifest: SegmentManifest) -> Bool {
            guard manifest.withContent > 0 else { return false }
            guard let from = manifest.recordedFrom.flatMap(Timestamp.init(rfc3339:)) else { return true }
            return !(plan.oldestExpiring(policy: policy) < from)
        }
    }

    private func startJudging() throws(CareTrailError) -> ArchiveJudgement {
        let (policy, version) = retentionPolicy
        return ArchiveJudgement(policy: policy, version: version, holds: LegalHolds(try holds()), now: store.clock())
    }

    /// Judges an archived segment's entries, unless its manifest shows that none can have
    /// expired. A function of its own to keep the caller's async frame small (see above).
    private func judge(_ segment: ArchivedSegment, from destination: any ArchiveDestination, into judged: ArchiveJudgement)
        async throws(CareTrailError)
    {
        let manifest = try await readManifest(segment, from: destination)
        guard judged.mayHoldExpired(manifest) else { return }
        try judge(try await readSegment(segment, manifest: manifest, from: destination), into: judged)
    }

    /// Judges a segment's entries.
    private func judge(_ reader: SegmentReader, into judged: ArchiveJudgement) throws(CareTrailError) {
        do {
            try reader.forEachEntry { entry throws(ArchiveError) in
                guard let canonical = entry.canonical else { return }
                let stored = CanonicalEntry.decode(canonical, seq: entry.seq, entryHash: entry.entryHash)
                if judged.plan.consider(stored, policy: judged.policy, holds: judged.holds) {
                    judged.deleting[reader.manifest.first, default: []].insert(entry.seq)
                }
            }
        } catch {
            throw CareTrailError(code: .archive, message: "\(reader.manifest.name) cannot be read", cause: error)
        }
    }

    /// Judges the hot log's entries.
    private func finishJudging(_ judged: ArchiveJudgement) throws(CareTrailError) {
        try storeCall { () throws(StoreError) in
            try judged.plan.consider(reading: store, through: try store.purgeableThrough(), policy: judged.policy, holds: judged.holds)
        }
    }

    /// Seals the hot entries and chains the purge record naming the new generations.
    private func purge(_ judged: ArchiveJudgement) throws(CareTrailError) -> ChainHead {
        let keyID = sanitizer.pseudonymizer.keyID
        return try storeCall { () throws(StoreError) in
            try store.purge(judged.plan.ranges) { sealed in
                EncodedEntry(
                    RetentionPurge(
                        ranges: sealed, deleted: judged.plan.deleted, held: judged.plan.held, policyVersion: judged.version,
                        judgedAt: judged.now.description, segments: judged.rewritten
                    ).content(keyID: keyID))
            }
        }
    }

    /// The segment's manifest, checked against what the chain records of it.
    func readManifest(_ segment: ArchivedSegment, from destination: any ArchiveDestination) async throws(CareTrailError)
        -> SegmentManifest
    {
        do {
            return try await SegmentManifest.read(of: segment, from: destination)
        } catch {
            throw CareTrailError(
                code: .archive, message: "the archive's segment \(segment.first)...\(segment.last) cannot be used", cause: error)
        }
    }

    /// The segment's manifest and data, checked against what the chain records of it; with
    /// `manifest`, one already read through ``readManifest(_:from:)``, which is not read again.
    func readSegment(_ segment: ArchivedSegment, manifest known: SegmentManifest? = nil, from destination: any ArchiveDestination)
        async throws(CareTrailError) -> SegmentReader
    {
        let manifest: SegmentManifest
        if let known { manifest = known } else { manifest = try await readManifest(segment, from: destination) }
        return try await readData(segment, manifest: manifest, from: destination)
    }

    /// The segment's data, checked against its manifest.
    private func readData(_ segment: ArchivedSegment, manifest: SegmentManifest, from destination: any ArchiveDestination)
        async throws(CareTrailError) -> SegmentReader
    {
        let name = SegmentName(first: segment.first, last: segment.last, generation: segment.generation)
        do {
            guard let data = try await destination.get(name.object(.data)) else {
                throw ArchiveError(code: .destination, message: "\(name) is not at \(destination.address)")
            }
            let reader = SegmentReader(manifest: manifest, data: data)
            guard SegmentManifest.sha256(data) == manifest.data.sha256, reader.framesAreWellFormed else {
                throw ArchiveError(code: .readBack, message: "\(name) differs from what the chain records; run verify --archive")
            }
            return reader
        } catch {
            throw CareTrailError(code: .archive, message: "the archive's segment \(name) cannot be used", cause: error)
        }
    }

    /// Writes the next generation of `segment` without the content of the entries `deleting`
    /// names, reads it back and checks it; returns it as the chain will record it.
    private func rewrite(
        _ segment: ArchivedSegment, deleting: Set<Int64>, at destination: any ArchiveDestination, verifier: ArchiveVerifier
    ) async throws(CareTrailError) -> ArchivedSegment {
        let reader = try await readSegment(segment, from: destination)
        let manifest = reader.manifest
        let purged = manifest.purged.compactMap { $0.count == 2 && $0[0] <= $0[1] ? $0[0]...$0[1] : nil }
        let name = manifest.name
        do {
            guard let previous = ChainHash(hex: manifest.prevHash),
                let border = MerkleAccumulator(count: manifest.first - 1, border: manifest.border.compactMap(ChainHash.init(base64:))),
                let checkpoint = try? SignedNote(parsing: Array(manifest.checkpoint.utf8))
            else { throw ArchiveError(code: .malformed, message: "\(name): the manifest cannot be read") }
            var builder = SegmentBuilder(first: manifest.first, prevHash: previous)
            try reader.forEachEntry { entry throws(ArchiveError) in
                if let canonical = entry.canonical {
                    try canonical.withUnsafeBufferPointer { bytes throws(ArchiveError) in
                        try builder.add(
                            seq: entry.seq, entryHash: entry.entryHash, canonical: bytes, deleting: deleting.contains(entry.seq))
                    }
                } else {
                    try builder.addHash(seq: entry.seq, entryHash: entry.entryHash, purged: purged.contains { $0.contains(entry.seq) })
                }
            }
            let objects = try builder.finish(
                generation: manifest.generation + 1, origin: manifest.origin, border: border, checkpoint: checkpoint,
                consistency: manifest.consistency.compactMap(ChainHash.init(base64:)))
            for object in objects.objects { try await destination.put(object.name, object.bytes) }
            let next = ArchivedSegment(
                first: segment.first, last: segment.last, root: segment.root, generation: manifest.generation + 1,
                manifestSHA256: objects.manifestSHA256)
            let check = try await verifier.verify(segments: [next], after: segment.first - 1, previousHash: previous)
            guard check.isIntact else {
                throw ArchiveError(
                    code: .readBack,
                    message: "\(objects.name) read back wrong (\(check.problems.map(\.kind.rawValue).joined(separator: ", ")))")
            }
            return next
        } catch {
            throw CareTrailError(code: .archive, message: "segment \(name) was not rewritten; nothing was deleted", cause: error)
        }
    }
}
