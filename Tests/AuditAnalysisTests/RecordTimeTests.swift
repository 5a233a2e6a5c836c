import AuditAnalysis
import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Testing

/// Agents' clocks cannot switch detection off: the future is refused, and late records are
/// judged in their own windows against the stored history.
@Suite("Alerts a clock cannot switch off")
struct RecordTimeTests {
    let folder = temporaryFolder()
    var database: String { folder.appendingPathComponent("audit.sqlite").path }

    /// A read of `patient` dated `minutesAgo` before the log's clock.
    func read(_ patient: String, _ clock: TestClock, minutesAgo: Double, user: String = "usr-0007") -> IngestRecord {
        let time = Timestamp(millisecondsSinceEpoch: clock.read().millisecondsSinceEpoch - Int64(minutesAgo * 60_000))
        return .toolCall(
            ToolCall(
                tenantID: "hospital-0", conversationID: "conv-1", userID: user, model: "m", toolName: "get_patient_record",
                purposeOfUse: .treatment, patientID: patient, timestamp: time
            ))
    }

    @Test func aRecordFromTheFutureIsRefusedAndDetectionGoesOn() async throws {
        let clock = TestClock("2026-06-01T12:00:00Z")
        let log = try AuditLog.create(database: database, clock: clock.read)
        let future = IngestRecord.toolCall(
            ToolCall(
                tenantID: "hospital-0", conversationID: "conv-1", userID: "usr-1", model: "m", toolName: "get_patient_record",
                purposeOfUse: .treatment, patientID: "PAT-1", timestamp: Timestamp(rfc3339: "2999-01-01T00:00:00Z")
            ))
        do {
            _ = try await log.record([future])
            Issue.record("a record dated in 2999 was accepted")
        } catch {
            #expect(error.recordErrors.first?.code == .timestampSkew)
        }
        // Ten accesses now still raise a burst.
        for minute in 0..<10 { _ = try await log.record(read("PAT-2", clock, minutesAgo: Double(10 - minute))) }
        #expect(try log.alerts().contains { $0.alert.kind == .patientAccessBurst && $0.alert.patientID == "PAT-2" })
    }

    /// A burst backdated by three hours, and one two days old (marked late), each raise their
    /// alert, which says it was late; a scan of the log agrees with live detection.
    @Test func backdatedAndLateBurstsRaiseAlertsAndTheScanAgrees() async throws {
        let clock = TestClock("2026-06-01T12:00:00Z")
        let log = try AuditLog.create(database: database, clock: clock.read)
        // Present activity first, so the detector's windows have moved on.
        for minute in 0..<5 { _ = try await log.record(read("PAT-NOW", clock, minutesAgo: Double(5 - minute))) }
        for minute in 0..<10 { _ = try await log.record(read("PAT-3H", clock, minutesAgo: 189 - Double(minute))) }
        let batch = (0..<10).map { read("PAT-2D", clock, minutesAgo: 2 * 1440 + 9 - Double($0), user: "usr-0008") }
        _ = try await log.record(batch)
        let alerts = try log.alerts().map(\.alert)
        let backdated = try #require(alerts.first { $0.kind == .patientAccessBurst && $0.patientID == "PAT-3H" })
        #expect(backdated.rule["late"] == .bool(true))
        let late = try #require(alerts.first { $0.kind == .patientAccessBurst && $0.patientID == "PAT-2D" })
        #expect(late.summary.contains("late"))
        // The two-day-old records carry the late mark.
        let firstSeq = try #require(late.entrySeqs.first)
        let entry = try #require(try log.entry(seq: firstSeq))
        #expect(entry.content.body.contains(#""late":true"#))
        let scan = try log.scanAlerts()
        #expect(scan.matches, "missing \(scan.missing.count), unexpected \(scan.unexpected.count)")
        // A reopened log (its detector warmed up from the log) agrees too, and raises no more.
        let reopened = try AuditLog.open(database: database, clock: clock.read)
        _ = try await reopened.record(read("PAT-2D", clock, minutesAgo: 2 * 1440 + 11, user: "usr-0008"))
        #expect(try reopened.scanAlerts().matches)
        #expect(try reopened.alerts().filter { $0.alert.patientID == "PAT-2D" }.count == 1)
    }
}
