import AuditAnalysis
import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Testing

/// Complete blocks are answered from posting lists and per-block counters; the block still
/// filling by probing and reading. Both must give the same answers.
@Suite("Posting lists and the block still filling agree")
struct PostingEquivalenceTests {
    let folder = temporaryFolder()

    @Test func lookupsReportsAndToolStatisticsAreTheSameFromBlocksAndFromTheTail() throws {
        let sample = FixturePath.url("workload/sample.jsonl").path
        // 5,177 entries: one complete block of 4,096 and a tail, versus all of it in the tail.
        let blocks = try AuditLog.create(database: folder.appendingPathComponent("blocks.sqlite").path, postingBlockShift: 12)
        let keyFile = AuditLog.defaultKeyFile(forDatabase: folder.appendingPathComponent("blocks.sqlite").path)
        let tailPath = folder.appendingPathComponent("tail.sqlite").path
        _ = try AuditLog.create(database: tailPath, keyFile: folder.appendingPathComponent("unused-keys.json").path)
        let tail = try AuditLog.open(database: tailPath, keyFile: keyFile)
        // Spans of one block: the complete block is merged into a span as soon as it is written.
        let spansPath = folder.appendingPathComponent("spans.sqlite").path
        _ = try AuditLog.create(
            database: spansPath, keyFile: folder.appendingPathComponent("unused-keys-2.json").path, postingBlockShift: 12,
            postingSpanShift: 0
        )
        let spans = try AuditLog.open(database: spansPath, keyFile: keyFile)
        _ = try blocks.ingest(path: sample)
        _ = try tail.ingest(path: sample)
        _ = try spans.ingest(path: sample)

        #expect(try blocks.toolStatistics() == (try tail.toolStatistics()))
        #expect(try spans.toolStatistics() == (try tail.toolStatistics()))
        #expect(
            try blocks.toolStatistics(tool: "order_lab", fromDay: "2026-01-05", toDay: "2026-01-05")
                == (try tail.toolStatistics(tool: "order_lab", fromDay: "2026-01-05", toDay: "2026-01-05")))
        let stats = try blocks.toolStatistics()
        #expect(stats.reduce(0) { $0 + $1.calls } == 5_000)

        let burst = try #require(try blocks.alerts().first { $0.alert.kind == .patientAccessBurst }?.alert.patientID)
        for subject in [AuditLog.ReportSubject.patientID(burst), .clearText("Maria Garcia"), .patientID("PAT-000001")] {
            // The whole rows, except when each log recorded them.
            func rows(_ log: AuditLog) throws -> [AccessRow] {
                try log.patientReport(subject, from: nil, to: nil).accesses.map { access in
                    var row = access.row
                    row.recordedAt = ""
                    return row
                }
            }
            let expected = try rows(tail)
            #expect(try rows(blocks) == expected, "\(subject)")
            #expect(try rows(spans) == expected, "\(subject)")
        }
        #expect(try blocks.patientReport(.clearText("Maria Garcia"), from: nil, to: nil).accesses.count > 50)
        for query in [EntryQuery.user("usr-0007"), .conversation("conv-0000100"), .trace("tr-00000500")] {
            #expect(try blocks.entries(query).map(\.seq) == (try tail.entries(query)).map(\.seq), "\(query)")
            #expect(try spans.entries(query).map(\.seq) == (try tail.entries(query)).map(\.seq), "\(query)")
        }
    }
}
