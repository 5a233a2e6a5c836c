public import AuditArchive
public import AuditChain
public import AuditCore
public import AuditKeys
public import AuditStorage
import Foundation

extension AuditLog {
    /// What an archive run did.
    public struct ArchiveRun: Sendable {
        /// The segments written and chained, in order.
        public var segments: [SegmentManifest] = []
        /// Entries the new segments cover, and those whose content left the hot log.
        public var entries: Int64 = 0
        public var withContent: Int64 = 0
        /// Bytes written to the destination (data, index and manifest).
        public var bytes: Int = 0

        /// Counts a segment the run wrote and chained.
        mutating func add(_ built: BuiltSegment) {
            guard let objects = built.objects else { return }
            segments.append(objects.manifest)
            entries += objects.manifest.last - objects.manifest.first + 1
            withContent += Int64(objects.manifest.withContent)
            bytes += objects.objects.reduce(0) { $0 + $1.bytes.count }
        }
    }

    /// The archive's segments as the chain records them, current generation each.
    public func archivedSegments() throws(CareTrailError) -> [ArchivedSegment] {
        let (segments, unreadable) = try storeCall { () throws(StoreError) in
            ArchivedSegment.current(from: try store.entries(kind: .archive) + (try store.entries(kind: .retentionPurge)))
        }
        if let unreadable { throw CareTrailError(code: .store, message: "the archive record at seq \(unreadable) cannot be read") }
        return segments
    }

    /// Moves the content of entries older than the policy's `hot_days` (and older than
    /// `before`, when given) to `destination`, in segments of `segmentEntries` entries.
    ///
    /// For each segment, in order: the segment's objects are written, read back and checked
    /// (data hash, hash chain, Merkle root, consistency with a checkpoint signed for this
    /// run); only then are the entries sealed in the hot log, which keeps their sequence
    /// numbers and hashes, and an `archive` record chained, in one transaction. A crash leaves
    /// every segment either archived and chained, or in the hot log with stray objects at the
    /// destination, which the next run removes. The signed catalog is written last.
    ///
    /// Three segments are in work at once: one is built (read from the hot log, indexed and
    /// deflated: mostly CPU) while the one before it is written and checked, and the one
    /// before that is sealed (mostly SQLite). A segment is sealed only once its own objects
    /// are checked and the segment before it is sealed.
    public func archive(
        to destination: any ArchiveDestination, before: Timestamp? = nil, keys: SigningKeyRing, segmentEntries: Int64 = 65_536
    ) async throws(CareTrailError) -> ArchiveRun {
        guard (1...1_048_576).contains(segmentEntries) else {
            throw CareTrailError(code: .invalidArgument, message: "a segment holds 1 to 1,048,576 entries")
        }
        let now = store.clock()
        var cutoff = now.adding(milliseconds: -Int64(retentionPolicy.policy.hotDays) * 86_400_000) ?? now
        if let limit = before, limit < cutoff { cutoff = limit }
        var existing = try archivedSegments()
        let start = (existing.last?.last ?? 0) + 1
        try await removeStrayObjects(destination, current: existing, frontier: start, origin: keys.origin)
        let through = try storeCall { () throws(StoreError) in try store.purgeableThrough() }
        var run = ArchiveRun()
        if through >= start {
            let (border, previousHash) = try await border(before: start, existing: existing.last, destination: destination)
            let plan = SegmentPlan(
                through: through, cutoff: cutoff, segmentEntries: segmentEntries, signed: try signCheckpoint(keys: keys),
                verifier: Self.readBackVerifier(destination, keys: keys))
            let progress = ArchiveProgress(existing: existing, previousHash: previousHash)
            progress.next = buildingSegment(first: start, previousHash: previousHash, border: border, plan: plan)
            try await archiveSegments(progress, plan: plan, to: destination)
            existing = progress.existing
            run = progress.run
            if !run.segments.isEmpty { try storeCall { () throws(StoreError) in try store.checkpoint() } }
        }
        try await writeCatalog(destination, segments: existing, keys: keys)
        return run
    }

    /// A run's state between segments. A class, so that the loop's async frame holds one
    /// reference: with Swift 6.3, `inout` values held across its `await`s made a release build
    /// abort ("freed pointer was not the last allocation" in the task allocator).
    final class ArchiveProgress: @unchecked Sendable {
        // Used by one task at a time: the run's loop.
        var existing: [ArchivedSegment]
        var run = ArchiveRun()
        var previousHash: ChainHash
        var next: Task<BuiltSegment, any Error>?
        var sealing: Task<Void, any Error>?

        init(existing: [ArchivedSegment], previousHash: ChainHash) {
            self.existing = existing
            self.previousHash = previousHash
        }
    }

    /// The run's loop: takes each built segment, starts building the next, writes and checks
    /// this one, then seals it once the one before is sealed.
    private func archiveSegments(_ progress: ArchiveProgress, plan: SegmentPlan, to destination: any ArchiveDestination)
        async throws(CareTrailError)
    {
        do {
            while let building = progress.next {
                try await archiveSegment(building, progress, plan: plan, to: destination)
            }
            try await Self.sealed(progress.sealing)
        } catch {
            // The segment being sealed is chained whole or not at all; the run stops after it.
            try? await Self.sealed(progress.sealing)
            throw error
        }
    }

    /// One step of the loop: the segment `building` builds is written, checked and queued
    /// for sealing; the next starts building.
    private func archiveSegment(
        _ building: Task<BuiltSegment, any Error>, _ progress: ArchiveProgress, plan: SegmentPlan, to destination: any ArchiveDestination
    ) async throws(CareTrailError) {
        let built = try await Self.finished(building)
        progress.next = nil
        // The run ends with a segment cut short by the first entry still hot.
        guard let last = built.last else { return }
        if last == built.planned, last < plan.through {
            progress.next = buildingSegment(first: last + 1, previousHash: built.lastHash, border: built.border, plan: plan)
        }
        let segment = try await writeAndCheck(built, previousHash: progress.previousHash, verifier: plan.verifier, to: destination)
        try await Self.sealed(progress.sealing)
        progress.sealing = sealingSegment(segment, checkpointSize: plan.signed.checkpoint.size)
        progress.existing.append(segment)
        progress.run.add(built)
        progress.previousHash = built.lastHash
    }

    /// Rewrites the hot database so that the space of sealed entries is given back: sealing
    /// empties rows in place and leaves their pages allocated. What `caretrail archive` does
    /// after a run that sealed anything; writers wait while it runs.
    public func compactStorage() throws(CareTrailError) {
        try storeCall { () throws(StoreError) in try store.compact() }
    }

    /// A segment built from the hot log, with the tree's border and the chain's hash after it.
    ///
    /// Building is synchronous and kept out of ``archive(to:before:keys:segmentEntries:)``
    /// on purpose: with Swift 6.3, large values held across `await`s in that loop made the async
    /// frame overrun its allocation (AddressSanitizer: a heap overflow in the task allocator).
    final class BuiltSegment: Sendable {
        /// The segment's objects; `nil` when its first entry is still hot.
        let objects: SegmentObjects?
        let border: MerkleAccumulator
        let lastHash: ChainHash
        /// The last entry the segment would have taken had none been hot.
        let planned: Int64

        init(objects: SegmentObjects?, border: MerkleAccumulator, lastHash: ChainHash, planned: Int64) {
            self.objects = objects
            self.border = border
            self.lastHash = lastHash
            self.planned = planned
        }

        /// The segment's last entry; `nil` when it holds none.
        var last: Int64? { objects?.manifest.last }
    }

    /// What every segment of a run is built and checked against. A class, for the same
    /// reason as ``ArchiveProgress``.
    final class SegmentPlan: Sendable {
        /// The last entry a run may reach: postings are written through it.
        let through: Int64
        /// Entries recorded at or after this time stay hot, and so does every entry after them.
        let cutoff: Timestamp
        let segmentEntries: Int64
        let signed: SignedCheckpoint
        let verifier: ArchiveVerifier

        init(through: Int64, cutoff: Timestamp, segmentEntries: Int64, signed: SignedCheckpoint, verifier: ArchiveVerifier) {
            self.through = through
            self.cutoff = cutoff
            self.segmentEntries = segmentEntries
            self.signed = signed
            self.verifier = verifier
        }
    }

    /// The verifier that reads back what a run has just written: it checks each index by its
    /// hash rather than rebuilding it from the entries the run indexed itself.
    ///
    /// Made here, not in the async functions that use it: with Swift 6.3 (debug builds), a
    /// mutable verifier held across their `await`s made the async frame overrun its
    /// allocation, as a defaulted `Bool` parameter had before (glibc: "malloc assertion
    /// failure in sysmalloc").
    static func readBackVerifier(_ destination: any ArchiveDestination, keys: SigningKeyRing) -> ArchiveVerifier {
        var verifier = ArchiveVerifier(destination: destination, keys: verifierKeys(keys))
        verifier.rebuildsIndexes = false
        return verifier
    }

    /// Starts building the segment from `first` on a thread of its own (building blocks on
    /// SQLite and the CPU, which must not hold up a cooperative thread).
    private func buildingSegment(first: Int64, previousHash: ChainHash, border: MerkleAccumulator, plan: SegmentPlan)
        -> Task<BuiltSegment, any Error>
    {
        Task {
            try await withCheckedThrowingContinuation { continuation in
                _ = ThreadJob.start {
                    continuation.resume(
                        with: Result { () throws(CareTrailError) in
                            try self.buildSegment(first: first, previousHash: previousHash, border: border, plan: plan)
                        })
                }
            }
        }
    }

    /// The segment a ``buildingSegment(first:previousHash:border:plan:)`` task built.
    private static func finished(_ task: Task<BuiltSegment, any Error>) async throws(CareTrailError) -> BuiltSegment {
        do {
            return try await task.value
        } catch let error as CareTrailError {
            throw error
        } catch {
            throw CareTrailError(code: .archive, message: "a segment cannot be built", cause: error)
        }
    }

    /// Builds the segment from `first`: up to `segmentEntries` entries through `plan.through`,
    /// ending before the first entry recorded at or after the cutoff, so that archives take
    /// whole leading runs of old entries. Entries without content (deleted by retention) go
    /// with their neighbours.
    private func buildSegment(first: Int64, previousHash: ChainHash, border start: MerkleAccumulator, plan: SegmentPlan)
        throws(CareTrailError) -> BuiltSegment
    {
        let planned = min(plan.through, first + plan.segmentEntries - 1)
        var builder = SegmentBuilder(first: first, prevHash: previousHash)
        var border = start
        var lastHash = previousHash
        var failure: ArchiveError?
        let cutoff = plan.cutoff
        try storeCall { () throws(StoreError) in
            try store.forEachCanonical(from: first, through: planned) { seq, hash, canonical in
                var kind: String?
                if !canonical.isEmpty {
                    let (read, recorded) = CanonicalEntry.texts("kind", "recorded_at", in: canonical)
                    guard let recorded, let time = Timestamp(rfc3339: recorded), time < cutoff else { return false }
                    kind = read
                }
                do throws(ArchiveError) {
                    try builder.add(seq: seq, entryHash: hash, canonical: canonical, kind: kind)
                } catch {
                    failure = error
                    return false
                }
                border.append(entryHash: hash)
                lastHash = hash
                return true
            }
        }
        let last = builder.next - 1
        do {
            if let failure { throw failure }
            guard builder.count > 0 else { return BuiltSegment(objects: nil, border: border, lastHash: lastHash, planned: planned) }
            let proof = try consistencyProof(from: last, to: plan.signed.checkpoint.size)
            let objects = try builder.finish(
                generation: 1, origin: plan.signed.checkpoint.origin, border: start, checkpoint: plan.signed.note,
                consistency: proof.hashes)
            return BuiltSegment(objects: objects, border: border, lastHash: lastHash, planned: planned)
        } catch let error as CareTrailError {
            throw error
        } catch {
            throw CareTrailError(code: .archive, message: "segment \(first)...\(last) cannot be built", cause: error)
        }
    }

    /// Seals a checked segment's entries and chains its `archive` record, on a thread of its
    /// own (sealing blocks on SQLite).
    private func sealingSegment(_ segment: ArchivedSegment, checkpointSize: Int64) -> Task<Void, any Error> {
        let record = EncodedEntry(
            ArchiveRecord(segments: [segment], checkpointSize: checkpointSize).content(keyID: sanitizer.pseudonymizer.keyID))
        return Task {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                _ = ThreadJob.start {
                    continuation.resume(
                        with: Result { () throws(CareTrailError) in
                            _ = try storeCall { () throws(StoreError) in
                                try self.store.sealArchived([segment.first...segment.last], record: record)
                            }
                        })
                }
            }
        }
    }

    /// Waits for a ``sealingSegment(_:checkpointSize:)`` task, if there is one.
    private static func sealed(_ task: Task<Void, any Error>?) async throws(CareTrailError) {
        guard let task else { return }
        do {
            try await task.value
        } catch let error as CareTrailError {
            throw error
        } catch {
            throw CareTrailError(code: .archive, message: "a segment cannot be sealed", cause: error)
        }
    }

    /// Writes a built segment's objects, reads them back and checks them; returns the segment
    /// as the chain will record it.
    private func writeAndCheck(
        _ built: BuiltSegment, previousHash: ChainHash, verifier: ArchiveVerifier, to destination: any ArchiveDestination
    ) async throws(CareTrailError) -> ArchivedSegment {
        guard let objects = built.objects else { throw CareTrailError(code: .archive, message: "an empty segment cannot be written") }
        let manifest = objects.manifest
        let range = "\(manifest.first)...\(manifest.last)"
        do {
            for object in objects.objects { try await destination.put(object.name, object.bytes) }
        } catch {
            throw CareTrailError(code: .archive, message: "segment \(range) was not written", cause: error)
        }
        let segment = ArchivedSegment(
            first: manifest.first, last: manifest.last, root: ChainHash(base64: manifest.root) ?? .genesis, generation: 1,
            manifestSHA256: objects.manifestSHA256)
        // Read back and check before anything leaves the hot log.
        let problems: [String]
        do {
            problems = try await verifier.verify(segments: [segment], after: manifest.first - 1, previousHash: previousHash).problems
                .map(\.kind.rawValue)
        } catch {
            throw CareTrailError(code: .archive, message: "segment \(range) cannot be read back", cause: error)
        }
        guard problems.isEmpty else {
            throw CareTrailError(
                code: .archive, message: "segment \(range) read back wrong (\(problems.joined(separator: ", "))); nothing left the hot log")
        }
        return segment
    }

    /// The Merkle tree's border before entry `first`, and the hash of the entry before it:
    /// from the last archived segment's manifest and its entries' kept hashes.
    private func border(before first: Int64, existing lastSegment: ArchivedSegment?, destination: any ArchiveDestination)
        async throws(CareTrailError) -> (MerkleAccumulator, ChainHash)
    {
        guard let last = lastSegment else { return (MerkleAccumulator(), .genesis) }
        let name = SegmentName(first: last.first, last: last.last, generation: last.generation)
        let manifest: SegmentManifest
        do {
            guard let bytes = try await destination.get(name.object(.manifest)) else {
                throw ArchiveError(code: .destination, message: "\(name) is not at \(destination.address)")
            }
            manifest = try SegmentManifest.decode(bytes)
        } catch {
            throw CareTrailError(
                code: .archive, message: "the archive's last segment cannot be read: is this the log's archive?", cause: error)
        }
        guard var border = MerkleAccumulator(count: last.first - 1, border: manifest.border.compactMap(ChainHash.init(base64:))) else {
            throw CareTrailError(code: .archive, message: "\(name): the manifest's Merkle border is malformed")
        }
        var previous = ChainHash.genesis
        try storeCall { () throws(StoreError) in
            try store.forEachCanonical(from: last.first, through: last.last) { _, hash, _ in
                border.append(entryHash: hash)
                previous = hash
                return true
            }
        }
        return (border, previous)
    }

    /// Signs and writes the catalog of the current segments.
    func writeCatalog(_ destination: any ArchiveDestination, segments: [ArchivedSegment], keys: SigningKeyRing)
        async throws(CareTrailError)
    {
        let catalog = ArchiveCatalog(origin: keys.origin, segments: segments)
        do {
            let note = try Self.signer(keys).sign(catalog.text)
            try await destination.put(ArchiveCatalog.objectName, Array(note.serialized.utf8))
        } catch {
            throw CareTrailError(code: .archive, message: "the archive's catalog was not written", cause: error)
        }
    }

    /// Removes segment objects the chain does not name as current: earlier generations of a
    /// current segment, which a retention run replaced, and segments from `frontier` on, which
    /// a run that crashed before chaining left. Refuses a destination whose catalog is another
    /// log's, so that one log never removes another's segments.
    func removeStrayObjects(_ destination: any ArchiveDestination, current: [ArchivedSegment], frontier: Int64, origin: String)
        async throws(CareTrailError)
    {
        let names = Set(current.map { SegmentName(first: $0.first, last: $0.last, generation: $0.generation) })
        let ranges = Set(current.map(\.range))
        do {
            if let bytes = try await destination.get(ArchiveCatalog.objectName) {
                guard let note = try? SignedNote(parsing: bytes), let catalog = ArchiveCatalog(text: note.text), catalog.origin == origin
                else {
                    throw CareTrailError(
                        code: .archive, message: "\(destination.address) holds the archive of another log, or a damaged catalog")
                }
            }
            for object in try await destination.list() {
                guard let name = SegmentName(object: object), !names.contains(name),
                    ranges.contains(name.range) || name.first >= frontier
                else { continue }
                try await destination.delete(object)
            }
        } catch let error as CareTrailError {
            throw error
        } catch {
            throw CareTrailError(code: .archive, message: "stray objects at the destination cannot be removed", cause: error)
        }
    }

    /// Checks the archive against the chain: every segment the chain names is at the
    /// destination as recorded, holds what its manifest says, chains and makes its root, and
    /// extends to its signed checkpoint; no content a retention run deleted remains.
    public func verifyArchive(_ destination: any ArchiveDestination, keys: [NoteVerifierKey]) async throws(CareTrailError)
        -> ArchiveVerification
    {
        let segments = try archivedSegments()
        let deleted = try storeCall { () throws(StoreError) in
            try store.entries(kind: .retentionPurge).compactMap(RetentionPurge.init).flatMap { $0.ranges.map { $0.first...$0.last } }
        }
        do {
            return try await ArchiveVerifier(destination: destination, keys: keys).verify(.chain(segments: segments, deleted: deleted))
        } catch {
            throw CareTrailError(code: .archive, message: "the archive cannot be read", cause: error)
        }
    }
}
