import AuditAnalysis
import AuditChain
import AuditCore
import AuditSQLite
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Synchronization
import Testing

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let now: Mutex<Int64>
    init(_ start: String) { now = Mutex(Timestamp(rfc3339: start)?.millisecondsSinceEpoch ?? 0) }
    func advance(days: Double) { now.withLock { $0 += Int64(days * 86_400_000) } }
    var read: @Sendable () -> Timestamp { { [self] in Timestamp(millisecondsSinceEpoch: now.withLock { $0 }) } }
}

/// A read of `patient` at `minute` minutes after 08:00 on 2026-01-05.
func read(
    _ patient: String = "PAT-000042", minute: Double, user: String = "usr-0007", tenant: String = "hospital-0",
    purpose: PurposeOfUse = .treatment, breakGlass: String? = nil
) -> IngestRecord {
    let time = Timestamp(millisecondsSinceEpoch: 1_767_600_000_000 + Int64(minute * 60_000))
    return .toolCall(
        ToolCall(
            tenantID: tenant, conversationID: "conv-1", userID: user, model: "claude-sonnet-4", toolName: "get_patient_record",
            purposeOfUse: purpose, patientID: patient, timestamp: time, arguments: ["patient_name": "Maria Garcia"],
            breakGlass: breakGlass.map { BreakGlass(reason: $0) }
        ))
}

@Suite("Alerts and reviews on a real log")
struct AlertLifecycleTests {
    let folder = temporaryFolder()
    var database: String { folder.appendingPathComponent("audit.sqlite").path }

    @Test func breakTheGlassIsStoredHighAndRaisesAnAlertInTheSameCommit() async throws {
        let log = try AuditLog.create(database: database)
        let receipt = try await log.record([
            read(minute: 0, purpose: .emergencyTreatment, breakGlass: "Unconscious patient in ED, no consent possible")
        ])
        #expect(receipt.entries.map(\.seq) == [1])
        let entry = try #require(try log.entry(seq: 1))
        #expect(entry.content.body.contains("\"severity\":\"high\""))
        let alerts = try log.alerts()
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(alert.alert.kind == .breakGlass)
        #expect(alert.alert.severity == .high)
        #expect(alert.alert.entrySeqs == [1])
        #expect(alert.alert.patientID == "PAT-000042")
        #expect(alert.alert.userID == "usr-0007")
        #expect(alert.state == AlertStatus.open)
        #expect(try log.head()?.seq == 2)
    }

    @Test func detectionReadsItsHistoryBeforeTheFirstAppendWhenAskedTo() async throws {
        let writer = try AuditLog.create(database: database)
        _ = try await writer.record((0..<9).map { read(minute: Double($0)) })
        // A second process opens the log, as `caretrail serve` does, and prepares detection.
        let monitor = AlertMonitor()
        let store = try SQLiteStore.open(at: database, observer: monitor)
        #expect(monitor.observedThrough == nil)
        #expect(try store.prepareObserver() == 9)
        #expect(monitor.observedThrough == 9)
        // The tenth access within the hour raises the burst alert from the history read beforehand.
        let ninth = try #require(try store.entry(seq: 9))
        let receipt = try await store.append([ninth.content])
        #expect(receipt.entries.map(\.seq) == [10])
        #expect(receipt.head?.seq == 11)
        let alert = try #require(try store.entry(seq: 11))
        #expect(alert.content.kind == "alert")
        #expect(alert.content.body.contains("patient_access_burst"))
        // Asking again changes nothing once the detector has seen the head.
        #expect(try store.prepareObserver() == 11)
        #expect(monitor.observedThrough == 11)
    }

    @Test func aReviewIsChainedAndTheStateIsDerivedFromIt() async throws {
        let log = try AuditLog.create(database: database)
        _ = try await log.record([
            read(minute: 0, purpose: .emergencyTreatment, breakGlass: "Unconscious patient in ED, no consent possible"),
            read(minute: 1, purpose: .breakTheGlass, breakGlass: "Cardiac arrest on ward 3, chart locked"),
        ])
        let ids = try log.alerts().map(\.alert.id)
        #expect(ids == ["alert-3", "alert-4"])

        let review = try log.review(
            alertID: "alert-3", by: "po-1", decision: .justified, note: "Called back 555-123-4567, ED confirmed"
        )
        #expect(review.seq == 5)
        try log.review(alertID: "4", by: "po-1", decision: .needsFollowUp, note: "Waiting for the ward's answer")
        var states = try log.alerts()
        #expect(states.map(\.state) == [AlertStatus.reviewed, AlertStatus.open])
        #expect(states.map(\.decision) == [.justified, .needsFollowUp])
        // The note stays readable, its phone number pseudonymised.
        let note = try #require(states.first?.reviews.first?.note)
        #expect(note.hasPrefix("Called back hmac-sha256:"))
        #expect(!note.contains("555-123-4567"))

        try log.review(alertID: "alert-4", by: "po-2", decision: .unjustified, note: "No emergency on record")
        states = try log.alerts()
        #expect(states.map(\.state) == [AlertStatus.reviewed, AlertStatus.reviewed])
        #expect(states[1].reviews.map(\.reviewer) == ["po-1", "po-2"])

        #expect(throws: CareTrailError.self) { try log.review(alertID: "alert-1", by: "po-1", decision: .justified, note: "not an alert") }
        #expect(throws: CareTrailError.self) { try log.review(alertID: "alert-3", by: "usr-0007", decision: .justified, note: "my own") }
        #expect(try log.verify().isIntact)
    }

    @Test func anUnreviewedAlertIsOverdueAfterTheDeadline() async throws {
        let clock = TestClock("2026-01-05T08:00:00Z")
        let log = try AuditLog.create(database: database, clock: clock.read)
        _ = try await log.record([
            read(minute: 0, purpose: .emergencyTreatment, breakGlass: "Unconscious patient in ED, no consent possible")
        ])
        clock.advance(days: 6.99)
        #expect(try log.alerts().map(\.overdue) == [false])
        clock.advance(days: 0.02)
        #expect(try log.alerts().map(\.overdue) == [true])
        #expect(try log.alerts().first?.reviewDue?.description == "2026-01-12T08:00:00.000Z")
        try log.review(alertID: "alert-2", by: "po-1", decision: .justified, note: "Late, but justified")
        #expect(try log.alerts().map(\.overdue) == [false])

        // The deadline is configurable.
        var configuration = LogConfiguration()
        configuration.reviewDeadlineDays = 1
        try log.setConfiguration(configuration, changedBy: "admin-1")
        _ = try await log.record([
            read(minute: 2, purpose: .emergencyTreatment, breakGlass: "Unconscious patient in ED, no consent possible")
        ])
        clock.advance(days: 1.5)
        #expect(try log.alerts().filter(\.overdue).map(\.alert.id) == ["alert-6"])
    }

    @Test func alertsSurviveARestartAndVerifyCoversThem() async throws {
        do {
            let log = try AuditLog.create(database: database)
            _ = try await log.record((0..<10).map { read(minute: Double($0) * 5) })
        }
        let reopened = try AuditLog.open(database: database)
        let alerts = try reopened.alerts()
        #expect(alerts.map(\.alert.kind) == [.patientAccessBurst])
        #expect(alerts.first?.alert.entrySeqs == Array(1...10))
        let report = try reopened.verify()
        #expect(report.isIntact)
        #expect(report.entriesChecked == 11)
    }

    @Test func anEpisodeContinuesAcrossARestart() async throws {
        do {
            let log = try AuditLog.create(database: database)
            _ = try await log.record((0..<10).map { read(minute: Double($0)) })
        }
        do {
            // Five more reads in the same hour: the same episode, no new alert.
            let log = try AuditLog.open(database: database)
            _ = try await log.record((10..<15).map { read(minute: Double($0)) })
            #expect(try log.alerts().count == 1)
        }
        // After a quiet hour, a new burst is a new episode.
        let log = try AuditLog.open(database: database)
        _ = try await log.record((0..<10).map { read(minute: 120 + Double($0)) })
        #expect(try log.alerts().map(\.alert.triggerSeq) == [10, 26])
        #expect(try log.scanAlerts().matches)
    }

    @Test func writersInTwoConnectionsSeeEachOthersAccesses() async throws {
        let first = try AuditLog.create(database: database)
        let second = try AuditLog.open(database: database)
        for minute in 0..<10 {
            let writer = minute.isMultiple(of: 2) ? first : second
            _ = try await writer.record([read(minute: Double(minute))])
        }
        #expect(try first.alerts().map(\.alert.kind) == [.patientAccessBurst])
        #expect(try first.alerts().first?.alert.entrySeqs == Array(1...10))
    }

    @Test func liveDetectionAndAScanAgreeOnTheSampleWorkloadAcrossRestarts() throws {
        let text = try String(contentsOf: FixturePath.url("workload/sample.jsonl"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        let parts = [lines[..<1700], lines[1700..<4010], lines[4010...]]
        _ = try AuditLog.create(database: database)
        for (index, part) in parts.enumerated() {
            let path = folder.appendingPathComponent("part-\(index).jsonl").path
            try (part.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            _ = try AuditLog.open(database: database).ingest(path: path)
        }
        let log = try AuditLog.open(database: database)
        let live = try log.alerts()
        #expect(live.filter { $0.alert.kind == .breakGlass }.count == 9)
        #expect(live.filter { $0.alert.kind == .patientAccessBurst }.count == 1)
        let scan = try log.scanAlerts()
        #expect(scan.matches)
        #expect(Set(scan.recomputed.map(\.identity)) == Set(live.map(\.alert.identity)))
        #expect(scan.recomputed.count == live.count)
    }

    @Test func aTenantsPurposeRestrictionIsEnforcedForEveryWriter() async throws {
        let log = try AuditLog.create(database: database)
        let configuration = try LogConfiguration(json: #"{"purpose_restrictions": {"tenants": {"research-01": ["HRESCH"]}}}"#)
        try log.setConfiguration(configuration, changedBy: "admin-1")
        do {
            _ = try await log.record([read(minute: 0, tenant: "research-01", purpose: .research), read(minute: 1, tenant: "research-01")])
            Issue.record("a purpose outside the tenant's allowed set was accepted")
        } catch {
            #expect(error.code == .invalidRecords)
            #expect(error.recordErrors.map(\.code) == [.purposeNotAllowed])
            #expect(error.recordErrors.first?.field == "purpose_of_use")
            #expect(error.recordErrors.first?.line == 2)
        }
        #expect(try log.count() == 1)  // the configuration entry only: all or nothing
        _ = try await log.record([read(minute: 0, tenant: "research-01", purpose: .research), read(minute: 1)])

        // Another writer opening the log later applies the same restriction.
        let file = folder.appendingPathComponent("calls.jsonl").path
        try
            #"{"tenant_id":"research-01","conversation_id":"c","user_id":"u","model":"m","tool_name":"t","purpose_of_use":"TREAT","patient_id":"P"}"#
            .appending("\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: CareTrailError.self) { try AuditLog.open(database: database).ingest(path: file) }
        #expect(
            try AuditLog.open(database: database).configuration.purposeRestrictions.allowedCodes(forTenant: "research-01") == ["HRESCH"])
    }

    @Test func aConfigurationWithUnknownKeysOrCodesIsRefused() {
        #expect(throws: LogConfiguration.Problem.self) { try LogConfiguration(json: #"{"alert": {}}"#) }
        #expect(throws: LogConfiguration.Problem.self) {
            try LogConfiguration(json: #"{"purpose_restrictions": {"default": ["RESEARCH"]}}"#)
        }
        #expect(throws: LogConfiguration.Problem.self) {
            try LogConfiguration(json: #"{"alerts": {"patient_access_burst": {"treshold": 3}}}"#)
        }
        #expect(throws: LogConfiguration.Problem.self) {
            try LogConfiguration(json: #"{"alerts": {"after_hours": {"time_zone": "Mars/Olympus"}}}"#)
        }
        #expect(throws: LogConfiguration.Problem.self) { try LogConfiguration(json: #"{"review_deadline_days": 0}"#) }
    }

    @Test func theConfigurationRoundTripsThroughItsJSON() throws {
        let text =
            #"{"alerts": {"patient_access_burst": {"threshold": 3, "window_minutes": 15}, "after_hours": {"time_zone": "America/New_York"}}, "review_deadline_days": 3}"#
        let configuration = try LogConfiguration(json: text)
        #expect(configuration.alerts.patientAccessBurst.threshold == 3)
        #expect(configuration.alerts.afterHours?.timeZone == "America/New_York")
        #expect(try LogConfiguration(configuration.jsonValue) == configuration)
    }

    @Test func aLogThatKeepsItsAlertsSeesThoseAnotherProcessRaisesAndReviews() async throws {
        let reader = try AuditLog.create(database: database)
        _ = try await reader.record([read(minute: 0, purpose: .emergencyTreatment, breakGlass: "Unconscious patient in ED")])
        #expect(try reader.alerts().map(\.state) == [AlertStatus.open])
        let writer = try AuditLog.open(database: database)
        _ = try await writer.record([read("PAT-000043", minute: 5, purpose: .emergencyTreatment, breakGlass: "Cardiac arrest")])
        let alerts = try reader.alerts()
        #expect(alerts.count == 2, "an alert another process raised is read")
        try writer.review(alertID: alerts[0].alert.id, by: "po-1", decision: .justified, note: "Seen on the ward")
        #expect(try reader.alerts().map(\.state) == [AlertStatus.reviewed, AlertStatus.open], "and so is its review")
        #expect(try reader.alerts().map(\.alert.id) == (try AuditLog.open(database: database).alerts().map(\.alert.id)))
    }
}
