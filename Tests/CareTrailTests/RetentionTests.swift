import AuditAnalysis
import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import GRDB
import Synchronization
import Testing

/// Retention: categories recorded when written, legal holds, and a run that deletes expired
/// content while the chain, the Merkle tree and old proofs still hold.
@Suite("Retention")
struct RetentionTests: AgingLogFixture {
    let folder = temporaryFolder()
    let clock = MovableClock("2019-01-01T00:00:00.000Z")

    @Test func eachCallRecordsItsCategoryInItsHashedBodyWhicheverPathPreparedIt() throws {
        let log = try makeLog()
        try ingest(log, calls(2, tool: "get_patient_record", patient: "PAT-1", conversation: "c-1"))
        try ingest(log, calls(1, tool: "charge_payment", patient: "PAT-2", conversation: "c-2"))
        try ingest(log, calls(1, tool: "search_patients", patient: "PAT-2", conversation: "c-3"))
        // An agent cannot choose its own category: the contract has no such field.
        let forged = calls(1, tool: "get_patient_record", patient: "PAT-3", conversation: "c-4")
            .replacingOccurrences(of: "\"model\"", with: "\"retention_category\":\"general\",\"model\"")
        #expect(throws: CareTrailError.self) { try ingest(log, forged) }
        // The tree path (a call the one pass leaves to it: a nested result) records it too.
        let nested = calls(1, tool: "update_treatment", patient: "PAT-3", conversation: "c-5")
            .replacingOccurrences(of: "{\"status\":\"ok\"}", with: "{\"status\":{\"code\":\"ok\"}}")
        try ingest(log, nested)
        let categories = try log.entries(from: 1, through: 100).map { RetentionPlan.recordedCategory(inBody: $0.content.body) }
        #expect(categories == ["healthcare", "healthcare", "financial", "healthcare", "healthcare"])
        #expect(try log.verify().isIntact)
    }

    @Test func aRunDeletesExpiredContentKeepsHoldsAndEveryProofStillHolds() throws {
        let log = try makeLog()
        try ingest(log, calls(4, tool: "get_patient_record", patient: "PAT-1", conversation: "conv-health"))
        try ingest(log, calls(4, tool: "charge_payment", patient: "PAT-2", conversation: "conv-money"))
        try ingest(log, calls(4, tool: "get_lab_results", patient: "PAT-3", conversation: "conv-purgeable-marker"))
        try ingest(log, calls(4, tool: "get_lab_results", patient: "PAT-4", conversation: "conv-held"))
        let hold = try log.placeHold(.patient("PAT-4"), reason: "litigation matter 2019-17", by: "counsel")
        clock.advance(days: 400)
        try ingest(log, calls(4, tool: "get_lab_results", patient: "PAT-3", conversation: "conv-recent"))
        // Pad the log so every entry above has postings (blocks of four).
        try ingest(log, calls(4, tool: "get_lab_results", patient: "PAT-5", conversation: "conv-pad"))

        let keys = try log.signingKeys(origin: "hospital.example/audit", create: true)
        let before = try log.signCheckpoint(keys: keys)
        let purgeable = try log.entries(from: 1, through: 100).filter { $0.content.conversationID == "conv-purgeable-marker" }
        let kept = try log.entries(from: 1, through: 100).filter { $0.content.conversationID == "conv-health" }
        #expect(purgeable.count == 4)
        #expect(try bytesOnDisk().range(of: Data("conv-purgeable-marker".utf8)) != nil)

        let dry = try log.runRetention(dryRun: true)
        #expect(dry.plan.deleted == ["general": 4])
        #expect(dry.plan.held == 4)
        #expect(dry.record == nil)
        #expect(try log.entries(from: 1, through: 100).count(where: { $0.content.conversationID == "conv-purgeable-marker" }) == 4)

        let run = try log.runRetention(dryRun: false)
        #expect(run.plan.deleted == ["general": 4])
        #expect(run.plan.ranges == [purgeable[0].seq...purgeable[3].seq])
        let record = try #require(run.record)
        let purge = try #require(try log.entries(from: record.seq, through: record.seq).first.flatMap(RetentionPurge.init))
        #expect(purge.ranges.map { $0.first...$0.last } == run.plan.ranges)
        #expect(purge.policyVersion == 0)

        let full = try log.verify()
        #expect(full.isIntact, "\(full.problem?.description ?? "")")
        #expect(try log.entries(from: 1, through: 100).allSatisfy { $0.content.conversationID != "conv-purgeable-marker" })
        #expect(try bytesOnDisk().range(of: Data("conv-purgeable-marker".utf8)) == nil)

        // Reports: the held patient keeps everything; the purged patient keeps the recent calls.
        #expect(try log.patientReport(.patientID("PAT-4"), from: nil, to: nil).accesses.count == 4)
        #expect(try log.patientReport(.patientID("PAT-3"), from: nil, to: nil).accesses.count == 4)

        // Proofs against the checkpoint signed before the run: kept and deleted entries alike.
        for entry in [kept[0], purgeable[1]] {
            let proof = try log.inclusionProof(seq: entry.seq, treeSize: before.checkpoint.size)
            #expect(proof.root == before.checkpoint.root)
            #expect(proof.leafHash == MerkleTree.leafHash(entry.entryHash))
            try proof.verify()
        }
        #expect(try log.checkExtends(before.note, keys: [before.verifierKey]) == nil)

        // Nothing more expires until the health and financial periods end; then all but the hold.
        #expect(try log.runRetention(dryRun: true).plan.count == 0)
        try log.releaseHold(id: hold.id, by: "counsel")
        clock.advance(days: 7 * 366)
        let late = try log.runRetention(dryRun: false)
        #expect(late.plan.deleted == ["healthcare": 4, "financial": 4, "general": 12])
        #expect(try log.verify().isIntact)
    }

    @Test func aRunJudgesPeriodsToTheMillisecondWhileReadingOnlyEntriesOldEnoughToHaveExpired() throws {
        let log = try makeLog()
        try ingest(log, calls(2, tool: "get_lab_results", patient: "PAT-1", conversation: "conv-first"))
        try ingest(log, calls(2, tool: "get_patient_record", patient: "PAT-1", conversation: "conv-health"))
        clock.advance(milliseconds: 1)
        try ingest(log, calls(4, tool: "get_lab_results", patient: "PAT-2", conversation: "conv-second"))
        clock.advance(days: 30)
        try ingest(log, calls(4, tool: "get_lab_results", patient: "PAT-3", conversation: "conv-pad"))
        let seqs = { (conversation: String) in
            try log.entries(from: 1, through: 100).filter { $0.content.conversationID == conversation }.map(\.seq)
        }
        let (first, second) = (try seqs("conv-first"), try seqs("conv-second"))

        // A year after the first calls, to the millisecond: they have expired, and the calls
        // recorded a millisecond later have not; the health records beside them are kept.
        clock.advance(days: 365 - 30)
        clock.advance(milliseconds: -1)
        let atAYear = try log.runRetention(dryRun: true).plan
        #expect(atAYear.deleted == ["general": 2])
        #expect(atAYear.ranges == [first[0]...first[1]])
        #expect(atAYear.oldestExpiring(policy: log.retentionPolicy.policy) == Timestamp(rfc3339: "2019-01-01T00:00:00.000Z"))
        clock.advance(milliseconds: -1)
        #expect(try log.runRetention(dryRun: true).plan.count == 0)
        clock.advance(milliseconds: 2)
        let run = try log.runRetention(dryRun: false).plan
        #expect(run.deleted == ["general": 6])
        #expect(run.ranges == [first[0]...first[1], second[0]...second[3]])
        #expect(try log.verify().isIntact)
        // The log's clock still orders what is left: purged entries count as older than any.
        let day = try #require(Timestamp(rfc3339: "2019-01-02T00:00:00.000Z"))
        #expect(try log.firstSeq(recordedAtOrAfter: day) == (try seqs("conv-pad")).first)
        #expect(try log.firstSeq(recordedAtOrAfter: try #require(clock.now.adding(milliseconds: 1))) == (try log.head()?.seq ?? 0) + 1)
    }

    @Test func verifyFlagsContentMissingWithoutAPurgeRecordAtTheHeadInTheMiddleAndAtTheTail() throws {
        for position in ["head", "middle", "tail"] {
            let folder = temporaryFolder()
            let path = folder.appendingPathComponent("audit.sqlite").path
            let log = try AuditLog.create(database: path)
            _ = try log.ingest(path: try sampleWorkload(lines: 40, in: folder))
            let last = try #require(try log.entries(from: 1, through: 1000).last?.seq)
            let seq: Int64 = position == "head" ? 1 : position == "middle" ? last / 2 : last
            try DatabaseQueue(path: path).writeWithoutTransaction { db in
                try db.execute(sql: "UPDATE entry SET canonical = '' WHERE seq = ?", arguments: [seq])
            }
            let report = try log.verify()
            #expect(report.problem?.kind == .purgedWithoutRecord, "\(position)")
            #expect(report.problem?.seq == seq, "\(position)")
        }
    }

    @Test func aSealedHashChangedAfterThePurgeIsCaught() throws {
        let log = try makeLog()
        try ingest(log, calls(8, tool: "get_lab_results", patient: "PAT-3", conversation: "conv-a"))
        clock.advance(days: 400)
        try ingest(log, calls(8, tool: "get_lab_results", patient: "PAT-5", conversation: "conv-b"))
        let run = try log.runRetention(dryRun: false)
        #expect(run.plan.count == 8)
        #expect(try log.verify().isIntact)
        try DatabaseQueue(path: path).writeWithoutTransaction { db in
            try db.execute(sql: "DROP TRIGGER entry_is_append_only_update")
            try db.execute(sql: "UPDATE entry SET entry_hash = zeroblob(32) WHERE seq = 3")
        }
        // The stored Merkle nodes catch it first; with those rebuilt to match, the purge
        // record's chained root still does.
        #expect(try log.verify().problem?.kind == .merkleMismatch)
        try DatabaseQueue(path: path).writeWithoutTransaction { db in try db.execute(sql: "DELETE FROM merkle_node") }
        let report = try log.verify()
        #expect(report.problem?.kind == .purgeMismatch, "\(report.problem?.description ?? "intact")")
        #expect(report.problem?.seq == 1)
    }

    @Test func holdsAreChainedAndCheckedAtTheBoundary() throws {
        let log = try makeLog()
        let hold = try log.placeHold(.range(first: 1, last: 10), reason: "audit 2019", by: "officer")
        #expect(hold.id == "hold-\(hold.seq)")
        #expect(try log.holds().map(\.isActive) == [true])
        #expect(throws: CareTrailError.self) { try log.placeHold(.range(first: 5, last: 1), reason: "bad range", by: "x") }
        #expect(throws: CareTrailError.self) { try log.placeHold(.patient("PAT-1"), reason: "", by: "x") }
        #expect(throws: CareTrailError.self) { try log.releaseHold(id: "hold-999", by: "x") }
        try log.releaseHold(id: hold.id, by: "officer")
        #expect(throws: CareTrailError.self) { try log.releaseHold(id: hold.id, by: "officer") }
        #expect(try log.holds().first?.releasedBy == "officer")
        #expect(try log.verify().isIntact)
    }
}
