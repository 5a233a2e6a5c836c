import AuditCore
import AuditTestSupport
import Foundation
import Testing

@Suite("caretrail alerts, review, config")
struct AlertCommandTests {
    let session = CLISession()
    var folder: URL { session.folder }
    var db: String { session.db }
    func caretrail(_ arguments: String...) throws -> CLI.Output { try CLI.run(arguments, in: folder) }
    func json(_ output: CLI.Output) throws -> JSONValue { try session.json(output) }

    @Test func alertsListReviewAndScanWorkOnTheSampleWorkload() throws {
        #expect(try caretrail("init", "--db", db).status == 0)
        let ingested = try caretrail("ingest", "--db", db, FixturePath.url("workload/sample.jsonl").path, "--format", "json")
        #expect(ingested.status == 0, "\(ingested.stderr)")
        #expect(try json(ingested)["alerts_raised"] == 10)

        let listed = try caretrail("alerts", "--db", db, "--format", "json")
        #expect(listed.status == 0, "\(listed.stderr)")
        let alerts = try #require(try json(listed).arrayValue)
        #expect(alerts.count == 10)
        for alert in alerts {
            for field in ["id", "kind", "severity", "state", "raised_at", "entries", "overdue"] {
                #expect(alert[field] != nil, "field \(field)")
            }
            #expect(alert["patient_id"] != .null || alert["user_id"] != .null)
        }
        let burst = try #require(alerts.first { $0["kind"] == "patient_access_burst" })
        #expect(burst["entries"]?.arrayValue?.count == 10)
        #expect(burst["severity"] == "high")
        let breakGlass = try #require(alerts.first { $0["kind"] == "break_glass" })
        let id = try #require(breakGlass["id"]?.stringValue)

        let bad = try caretrail("review", id, "--db", db, "--by", "po-1", "--decision", "fine", "--note", "ok then")
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--decision"))
        #expect(
            try caretrail("review", "alert-999999", "--db", db, "--by", "po-1", "--decision", "justified", "--note", "ok then").status == 2)

        let reviewed = try caretrail(
            "review", id, "--db", db, "--by", "po-1", "--decision", "justified", "--note", "ED attending confirmed", "--format", "json")
        #expect(reviewed.status == 0, "\(reviewed.stderr)")
        #expect(try json(reviewed)["alert"]?["state"] == "reviewed")

        let open = try json(try caretrail("alerts", "--db", db, "--open", "--format", "json"))
        #expect(open.arrayValue?.count == 9)
        #expect(open.arrayValue?.contains { $0["id"]?.stringValue == id } == false)
        let bursts = try json(try caretrail("alerts", "--db", db, "--kind", "patient_access_burst", "--format", "json"))
        #expect(bursts.arrayValue?.count == 1)
        #expect(try caretrail("alerts", "--db", db, "--kind", "nonsense").status == 2)
        let table = try caretrail("alerts", "--db", db)
        #expect(table.stdout.contains("patient_access_burst"))
        #expect(table.stdout.contains("10 alerts"))

        let scan = try caretrail("alerts", "scan", "--db", db, "--from", "2026-01-01", "--to", "2026-12-31", "--format", "json")
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(try json(scan)["matches"] == true)
        #expect(try json(scan)["alerts"]?.arrayValue?.count == 10)

        let verified = try caretrail("verify", "--db", db)
        #expect(verified.status == 0)
    }

    @Test func configSetRestrictsPurposesForEveryLaterIngest() throws {
        #expect(try caretrail("init", "--db", db).status == 0)
        let file = folder.appendingPathComponent("config.json").path
        try #"{"purpose_restrictions": {"tenants": {"hospital-1": ["HRESCH"]}}, "review_deadline_days": 3}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        let set = try caretrail("config", "set", file, "--db", db, "--by", "admin-1")
        #expect(set.status == 0, "\(set.stderr)")
        let shown = try json(try caretrail("config", "--db", db))
        #expect(shown["review_deadline_days"] == 3)
        #expect(shown["purpose_restrictions"]?["tenants"]?["hospital-1"] == ["HRESCH"])

        let ingested = try caretrail("ingest", "--db", db, try sampleWorkload(lines: 50, in: folder))
        #expect(ingested.status == 2)
        #expect(ingested.stderr.contains("field 'purpose_of_use'"))
        #expect(ingested.stderr.contains("does not accept this purpose"))
        #expect(try json(try caretrail("head", "--db", db))["seq"] == 1)

        let typo = folder.appendingPathComponent("typo.json").path
        try #"{"alerts": {"patient_access_burst": {"treshold": 3}}}"#.write(toFile: typo, atomically: true, encoding: .utf8)
        let refused = try caretrail("config", "set", typo, "--db", db, "--by", "admin-1")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("alerts.patient_access_burst.treshold: unknown key"))
    }
}
