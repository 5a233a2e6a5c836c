import AuditAnalysis
import AuditArchive
import AuditChain
import AuditCore
import AuditExport
import AuditFHIR
import AuditKeys
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Testing

/// Reading archived entries: with the archive attached, every question a reader asks of the
/// log (reports, traces, timelines, users, tools, failures, ranges, FHIR export, SIEM
/// backlog) gets the answer it got before the entries left the hot log.
@Suite("Archive reading")
struct ArchiveReadingTests: AgingLogFixture {
    let folder = temporaryFolder()
    let clock = MovableClock("2019-01-01T00:00:00.000Z")

    /// Every answer the test compares, as text.
    struct Answers: Equatable {
        var reports: [String] = []
        var queries: [String] = []
        var range: [String] = []
        var fhir = ""
        var siem = ""
    }

    /// A log with old calls in three conversations, a burst that raised an alert about
    /// PAT-1 (an entry that stays hot among archived ones), a failure, then recent calls.
    func makeHistory() throws -> (AuditLog, SigningKeyRing) {
        let log = try makeLog()
        try ingest(log, calls(12, tool: "get_patient_record", patient: "PAT-1", conversation: "conv-old-health"))
        try ingest(log, calls(6, tool: "charge_payment", patient: "PAT-2", conversation: "conv-old-money"))
        let failure = calls(1, tool: "get_lab_results", patient: "PAT-3", conversation: "conv-old-labs")
            .replacingOccurrences(of: #""result":{"status":"ok"}"#, with: #""error":{"message":"timeout"}"#)
        try ingest(log, failure + calls(6, tool: "get_lab_results", patient: "PAT-3", conversation: "conv-old-labs"))
        clock.advance(days: 200)
        try ingest(log, calls(5, tool: "get_patient_record", patient: "PAT-1", conversation: "conv-recent"))
        return (log, try log.signingKeys(origin: "hospital.example/audit", create: true))
    }

    func answers(_ log: AuditLog, through last: Int64) throws -> Answers {
        var answers = Answers()
        func report(_ subject: AuditLog.ReportSubject) throws -> String {
            // `integrity` names the head that was verified, which the archive record moves.
            guard case .object(var members) = try log.patientReport(subject, from: nil, to: nil).jsonValue else { return "" }
            members["integrity"] = nil
            return CanonicalJSON.string(.object(members))
        }
        answers.reports = [
            try report(.patientID("PAT-1")), try report(.patientID("PAT-3")), try report(.clearText("PAT-2")),
            try report(.pseudonym(try #require(log.pseudonym(for: "PAT-3")))),
        ]
        let queries: [EntryQuery] = [
            .patient("PAT-1"), .user("usr-1"), .conversation("conv-old-labs"), .trace("tr-conv-old-money-2"),
            .tool("get_lab_results"), .failures,
        ]
        for query in queries {
            answers.queries.append(try log.entries(query).map { "\($0.seq) \($0.entryHash.hex)" }.joined(separator: ","))
        }
        answers.queries.append(try log.entries(trace: "tr-conv-old-health-4").map(\.entryHash.hex).joined())
        var paged: [Int64] = []
        try log.forEachEntry(.patient("PAT-1"), after: 3, through: last) { entry in
            paged.append(entry.seq)
            return paged.count < 5
        }
        answers.queries.append("\(paged)")
        answers.range = try log.entries(from: 1, through: last).map { CanonicalJSON.string($0.jsonValue) }
        _ = try FHIRExporter(version: .r4, format: .ndjson).export(
            store: log.reader, selection: .init(), bundleID: "b", timestamp: clock.now
        ) {
            answers.fhir += String(decoding: $0, as: UTF8.self)
            $0.removeAll()
        }
        let siemFile = folder.appendingPathComponent("siem-\(UUID().uuidString).jsonl").path
        let streamer = SIEMStreamer(
            store: log.reader, renderer: SIEMRenderer(format: .jsonl), destination: try FileDestination(path: siemFile))
        try streamer.deliverBacklog(fromSeq: 1, checkpoint: false)
        answers.siem = try String(contentsOfFile: siemFile, encoding: .utf8)
        return answers
    }

    @Test func withTheArchiveAttachedEveryReaderGetsTheAnswersItGotBeforeArchiving() async throws {
        let (log, keys) = try makeHistory()
        let last = try #require(try log.head()).seq
        let before = try answers(log, through: last)
        #expect(before.reports[0].contains("\"alerts\":[{"), "the burst's alert is in PAT-1's report")

        _ = try await log.archive(to: destination, keys: keys, segmentEntries: 8)
        try log.compactStorage()
        // Without the archive the old entries are gone from every answer.
        let reopened = try AuditLog.open(database: path, clock: { clock.now })
        let hotOnly = try answers(reopened, through: last)
        #expect(hotOnly.reports[1] != before.reports[1])
        #expect(try reopened.entries(.user("usr-1")).map(\.seq) == [28, 31], "the hot log keeps every posting it did not seal")
        #expect(hotOnly.fhir.count < before.fhir.count)

        try await reopened.attachArchive(destination)
        let after = try answers(reopened, through: last)
        #expect(after.reports == before.reports)
        #expect(after.queries == before.queries)
        #expect(after.range == before.range)
        // Exports run to the head: the archive records follow what was there before.
        #expect(after.fhir.hasPrefix(before.fhir))
        #expect(after.siem.hasPrefix(before.siem))
    }

    @Test func theArchiveTheConfigurationNamesIsAttachedAndRetentionIsSeenAfterARefresh() async throws {
        let (log, keys) = try makeHistory()
        var configuration = log.configuration
        configuration.archive = archiveFolder.path
        try log.setConfiguration(configuration, changedBy: "privacy-officer")
        let report = try log.patientReport(.patientID("PAT-3"), from: nil, to: nil)
        _ = try await log.archive(to: destination, keys: keys, segmentEntries: 8)

        let reader = try AuditLog.open(database: path, clock: { clock.now })
        try await reader.attachArchive(named: nil)
        #expect(try reader.patientReport(.patientID("PAT-3"), from: nil, to: nil).accesses == report.accesses)
        #expect(try await reader.refreshArchive() == false)

        // The old lab results expire; the reader sees the new generation once it refreshes.
        clock.advance(days: 200)
        _ = try await log.runRetention(dryRun: false, archive: destination, keys: keys)
        #expect(try await reader.refreshArchive())
        #expect(try reader.patientReport(.patientID("PAT-3"), from: nil, to: nil).accesses.isEmpty)
        #expect(try reader.patientReport(.patientID("PAT-1"), from: nil, to: nil).accesses.count == 17)
    }

    @Test func aSegmentWhoseDataWasEditedIsNotReadAsIfItWereIntact() async throws {
        let (log, keys) = try makeHistory()
        let run = try await log.archive(to: destination, keys: keys, segmentEntries: 8)
        let data = archiveFolder.appendingPathComponent(try #require(run.segments.first).name.object(.data))
        var bytes = try Data(contentsOf: data)
        bytes[bytes.count / 2] ^= 0x20
        try bytes.write(to: data)
        try await log.attachArchive(destination)
        #expect(throws: CareTrailError.self) { try log.entries(.conversation("conv-old-health")) }
    }
}
