import AuditAnalysis
import AuditChain
import AuditCore
import AuditKeys
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import PropertyBased
import Synchronization
import Testing

@testable import AuditArchive

/// A destination that stops answering after a number of writes, as a server that fails
/// mid-upload does.
final class FailingDestination: ArchiveDestination {
    let inner: DirectoryDestination
    private let writesLeft: Mutex<Int>

    init(_ inner: DirectoryDestination, failAfter writes: Int) {
        self.inner = inner
        writesLeft = Mutex(writes)
    }

    var address: String { inner.address }

    func put(_ name: String, _ bytes: [UInt8]) async throws(ArchiveError) {
        let allowed = writesLeft.withLock { left -> Bool in
            left -= 1
            return left >= 0
        }
        guard allowed else { throw ArchiveError(code: .destination, message: "connection reset", cause: "test") }
        try await inner.put(name, bytes)
    }

    func get(_ name: String) async throws(ArchiveError) -> [UInt8]? { try await inner.get(name) }
    func list() async throws(ArchiveError) -> [String] { try await inner.list() }
    func delete(_ name: String) async throws(ArchiveError) { try await inner.delete(name) }
}

/// The cold archive: segments written, read back and checked before content leaves the hot
/// log; the chain, the Merkle tree and old proofs still hold; damage to segments is named.
@Suite("Archive")
struct ArchiveTests: AgingLogFixture {
    let folder = temporaryFolder()
    let clock = MovableClock("2019-01-01T00:00:00.000Z")

    func archiveBytes() throws -> Data {
        var data = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: archiveFolder.path) {
            data.append(try Data(contentsOf: archiveFolder.appendingPathComponent(name)))
        }
        return data
    }

    /// A log with 24 old calls (in three conversations), then 200 days later 8 recent ones.
    func oldAndRecent() throws -> (AuditLog, SigningKeyRing) {
        let log = try makeLog()
        try ingest(log, calls(8, tool: "get_patient_record", patient: "PAT-1", conversation: "conv-old-health"))
        try ingest(log, calls(8, tool: "charge_payment", patient: "PAT-2", conversation: "conv-old-money"))
        try ingest(log, calls(8, tool: "get_lab_results", patient: "PAT-3", conversation: "conv-old-labs"))
        clock.advance(days: 200)
        try ingest(log, calls(8, tool: "get_lab_results", patient: "PAT-3", conversation: "conv-recent"))
        return (log, try log.signingKeys(origin: "hospital.example/audit", create: true))
    }

    func verifyStandalone(_ keys: SigningKeyRing) async throws -> ArchiveVerification {
        try await ArchiveVerifier(destination: destination, keys: AuditLog.verifierKeys(keys)).verify(.catalog)
    }

    @Test func archivingMovesOldContentToCheckedSegmentsAndEveryProofStillHolds() async throws {
        let (log, keys) = try oldAndRecent()
        let before = try log.signCheckpoint(keys: keys)
        let old = try log.entries(from: 1, through: 24)
        #expect(try bytesOnDisk().range(of: Data("conv-old-labs".utf8)) != nil)

        let run = try await log.archive(to: destination, keys: keys, segmentEntries: 10)
        try log.compactStorage()
        #expect(run.entries == 24)
        #expect(run.withContent == 24)
        #expect(run.segments.map { $0.first...$0.last } == [1...10, 11...20, 21...24])

        // The content left the hot log, its hashes stayed: the chain and the tree hold.
        #expect(try bytesOnDisk().range(of: Data("conv-old-labs".utf8)) == nil)
        let report = try log.verify()
        #expect(report.isIntact, "\(report.problem?.description ?? "")")
        for entry in old {
            let proof = try log.inclusionProof(seq: entry.seq, treeSize: before.checkpoint.size)
            #expect(proof.root == before.checkpoint.root)
            try proof.verify()
        }
        #expect(try log.checkExtends(before.note, keys: AuditLog.verifierKeys(keys)) == nil)

        // The segments hold the entries byte for byte; both checks pass.
        var archived: [Int64: [UInt8]] = [:]
        for manifest in run.segments {
            let data = try #require(try await destination.get(manifest.name.object(.data)))
            try SegmentReader(manifest: manifest, data: data).forEachEntry { entry in archived[entry.seq] = entry.canonical }
        }
        for entry in old {
            let bytes = try #require(archived[entry.seq])
            #expect(bytes.withUnsafeBufferPointer(CanonicalEntry.hash) == entry.entryHash)
        }
        let chained = try await log.verifyArchive(destination, keys: AuditLog.verifierKeys(keys))
        #expect(chained.isIntact, "\(chained.problems)")
        #expect(chained.withContent == 24)
        let standalone = try await verifyStandalone(keys)
        #expect(standalone.isIntact, "\(standalone.problems)")
        #expect(standalone.through == 24)

        // Nothing recent moved; a second run has nothing to do and changes nothing.
        let again = try await log.archive(to: destination, keys: keys, segmentEntries: 10)
        #expect(again.segments.isEmpty)
        #expect(try log.entries(from: 25, through: 200).count(where: { $0.content.conversationID == "conv-recent" }) == 8)
    }

    @Test func laterRunsContinueTheArchiveFromItsLastSegment() async throws {
        let (log, keys) = try oldAndRecent()
        _ = try await log.archive(to: destination, keys: keys, segmentEntries: 16)
        clock.advance(days: 200)
        try ingest(log, calls(8, tool: "get_patient_record", patient: "PAT-4", conversation: "conv-later"))
        let run = try await log.archive(to: destination, keys: keys, segmentEntries: 16)
        // The recent calls, the checkpoint and archive records between them, and nothing newer.
        #expect(run.segments.first?.first == 25)
        #expect(run.withContent == 8)
        #expect(try log.verify().isIntact)
        let standalone = try await verifyStandalone(keys)
        #expect(standalone.isIntact, "\(standalone.problems)")
        let chained = try await log.verifyArchive(destination, keys: AuditLog.verifierKeys(keys))
        #expect(chained.isIntact, "\(chained.problems)")
        #expect(chained.withContent == 32)
    }

    @Test func aDestinationThatFailsMidUploadLeavesTheHotLogWhole() async throws {
        let (log, keys) = try oldAndRecent()
        let head = try #require(try log.head())
        // Four objects go through: the first segment's three, and one of the second's.
        let failing = FailingDestination(destination, failAfter: 4)
        await #expect(throws: CareTrailError.self) { try await log.archive(to: failing, keys: keys, segmentEntries: 10) }
        // The first segment was chained before the failure; the second and third were not.
        #expect(try log.archivedSegments().map(\.range) == [1...10])
        #expect(try log.entries(from: 11, through: 24).count == 14)
        #expect(try log.verify().isIntact)
        _ = head
        // A later run removes the stray objects and finishes the job.
        let run = try await log.archive(to: destination, keys: keys, segmentEntries: 10)
        #expect(run.segments.map(\.first) == [11, 21])
        let standalone = try await verifyStandalone(keys)
        #expect(standalone.isIntact, "\(standalone.problems)")
    }

    @Test func damageToSegmentsIsCaughtWithNamedReasons() async throws {
        let (log, keys) = try oldAndRecent()
        _ = try await log.archive(to: destination, keys: keys, segmentEntries: 8)
        let names = try FileManager.default.contentsOfDirectory(atPath: archiveFolder.path).compactMap(SegmentName.init(object:))
        let segments = Array(Set(names)).sorted()
        #expect(segments.count == 3)
        let pristine = folder.appendingPathComponent("pristine")
        try FileManager.default.copyItem(at: archiveFolder, to: pristine)
        func restore() throws {
            try FileManager.default.removeItem(at: archiveFolder)
            try FileManager.default.copyItem(at: pristine, to: archiveFolder)
        }
        func problems() async throws -> (chain: Set<String>, standalone: Set<String>) {
            let chained = try await log.verifyArchive(destination, keys: AuditLog.verifierKeys(keys))
            let alone = try await verifyStandalone(keys)
            return (Set(chained.problems.map(\.kind.rawValue)), Set(alone.problems.map(\.kind.rawValue)))
        }
        func file(_ segment: SegmentName, _ part: SegmentName.Part) -> URL {
            archiveFolder.appendingPathComponent(segment.object(part))
        }

        // One byte of a data file edited.
        var data = try Data(contentsOf: file(segments[1], .data))
        data[data.count / 2] ^= 0x01
        try data.write(to: file(segments[1], .data))
        var found = try await problems()
        #expect(found.chain == ["data_edited"])
        #expect(found.standalone == ["data_edited"])
        try restore()

        // Two segments swapped: each one's objects under the other's names.
        for part in SegmentName.Part.allCases {
            let a = try Data(contentsOf: file(segments[0], part))
            let b = try Data(contentsOf: file(segments[1], part))
            try b.write(to: file(segments[0], part))
            try a.write(to: file(segments[1], part))
        }
        found = try await problems()
        #expect(found.chain.contains("segment_out_of_place"))
        #expect(found.standalone.contains("segment_out_of_place"))
        try restore()

        // One dropped.
        for part in SegmentName.Part.allCases { try FileManager.default.removeItem(at: file(segments[2], part)) }
        found = try await problems()
        #expect(found.chain == ["segment_missing"])
        #expect(found.standalone == ["segment_missing"])
        try restore()

        // A segment's objects replaced by another log's first segment: not signed by our key.
        let other = folder.appendingPathComponent("other.sqlite").path
        let clock = self.clock
        let otherLog = try AuditLog.create(database: other, clock: { clock.now }, postingBlockShift: 2, postingSpanShift: 2)
        try ingest(otherLog, calls(8, tool: "get_patient_record", patient: "PAT-9", conversation: "conv-other"))
        let otherKeys = try otherLog.signingKeys(origin: "elsewhere.example/audit", create: true)
        let otherArchive = DirectoryDestination(directory: folder.appendingPathComponent("other-archive"))
        clock.advance(days: 200)
        let otherRun = try await otherLog.archive(to: otherArchive, keys: otherKeys, segmentEntries: 8)
        #expect(otherRun.segments.count == 1)
        for name in try await otherArchive.list() where SegmentName(object: name) != nil {
            guard let part = SegmentName.part(ofObject: name) else { continue }
            try await destination.put(segments[0].object(part), try #require(try await otherArchive.get(name)))
        }
        found = try await problems()
        #expect(found.chain.contains("manifest_edited"))
        #expect(found.standalone.contains("manifest_edited"))
        try restore()

        let intact = try await problems()
        #expect(intact.chain.isEmpty)
        #expect(intact.standalone.isEmpty)
    }

    @Test func retentionDeletesArchivedEntriesByRewritingTheirSegmentAndAReplayIsCaught() async throws {
        let (log, keys) = try oldAndRecent()
        let before = try log.signCheckpoint(keys: keys)
        _ = try await log.archive(to: destination, keys: keys, segmentEntries: 10)
        let firstGeneration = folder.appendingPathComponent("generation-1")
        try FileManager.default.copyItem(at: archiveFolder, to: firstGeneration)

        // 200 days later the old lab results (general, 365 days) have expired; nothing else has.
        clock.advance(days: 200)
        let dry = try await log.runRetention(dryRun: true, archive: destination, keys: keys)
        #expect(dry.plan.deleted == ["general": 8])
        #expect(dry.archived == 8)
        #expect(try log.archivedSegments().allSatisfy { $0.generation == 1 })
        let run = try await log.runRetention(dryRun: false, archive: destination, keys: keys)
        #expect(run.plan.summary(archived: run.archived) == (try JSONParser.parse(#"{"deleted":{"general":8},"held":0,"archived":8}"#)))

        // The segments that held them are at their second generation; the first is gone.
        let segments = try log.archivedSegments()
        #expect(segments.map(\.generation) == [1, 2, 2])
        let names = try await destination.list()
        #expect(!names.contains { $0.contains(".g1.") && !$0.hasPrefix("segment-000000000001-") })
        var remaining: [Int64: [UInt8]] = [:]
        for segment in segments {
            let name = SegmentName(first: segment.first, last: segment.last, generation: segment.generation)
            let manifest = try SegmentManifest.decode(try #require(try await destination.get(name.object(.manifest))))
            let data = try #require(try await destination.get(name.object(.data)))
            try SegmentReader(manifest: manifest, data: data).forEachEntry { entry in remaining[entry.seq] = entry.canonical }
        }
        #expect((17...24).allSatisfy { remaining[$0] == nil })
        #expect((1...16).allSatisfy { remaining[$0] != nil })

        let secondGeneration = folder.appendingPathComponent("generation-2")
        try FileManager.default.copyItem(at: archiveFolder, to: secondGeneration)

        // The hot log, both archive checks and the old proofs still hold.
        #expect(try log.verify().isIntact)
        let chained = try await log.verifyArchive(destination, keys: AuditLog.verifierKeys(keys))
        #expect(chained.isIntact, "\(chained.problems)")
        let standalone = try await verifyStandalone(keys)
        #expect(standalone.isIntact, "\(standalone.problems)")
        for seq in [Int64(3), 18, 30] {
            let proof = try log.inclusionProof(seq: seq, treeSize: before.checkpoint.size)
            #expect(proof.root == before.checkpoint.root)
            try proof.verify()
        }

        // The first generation put back in place of the second: replayed, and content that
        // retention deleted is back.
        for object in try FileManager.default.contentsOfDirectory(atPath: firstGeneration.path) {
            guard let name = SegmentName(object: object), name.first > 1, let part = SegmentName.part(ofObject: object) else { continue }
            let bytes = try Data(contentsOf: firstGeneration.appendingPathComponent(object))
            try bytes.write(
                to: archiveFolder.appendingPathComponent(SegmentName(first: name.first, last: name.last, generation: 2).object(part)))
        }
        let replayed = try await log.verifyArchive(destination, keys: AuditLog.verifierKeys(keys))
        #expect(Set(replayed.problems.map(\.kind)) == [.segmentReplayed])
        let replayedAlone = try await verifyStandalone(keys)
        #expect(Set(replayedAlone.problems.map(\.kind)) == [.segmentReplayed])

        // The first generation left beside the second: stale, with content retention deleted.
        try FileManager.default.removeItem(at: archiveFolder)
        try FileManager.default.copyItem(at: secondGeneration, to: archiveFolder)
        for object in try FileManager.default.contentsOfDirectory(atPath: firstGeneration.path)
        where SegmentName(object: object).map({ $0.first > 1 }) ?? false {
            try FileManager.default.copyItem(
                at: firstGeneration.appendingPathComponent(object), to: archiveFolder.appendingPathComponent(object))
        }
        let stale = try await log.verifyArchive(destination, keys: AuditLog.verifierKeys(keys))
        #expect(Set(stale.problems.map(\.kind)) == [.staleGeneration])
        let staleAlone = try await verifyStandalone(keys)
        #expect(Set(staleAlone.problems.map(\.kind)) == [.staleGeneration])
    }

    @Test func retentionPassesOverSegmentsTooYoungToHoldExpiredEntriesWithoutReadingTheirData() async throws {
        let log = try makeLog()
        try ingest(log, calls(8, tool: "get_lab_results", patient: "PAT-1", conversation: "conv-old"))
        clock.advance(days: 200)
        let younger = clock.now.description
        try ingest(log, calls(8, tool: "get_lab_results", patient: "PAT-2", conversation: "conv-younger"))
        clock.advance(days: 200)
        try ingest(log, calls(8, tool: "get_lab_results", patient: "PAT-3", conversation: "conv-recent"))
        let keys = try log.signingKeys(origin: "hospital.example/audit", create: true)
        let run = try await log.archive(to: destination, keys: keys, segmentEntries: 8)
        #expect(run.segments.map { [$0.first, $0.last] } == [[1, 8], [9, 16]])
        #expect(
            run.segments.map { [$0.recordedFrom, $0.recordedThrough] } == [
                ["2019-01-01T00:00:00.000Z", "2019-01-01T00:00:00.000Z"], [younger, younger],
            ])

        // The second segment's entries are 200 days old: no period of a year or more has ended,
        // so a run judges the first segment and never asks for the second's data.
        let second = run.segments[1].name
        try FileManager.default.removeItem(at: archiveFolder.appendingPathComponent(second.object(.data)))
        let dry = try await log.runRetention(dryRun: true, archive: destination, keys: keys)
        #expect(dry.plan.deleted == ["general": 8])
        #expect(dry.archived == 8)
        let checked = try await log.verifyArchive(destination, keys: AuditLog.verifierKeys(keys))
        #expect(checked.problems.map(\.kind) == [.dataEdited])

        // Recorded times come both or neither, the first not after the second.
        var manifest = run.segments[0]
        manifest.recordedThrough = nil
        #expect(throws: ArchiveError.self) { try SegmentManifest.decode(manifest.encoded()) }
        manifest.recordedThrough = "2018-12-31T23:59:59.999Z"
        #expect(throws: ArchiveError.self) { try SegmentManifest.decode(manifest.encoded()) }
        manifest.recordedFrom = nil
        manifest.recordedThrough = nil
        #expect(try SegmentManifest.decode(manifest.encoded()) == manifest)
    }

    @Test func aScheduledRunArchivesOldEntriesThenDeletesExpiredOnes() async throws {
        let (log, keys) = try oldAndRecent()
        clock.advance(days: 200)
        let schedule = RetentionSchedule(log: log, interval: 3600, archive: (destination, keys))
        let run = try await schedule.runNow()
        #expect(run.plan.deleted == ["general": 8])
        #expect(run.archived == 8)
        #expect(schedule.status.archived == 32)
        let chained = try await log.verifyArchive(destination, keys: AuditLog.verifierKeys(keys))
        #expect(chained.isIntact, "\(chained.problems)")
    }

    @Test(
        arguments: [
            #""last":24"#: #""last":9223372036854775807"#, #""generation":1"#: #""generation":9223372036854775807"#,
            #""offset":0"#: #""offset":9223372036854775000"#,
        ] as [String: String])
    func aManifestWithValuesBeyondWhatTheArchiveWritesIsMalformedNotATrap(original: String, hostile: String) async throws {
        let (log, keys) = try oldAndRecent()
        let run = try await log.archive(to: destination, keys: keys, segmentEntries: 24)
        let manifest = try #require(run.segments.first)
        let text = String(decoding: manifest.encoded(), as: UTF8.self)
        #expect(text.contains(original))
        #expect(throws: ArchiveError.self) {
            try SegmentManifest.decode(Array(text.replacingOccurrences(of: original, with: hostile).utf8))
        }
        #expect(SegmentName(object: "segment-000000000001-999999999999.g1.data") == nil)
    }

    @Test func aSegmentIndexWithBytesChangedIsReadOrRefusedNeverATrap() async throws {
        let (log, keys) = try oldAndRecent()
        let run = try await log.archive(to: destination, keys: keys, segmentEntries: 24)
        let name = try #require(run.segments.first).name
        let stored = try #require(try await destination.get(name.object(.index)))
        let original = try SegmentIndex.decode(stored)
        #expect(original.patients.count == 3)
        #expect(original.seqs(.conversation("conv-old-labs")) == Array(17...24))
        let raw = try FrameCodec.inflate(stored[...], limit: 1 << 20)
        // Every class of damage to the stored form: a byte changed, cut short, grown, a count
        // or a gap made huge (a run of 0xFF continuation bytes).
        await propertyCheck(count: 200, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var bytes = raw
            let position = SegmentIndex.format.utf8.count + seed % max(1, raw.count - SegmentIndex.format.utf8.count)
            switch seed % 4 {
            case 0: bytes[position] = UInt8(truncatingIfNeeded: seed >> 8)
            case 1: bytes.removeSubrange(position...)
            case 2: bytes.insert(contentsOf: [UInt8](repeating: 0xFF, count: 1 + seed % 12), at: position)
            default: bytes.append(UInt8(truncatingIfNeeded: seed))
            }
            guard let deflated = try? FrameCodec.deflate(bytes) else { return }
            _ = try? SegmentIndex.decode(deflated)
        }
    }
}
