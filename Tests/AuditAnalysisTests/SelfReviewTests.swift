import AuditAnalysis
import AuditCore
import AuditTestSupport
import CareTrail
import Foundation
import Testing

@Suite("Nobody reviews their own access")
struct SelfReviewTests {
    let folder = temporaryFolder()

    /// The reviewer's identity is compared in its normalised form: case, surrounding and
    /// repeated whitespace do not make another person.
    @Test(arguments: ["Dr.Chen", " dr.chen ", "DR.CHEN", "dr.chen\t"])
    func aReviewerWhoseNormalisedIdIsTheUsersIsRefused(reviewer: String) async throws {
        let log = try AuditLog.create(database: folder.appendingPathComponent("audit-\(reviewer.hashValue).sqlite").path)
        _ = try await log.record(
            read(minute: 0, user: "dr.chen", purpose: .emergencyTreatment, breakGlass: "Unconscious patient in ED, no consent possible"))
        let alert = try #require(try log.alerts().first { $0.alert.kind == .breakGlass })
        #expect(throws: CareTrailError.self) {
            try log.review(alertID: alert.alert.id, by: reviewer, decision: .justified, note: "looked fine to me")
        }
        // Over HTTP the key's id and name are checked too.
        #expect(throws: CareTrailError.self) {
            try log.review(
                alertID: alert.alert.id, by: "key-1", otherIdentities: ["key-1", " DR.Chen"], decision: .justified, note: "looked fine")
        }
        try log.review(alertID: alert.alert.id, by: "privacy-officer-1", decision: .justified, note: "confirmed with the ED attending")
    }
}
