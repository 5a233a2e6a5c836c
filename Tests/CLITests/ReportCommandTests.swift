import AuditCore
import AuditTestSupport
import Foundation
import GRDB
import Testing

@Suite("caretrail report, timeline, trace, user, failures, tool-stats")
struct ReportCommandTests {
    let session = CLISession()
    var folder: URL { session.folder }
    var db: String { session.db }
    func caretrail(_ arguments: String...) throws -> CLI.Output { try CLI.run(arguments, in: folder) }
    func json(_ output: CLI.Output) throws -> JSONValue { try session.json(output) }

    func ingestKnownLog() throws {
        #expect(try caretrail("init", "--db", db).status == 0)
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("report/calls.jsonl").path).status == 0)
    }

    @Test func patientReportInEveryFormatWithDayBoundariesInATimeZone() throws {
        try ingestKnownLog()
        let utc = try json(
            try caretrail("report", "patient", "PAT-100", "--db", db, "--from", "2026-01-01", "--to", "2026-01-31", "--format", "json"))
        #expect(utc["total_accesses"] == 6)
        #expect(utc["unique_users"] == 4)
        #expect(utc["integrity"]?["verified"] == true)
        // In New York, January 1st starts at 05:00 UTC and January 31st ends at 04:59:59.999 UTC on February 1st.
        let newYork = try json(
            try caretrail(
                "report", "patient", "PAT-100", "--db", db, "--from", "2026-01-01", "--to", "2026-01-31", "--time-zone", "America/New_York",
                "--format", "json"
            ))
        #expect(newYork["period"]?["from"] == "2026-01-01T05:00:00.000Z")
        #expect(newYork["period"]?["to"] == "2026-02-01T04:59:59.999Z")
        #expect(newYork["accesses"]?.arrayValue?.compactMap { $0["seq"]?.numberValue } == [3, 5, 6, 7, 9, 10])
        // An explicit offset is honoured to the millisecond.
        let offsets = try json(
            try caretrail(
                "report", "patient", "PAT-100", "--db", db, "--from", "2026-01-01T01:00:00.001+01:00", "--to", "2026-01-10T04:30:00+01:00",
                "--format", "json"
            ))
        #expect(offsets["accesses"]?.arrayValue?.compactMap { $0["seq"]?.numberValue } == [3, 5])

        let out = folder.appendingPathComponent("report.html").path
        #expect(try caretrail("report", "patient", "PAT-100", "--db", db, "--format", "html", "--out", out).status == 0)
        #expect(try String(contentsOfFile: out, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        let csv = try caretrail("report", "patient", "PAT-100", "--db", db, "--format", "csv")
        #expect(csv.stdout.hasPrefix("seq,time,user_id"))
        let table = try caretrail("report", "patient", "--name", "Maria Garcia", "--db", db)
        #expect(table.status == 0)
        #expect(table.stdout.contains("Accesses: 8"))
        #expect(!table.stdout.contains("Maria"))
        #expect(table.stdout.contains("verified incrementally"))

        #expect(try caretrail("report", "patient", "--db", db).status == 2)
        #expect(try caretrail("report", "patient", "PAT-100", "--name", "x", "--db", db).status == 2)
        #expect(try caretrail("report", "patient", "PAT-100", "--db", db, "--from", "2026-02-30").status == 2)
        #expect(try caretrail("report", "patient", "PAT-100", "--db", db, "--from", "2026-02-01", "--to", "2026-01-01").status == 2)
        #expect(try caretrail("report", "patient", "PAT-100", "--db", db, "--time-zone", "Mars/Base", "--from", "2026-01-01").status == 2)
    }

    @Test func aReportOnATamperedLogExitsWith1() throws {
        try ingestKnownLog()
        try tamperRow(db, sql: "UPDATE entry SET canonical = json_set(canonical, '$.user_id', 'usr-9') WHERE seq = 2")
        let report = try caretrail("report", "patient", "PAT-100", "--db", db, "--verify-full")
        #expect(report.status == 1)
        #expect(report.stdout.contains("NOT VERIFIED: edited at seq 2"))
        #expect(report.stderr.contains("does not verify"))
    }

    @Test func timelineTraceUserFailuresAndToolStats() throws {
        try ingestKnownLog()
        let timeline = try json(try caretrail("timeline", "conv-3", "--db", db, "--format", "json"))
        #expect(timeline.arrayValue?.compactMap { $0["turn_number"]?.numberValue } == [1, 2])
        #expect(timeline.arrayValue?.first?["arguments"]?["patient_name"]?.stringValue?.hasPrefix("hmac-sha256:test") == false)
        let table = try caretrail("timeline", "conv-4", "--db", db)
        #expect(table.stdout.contains("✗"))
        #expect(table.stdout.contains("error: "))

        let trace = try json(try caretrail("trace", "tr-3", "--db", db, "--format", "json"))
        #expect(trace["totals"]?["tool_calls"] == 2)
        #expect(trace["totals"]?["input_tokens"] == 2400)
        #expect(trace["totals"]?["cost_usd"]?.numberValue.map { abs($0 - 0.0084) < 1e-9 } == true)

        let user = try json(try caretrail("user", "usr-1", "--db", db, "--since", "2026-01-01", "--format", "json"))
        #expect(user.arrayValue?.compactMap { $0["seq"]?.numberValue } == [2, 8, 9])
        let failures = try json(try caretrail("failures", "--db", db, "--format", "json"))
        #expect(failures.arrayValue?.compactMap { $0["seq"]?.numberValue } == [7])

        let stats = try json(try caretrail("tool-stats", "--db", db, "--format", "json"))
        let record = try #require(stats.arrayValue?.first { $0["tool_name"] == "get_patient_record" })
        #expect(record["calls"] == 4)
        #expect(record["unique_users"] == 3)
        #expect(record["success_rate"] == 1)
        let billing = try #require(stats.arrayValue?.first { $0["tool_name"] == "get_billing_summary" })
        #expect(billing["success_rate"] == 0)
        let one = try json(try caretrail("tool-stats", "update_treatment", "--db", db, "--format", "json"))
        #expect(one.arrayValue?.count == 1)
        let p95 = try #require(one.arrayValue?.first?["p95_duration_ms"]?.numberValue)
        #expect(abs(p95 - 140.25) / 140.25 < 0.011)
        #expect(one.arrayValue?.first?["mean_duration_ms"] == 140.25)
    }

    @Test func everyReadTheCommandLineRunsIsChainedAsAnAuditAccessOfItsReaderWithoutTheNameSearchedFor() throws {
        try ingestKnownLog()
        let reads: [[String]] = [
            ["report", "patient", "--name", "Maria Garcia", "--format", "json"], ["report", "patient", "PAT-100", "--from", "2026-01-01"],
            ["timeline", "conv-3"], ["trace", "tr-3"], ["user", "usr-1", "--since", "2026-01-01"], ["failures"], ["tool-stats"],
            ["alerts", "--open"],
            ["show", "--seq", "2"], ["export", "fhir", "--patient", "PAT-100", "--format", "ndjson"],
        ]
        for read in reads {
            let output = try CLI.run(read + ["--db", db, "--reader", "officer-cli"], in: folder)
            #expect(output.status == 0, "\(read): \(output.stderr)")
        }
        #expect(try CLI.run(["alerts", "--db", db], environment: ["CARETRAIL_READER": "officer-env"], in: folder).status == 0)
        #expect(try caretrail("trace", "tr-3", "--db", db, "--reader", "").status == 2, "a blank reader is refused")
        let bell = try caretrail("user", "usr-1", "--db", db, "--reader", "a\u{07}b")
        #expect(bell.status == 2 && bell.stdout.isEmpty, "a reader with control characters is refused before anything is printed")

        let queue = try DatabaseQueue(path: db)
        let accesses = try queue.read { db in
            try String.fetchAll(db, sql: "SELECT canonical FROM entry WHERE canonical LIKE '%\"kind\":\"audit_access\"%' ORDER BY seq")
        }
        #expect(accesses.count == reads.count + 1, "one entry per read, none for the refused ones")
        let queries = accesses.compactMap { try? JSONParser.parse($0)["body"]?["audit_access"]?["query"]?.stringValue }
        #expect(
            queries == [
                "patient_report", "patient_report", "conversation_timeline", "trace", "user_activity", "failures", "tool_stats", "alerts",
                "entry", "fhir_export", "alerts",
            ])
        let first = try JSONParser.parse(accesses[0])
        #expect(first["user_id"] == "officer-cli")
        let access = first["body"]?["audit_access"]
        #expect(access?["channel"] == "cli" && access?["role"] == "operator")
        #expect(access?["results"] == 8)
        #expect(access?["parameters"]?["pseudonym"]?.stringValue?.hasPrefix("hmac-sha256:") == true)
        #expect(try JSONParser.parse(accesses[4])["body"]?["audit_access"]?["results"] == 3, "a streamed read records how many it printed")
        #expect(try JSONParser.parse(accesses[10])["user_id"] == "officer-env")
        #expect(!accesses.joined().contains("Maria"), "a name searched for is chained only as its pseudonym")

        let reader = try json(try caretrail("user", "officer-cli", "--db", db, "--format", "json"))
        #expect(reader.arrayValue?.count == reads.count, "the reads show in reports about their reader")
        #expect(try caretrail("verify", "--db", db).status == 0)
    }
}

/// Changes a row behind the log's back.
func tamperRow(_ path: String, sql: String) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.writeWithoutTransaction { db in
        try db.execute(sql: "DROP TRIGGER IF EXISTS entry_is_append_only_update")
        try db.execute(sql: sql)
    }
}
