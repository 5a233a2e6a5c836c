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
        let end = try lastArchivable(from: start, through: through, before: cutoff)
        var run = ArchiveRun()
        guard end >= start else {
            try await writeCatalog(destination, segments: existing, keys: keys)
            return run
        }
        var (border, previousHash) = try await border(before: start, existing: existing.last, destination: destination)
        let signed = try signCheckpoint(keys: keys)
        let verifier = Self.readBackVerifier(destination, keys: keys)
        var first = start
        var next = buildingSegment(
            first: first, last: min(end, first + segmentEntries - 1), previousHash: previousHash, border: border, signed: signed)
        while first <= end {
            let last = min(end, first + segmentEntries - 1)
            let built = try await Self.finished(next)
            // The next segment is built on a thread of its own while this one is written,
            // checked and sealed: building is mostly CPU, sealing mostly SQLite.
            if last < end {
                next = buildingSegment(
                    first: last + 1, last: min(end, last + segmentEntries), previousHash: built.lastHash, border: built.border,
                    signed: signed)
            }
            let segment = try await writeAndCheck(built, previousHash: previousHash, verifier: verifier, to: destination)
            let record = EncodedEntry(
                ArchiveRecord(segments: [segment], checkpointSize: signed.checkpoint.size).content(keyID: sanitizer.pseudonymizer.keyID))
            _ = try storeCall { () throws(StoreError) in try store.sealArchived([first...last], record: record) }
            existing.append(segment)
            run.segments.append(built.objects.manifest)
            run.entries += last - first + 1
            run.withContent += Int64(built.objects.manifest.withContent)
            run.bytes += built.objects.objects.reduce(0) { $0 + $1.bytes.count }
            border = built.border
            previousHash = built.lastHash
            first = last + 1
        }
        try await writeCatalog(destination, segments: existing, keys: keys)
        return run
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
        let objects: SegmentObjects
        let border: MerkleAccumulator
        let lastHash: ChainHash

        init(objects: SegmentObjects, border: MerkleAccumulator, lastHash: ChainHash) {
            self.objects = objects
            self.border = border
            self.lastHash = lastHash
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

    /// Starts building a segment on a thread of its own (building blocks on SQLite and the
    /// CPU, which must not hold up a cooperative thread).
    private func buildingSegment(
        first: Int64, last: Int64, previousHash: ChainHash, border: MerkleAccumulator, signed: SignedCheckpoint
    ) -> Task<BuiltSegment, any Error> {
        Task {
            try await withCheckedThrowingContinuation { continuation in
                _ = ThreadJob.start {
                    continuation.resume(
                        with: Result { () throws(CareTrailError) in
                            try self.buildSegment(first: first, last: last, previousHash: previousHash, border: border, signed: signed)
                        })
                }
            }
        }
    }

    /// The segment a ``buildingSegment(first:last:previousHash:border:signed:)`` task built.
    private static func finished(_ task: Task<BuiltSegment, any Error>) async throws(CareTrailError) -> BuiltSegment {
        do {
            return try await task.value
        } catch let error as CareTrailError {
            throw error
        } catch {
            throw CareTrailError(code: .archive, message: "a segment cannot be built", cause: error)
        }
    }

    private func buildSegment(
        first: Int64, last: Int64, previousHash: ChainHash, border start: MerkleAccumulator, signed: SignedCheckpoint
    ) throws(CareTrailError) -> BuiltSegment {
        var builder = SegmentBuilder(first: first, prevHash: previousHash)
        var border = start
        var lastHash = previousHash
        try storeCall { () throws(StoreError) in
            try store.forEachCanonical(from: first, through: last) { seq, hash, canonical in
                try builder.add(seq: seq, entryHash: hash, canonical: canonical)
                border.append(entryHash: hash)
                lastHash = hash
                return true
            }
        }
        let proof = try consistencyProof(from: last, to: signed.checkpoint.size)
        do {
            let objects = try builder.finish(
                generation: 1, origin: signed.checkpoint.origin, border: start, checkpoint: signed.note, consistency: proof.hashes)
            return BuiltSegment(objects: objects, border: border, lastHash: lastHash)
        } catch {
            throw CareTrailError(code: .archive, message: "segment \(first)...\(last) cannot be built", cause: error)
        }
    }

    /// Writes a built segment's objects, reads them back and checks them; returns the segment
    /// as the chain will record it.
    private func writeAndCheck(
        _ built: BuiltSegment, previousHash: ChainHash, verifier: ArchiveVerifier, to destination: any ArchiveDestination
    ) async throws(CareTrailError) -> ArchivedSegment {
        let manifest = built.objects.manifest
        let range = "\(manifest.first)...\(manifest.last)"
        do {
            for object in built.objects.objects { try await destination.put(object.name, object.bytes) }
        } catch {
            throw CareTrailError(code: .archive, message: "segment \(range) was not written", cause: error)
        }
        let segment = ArchivedSegment(
            first: manifest.first, last: manifest.last, root: ChainHash(base64: manifest.root) ?? .genesis, generation: 1,
            manifestSHA256: built.objects.manifestSHA256)
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

    /// The last entry of `first...through` before the first one recorded at or after
    /// `cutoff`: archives take whole leading runs of old entries. Entries without content
    /// (deleted by retention) go with their neighbours.
    private func lastArchivable(from first: Int64, through: Int64, before cutoff: Timestamp) throws(CareTrailError) -> Int64 {
        guard first <= through else { return first - 1 }
        var end = first - 1
        try storeCall { () throws(StoreError) in
            try store.forEachCanonical(from: first, through: through) { seq, _, canonical in
                if !canonical.isEmpty {
                    guard let recorded = CanonicalEntry.text("recorded_at", in: canonical),
                        let time = Timestamp(rfc3339: recorded), time < cutoff
                    else { return false }
                }
                end = seq
                return true
            }
        }
        return end
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
