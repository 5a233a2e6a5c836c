import AuditAnalysis
import AuditCore
import Testing

/// The window rules at their boundaries, on the pure detector.
@Suite struct AnomalyDetectorTests {
    static let start: Int64 = 1_767_600_000_000  // 2026-01-05T08:00:00Z
    static let minute: Int64 = 60_000

    /// One read of `patient` by `user` at `time`.
    static func access(
        _ seq: Int64, at time: Int64, patient: String = "PAT-1", user: String = "usr-1", failed: Bool = false,
        purpose: PurposeOfUse = .treatment, breakGlass: Bool = false
    ) -> ObservedEntry {
        ObservedEntry(
            seq: seq, kind: .toolCall, tenantID: "hospital-0", userID: user, patientIDs: [patient], isQuery: false,
            failed: failed, purpose: purpose, time: time, breakGlass: breakGlass, keyID: "k1"
        )
    }

    /// Feeds accesses at the given offsets (milliseconds after `start`); returns the alerts.
    static func run(_ offsets: [Int64], rules: AlertRules = .standard, patient: (Int) -> String = { _ in "PAT-1" }) -> [AlertDraft] {
        var detector = AnomalyDetector(rules: rules)
        var alerts: [AlertDraft] = []
        for (index, offset) in offsets.enumerated() {
            alerts += detector.observe(access(Int64(index + 1), at: start + offset, patient: patient(index)))
        }
        return alerts
    }

    /// `count` accesses evenly spread from 0 to `span` milliseconds.
    static func spread(_ count: Int, over span: Int64) -> [Int64] {
        (0..<count).map { span * Int64($0) / Int64(count - 1) }
    }

    @Test func nineAccessesInAnHourRaiseNothing() {
        #expect(Self.run(Self.spread(9, over: 30 * Self.minute)).isEmpty)
    }

    @Test func tenAccessesWithin59m59sRaiseOneAlertListingThem() throws {
        let alerts = Self.run(Self.spread(10, over: 60 * Self.minute - 1000))
        let alert = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(alert.kind == .patientAccessBurst)
        #expect(alert.entrySeqs == Array(1...10))
        #expect(alert.patientID == "PAT-1")
        #expect(alert.severity == .high)
    }

    @Test func tenAccessesSpreadOver60m01sRaiseNothing() {
        #expect(Self.run(Self.spread(10, over: 60 * Self.minute + 1000)).isEmpty)
    }

    @Test func tenAccessesExactlySixtyMinutesApartAtTheEndsRaiseNothing() {
        // The window is half-open: (t - 60 min, t].
        #expect(Self.run(Self.spread(10, over: 60 * Self.minute)).isEmpty)
    }

    @Test func twentyFiveAccessesInOneHourAreOneEpisode() {
        #expect(Self.run(Self.spread(25, over: 59 * Self.minute)).count == 1)
    }

    @Test func aNewEpisodeAfterAQuietHourRaisesANewAlert() {
        let first = Self.spread(12, over: 10 * Self.minute)
        let second = Self.spread(12, over: 10 * Self.minute).map { $0 + 10 * Self.minute + 61 * Self.minute }
        let alerts = Self.run(first + second)
        #expect(alerts.count == 2)
        #expect(alerts.map(\.triggerSeq) == [10, 22])
    }

    @Test func accessesToDifferentPatientsDoNotAddUp() {
        #expect(Self.run(Self.spread(18, over: 10 * Self.minute), patient: { "PAT-\($0 % 2)" }).isEmpty)
    }

    @Test func thresholdAndWindowAreConfigurable() {
        var rules = AlertRules()
        rules.patientAccessBurst.threshold = 3
        rules.patientAccessBurst.windowMinutes = 5
        #expect(Self.run(Self.spread(3, over: 5 * Self.minute - 1), rules: rules).count == 1)
        #expect(Self.run(Self.spread(3, over: 5 * Self.minute + 1), rules: rules).isEmpty)
    }

    @Test func oneUserTouchingMoreThanFiftyPatientsInAnHourRaisesOneAlert() throws {
        let offsets = Self.spread(60, over: 50 * Self.minute)
        let alerts = Self.run(offsets, patient: { "PAT-\($0)" })
        let alert = try #require(alerts.first { $0.kind == .userManyPatients })
        #expect(alerts.filter { $0.kind == .userManyPatients }.count == 1)
        #expect(alert.triggerSeq == 51)
        #expect(alert.userID == "usr-1")
        #expect(Self.run(Array(offsets.prefix(50)), patient: { "PAT-\($0)" }).isEmpty)
    }

    @Test func fiveFailuresWithinTenMinutesRaiseAnAlert() {
        var detector = AnomalyDetector()
        var alerts: [AlertDraft] = []
        for index in 0..<4 {
            alerts += detector.observe(
                Self.access(Int64(index + 1), at: Self.start + Int64(index) * Self.minute, patient: "PAT-\(index)", failed: true))
        }
        #expect(alerts.isEmpty)
        alerts += detector.observe(Self.access(5, at: Self.start + 9 * Self.minute, patient: "PAT-9", failed: true))
        #expect(alerts.map(\.kind) == [.repeatedFailures])
        #expect(alerts.first?.entrySeqs == [1, 2, 3, 4, 5])
    }

    @Test func breakTheGlassRaisesAnAlertEveryTime() {
        var detector = AnomalyDetector()
        let first = detector.observe(Self.access(1, at: Self.start, purpose: .emergencyTreatment, breakGlass: true))
        let second = detector.observe(Self.access(2, at: Self.start + 1000, purpose: .emergencyTreatment, breakGlass: true))
        #expect(first.map(\.kind) == [.breakGlass])
        #expect(second.map(\.kind) == [.breakGlass])
        #expect(first.first?.severity == .high)
    }

    @Test func afterHoursIsOffUnlessConfiguredAndSparesEmergencies() {
        let night = Self.start + 14 * 60 * Self.minute  // 22:00 UTC on a Monday
        var plain = AnomalyDetector()
        #expect(plain.observe(Self.access(1, at: night)).isEmpty)

        var rules = AlertRules()
        rules.afterHours = AlertRules.AfterHours(timeZone: "Europe/Berlin", start: "07:00", end: "19:00")
        var detector = AnomalyDetector(rules: rules)
        #expect(detector.observe(Self.access(1, at: Self.start)).isEmpty)  // 09:00 in Berlin
        #expect(detector.observe(Self.access(2, at: night)).map(\.kind) == [.afterHours])  // 23:00 in Berlin
        #expect(detector.observe(Self.access(3, at: night + 10 * Self.minute)).isEmpty)  // same episode
        #expect(detector.observe(Self.access(4, at: night + 20 * Self.minute, user: "usr-2", purpose: .emergencyTreatment)).isEmpty)
        #expect(detector.observe(Self.access(5, at: night + 3 * 60 * Self.minute)).map(\.kind) == [.afterHours])
    }

    @Test func historyBeyondTheHorizonIsDroppedAsEntriesArriveWithoutChangingAlerts() {
        // 100,000 accesses a second apart (28 hours), to 30,000 patients by one user, with a
        // burst of ten to one patient at the end: the windows keep only the last two hours.
        var detector = AnomalyDetector(rules: .standard)
        var alerts: [AlertDraft] = []
        var largest = 0
        for index in 0..<100_000 {
            let patient = index >= 99_990 ? "PAT-BURST" : "PAT-\(index % 30_000)"
            alerts += detector.observe(Self.access(Int64(index + 1), at: Self.start + Int64(index) * 1000, patient: patient))
            if index % 1_000 == 999 { largest = max(largest, detector.retainedEvents) }
        }
        // Two hours of one access a second, held by the patient windows and by the user's
        // window, with some slack for removal in steps.
        let horizon = 2 * 7_200
        #expect(largest <= horizon + 2_000, "\(largest) events held")
        #expect(detector.retainedEvents >= 7_200)
        #expect(alerts.contains { $0.kind == .patientAccessBurst && $0.patientID == "PAT-BURST" })
    }
}
