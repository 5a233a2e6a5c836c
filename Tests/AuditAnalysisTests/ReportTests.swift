import AuditAnalysis
import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import GRDB
import Testing

/// The known log of `fixtures/report/`, ingested with a fixed key and a fixed clock.
func knownLog(in folder: URL) throws -> AuditLog {
    let database = folder.appendingPathComponent("audit.sqlite").path
    _ = try AuditLog.create(database: database, keyFile: folder.appendingPathComponent("generated-keys.json").path)
    let keys = folder.appendingPathComponent("test-keys.json")
    try FileManager.default.copyItem(at: FixturePath.url("report/test-keys.json"), to: keys)
    try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keys.path)
    let clock = TestClock("2026-02-02T09:00:00Z")
    let log = try AuditLog.open(database: database, keyFile: keys.path, clock: clock.read)
    _ = try log.ingest(path: FixturePath.url("report/calls.jsonl").path)
    return log
}

let january = (Timestamp(rfc3339: "2026-01-01T00:00:00Z"), Timestamp(rfc3339: "2026-01-31T23:59:59.999Z"))

@Suite("Patient access reports")
struct ReportTests {
    let folder = temporaryFolder()

    @Test func theReportListsEveryAccessInThePeriodOldestFirstWithBothEndsIncluded() throws {
        let log = try knownLog(in: folder)
        let report = try log.patientReport(.patientID("PAT-100"), from: january.0, to: january.1)
        // 2025-12-31T23:59:59.999Z and 2026-02-01T00:00:00.000Z fall outside; both edges of January inside.
        #expect(
            report.accesses.map(\.row.time) == [
                "2026-01-01T00:00:00.000Z", "2026-01-01T08:15:00.000Z", "2026-01-10T03:30:00.000Z", "2026-01-10T03:35:00.000Z",
                "2026-01-15T12:00:00.000Z", "2026-01-31T23:59:59.999Z",
            ])
        #expect(report.accesses.map(\.access) == ["read", "query", "read", "update", "read", "update"])
        #expect(report.totalAccesses == 6)
        #expect(report.uniqueUsers == 4)
        #expect(report.failures == 1)
        #expect(report.breakGlassAccesses.map(\.row.seq) == [5])
        #expect(report.breakGlassAccesses.first?.row.breakGlassReason?.contains("555-123-4567") == false)
        #expect(report.byPurpose.map(\.code) == ["TREAT", "ETREAT", "HPAYMT"])
        #expect(report.byPurpose.first?.display == "treatment")
        #expect(report.alerts.map(\.alert.kind) == [.breakGlass])
        #expect(report.integrity.isIntact)
        #expect(report.integrity.head?.seq == 11)  // ten calls and one alert
        #expect(report.accesses.first?.row.userRole == "physician")
    }

    @Test func searchingByNameOrPseudonymFindsTheSameAccessesAsThePatientID() throws {
        let log = try knownLog(in: folder)
        let byID = try log.patientReport(.patientID("PAT-100"), from: nil, to: nil)
        let byName = try log.patientReport(.clearText("Maria Garcia"), from: nil, to: nil)
        let token = try #require(log.pseudonym(for: "Maria Garcia"))
        let byToken = try log.patientReport(.pseudonym(token), from: nil, to: nil)
        #expect(byID.accesses.map(\.row.seq) == [1, 2, 3, 5, 6, 7, 9, 10])
        #expect(byName.accesses.map(\.row.seq) == byID.accesses.map(\.row.seq))
        #expect(byToken.accesses.map(\.row.seq) == byID.accesses.map(\.row.seq))
        #expect(byName.patientID == nil)
        #expect(byName.pseudonyms == [token])
        // The name itself appears in no output.
        for text in [byName.table, byName.csv, byName.html, CanonicalJSON.string(byName.jsonValue)] {
            #expect(!text.contains("Maria"))
            #expect(!text.contains("Garcia"))
        }
    }

    @Test func aReportOnATamperedLogSaysSo() throws {
        let log = try knownLog(in: folder)
        #expect(try log.patientReport(.patientID("PAT-100"), from: nil, to: nil).integrity.isIntact)
        try tamper(log.location, sql: "UPDATE entry SET canonical = json_set(canonical, '$.user_id', 'usr-9') WHERE seq = 10")
        // Entry 10 was verified already: the incremental pass does not re-hash it, a full one does.
        let incremental = try log.patientReport(.patientID("PAT-100"), from: nil, to: nil)
        #expect(incremental.integrity.mode == .incremental)
        let full = try log.patientReport(.patientID("PAT-100"), from: nil, to: nil, verifyFull: true)
        #expect(!full.integrity.isIntact)
        #expect(full.integrity.problem?.seq == 10)
        #expect(full.integrity.jsonValue["verified"] == false)
        #expect(full.table.contains("NOT VERIFIED: edited at seq 10"))
        #expect(full.html.contains("NOT VERIFIED"))
    }

    @Test func verificationIsIncrementalAndCatchesDamageAppendedSince() async throws {
        let log = try knownLog(in: folder)
        let first = try log.patientReport(.patientID("PAT-100"), from: nil, to: nil)
        #expect(first.integrity.mode == .full)
        #expect(first.integrity.entriesChecked == 11)
        let second = try log.patientReport(.patientID("PAT-100"), from: nil, to: nil)
        #expect(second.integrity.mode == .incremental)
        #expect(second.integrity.entriesChecked == 0)
        #expect(second.integrity.previous?.head.seq == 11)

        _ = try await log.record([read("PAT-100", minute: 5), read("PAT-100", minute: 6)])
        let third = try log.patientReport(.patientID("PAT-100"), from: nil, to: nil)
        #expect(third.integrity.mode == .incremental)
        #expect(third.integrity.entriesChecked == 2)
        #expect(third.integrity.isIntact)

        _ = try await log.record([read("PAT-100", minute: 7)])
        try tamper(log.location, sql: "UPDATE entry SET canonical = json_set(canonical, '$.purpose_of_use', 'HRESCH') WHERE seq = 14")
        let fourth = try log.patientReport(.patientID("PAT-100"), from: nil, to: nil)
        #expect(fourth.integrity.mode == .incremental)
        #expect(fourth.integrity.problem?.seq == 14)
        // The anchor itself changed: the incremental pass falls back to a full one.
        try tamper(log.location, sql: "UPDATE entry SET canonical = json_set(canonical, '$.model', 'other') WHERE seq = 13")
        let fifth = try log.verifyIncrementally()
        #expect(fifth.mode == .full)
        #expect(!fifth.isIntact)
    }
}

/// Changes a row behind the log's back, as an attacker with the file would.
func tamper(_ path: String, sql: String) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.writeWithoutTransaction { db in
        try db.execute(sql: "DROP TRIGGER IF EXISTS entry_is_append_only_update")
        try db.execute(sql: sql)
    }
}

@Suite("Report formats")
struct ReportGoldenTests {
    let folder = temporaryFolder()

    func report() throws -> AccessReport {
        let log = try knownLog(in: folder)
        return try log.patientReport(.patientID("PAT-100"), from: january.0, to: january.1)
    }

    func expectGolden(_ text: String, _ name: String) throws {
        let url = FixturePath.url("report/golden/\(name)")
        if ProcessInfo.processInfo.environment["CARETRAIL_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(text == golden, "\(name) differs from fixtures/report/golden/\(name)")
    }

    @Test func tableJSONCSVAndHTMLMatchTheirGoldenFiles() throws {
        let report = try report()
        try expectGolden(report.table, "PAT-100.txt")
        try expectGolden(CanonicalJSON.string(report.jsonValue) + "\n", "PAT-100.json")
        // What the API serves, written without a tree per access: the same golden bytes.
        try expectGolden(String(decoding: report.canonicalJSON, as: UTF8.self) + "\n", "PAT-100.json")
        try expectGolden(report.csv, "PAT-100.csv")
        try expectGolden(report.html, "PAT-100.html")
    }

    @Test func csvFollowsRFC4180() throws {
        let csv = try report().csv
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines.count == 8)  // header, six accesses, and the empty string after the last CRLF
        #expect(lines.last == "")
        #expect(lines[0].hasPrefix("seq,time,user_id,user_role,tool_name"))
        // The break-the-glass reason has a comma and quotes: quoted, quotes doubled.
        #expect(lines[3].contains(#","Unconscious patient in ED, ""no consent"" possible, callback hmac-sha256:test-k1:"#))
    }

    @Test func htmlIsOneSelfContainedPage() throws {
        let html = try report().html
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        for external in ["<script", "<link", "src=", "href=", "@import", "url("] {
            #expect(!html.contains(external), "\(external)")
        }
        #expect(html.contains("&quot;no consent&quot;"))
        #expect(html.contains("@media print"))
    }

    @Test func theJSONSchemaHasItsDocumentedFields() throws {
        let json = try report().jsonValue
        for field in [
            "patient_id", "period", "total_accesses", "unique_users", "accesses", "integrity", "summary", "alerts", "schema_version",
        ] {
            #expect(json[field] != nil, "\(field)")
        }
        #expect(json["integrity"]?["verified"] == true)
        #expect(json["integrity"]?["head"]?["seq"] == 11)
        #expect(json["period"]?["from"] == "2026-01-01T00:00:00.000Z")
        let access = try #require(json["accesses"]?.arrayValue?.first)
        for field in [
            "time", "user_id", "user_role", "tool_name", "action", "access", "purpose_of_use", "purpose_display", "outcome", "break_glass",
            "break_glass_reason", "conversation_id", "trace_id", "model",
        ] {
            #expect(access[field] != nil, "\(field)")
        }
    }

    @Test func noReportFormatHoldsClearTextPHIOfTheSampleWorkload() throws {
        let log = try AuditLog.create(database: folder.appendingPathComponent("sample.sqlite").path)
        _ = try log.ingest(path: FixturePath.url("workload/sample.jsonl").path)
        let scan = try ClearTextScan(jsonLines: FixturePath.url("workload/sample.jsonl").path, sanitizer: log.sanitizer)
        let burst = try #require(try log.alerts().first { $0.alert.kind == .patientAccessBurst }?.alert.patientID)
        var outputs: [String] = []
        for subject in [AuditLog.ReportSubject.patientID(burst), .clearText("Maria Garcia")] {
            let report = try log.patientReport(subject, from: nil, to: nil)
            outputs += [report.table, report.csv, report.html, CanonicalJSON.string(report.jsonValue)]
        }
        let files = outputs.enumerated().map { index, text in
            let url = folder.appendingPathComponent("report-\(index).out")
            try? text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        #expect(scan.leaks(inFiles: files).isEmpty)
        // The API's direct writer gives the very bytes of the general canonical encoder.
        for subject in [AuditLog.ReportSubject.patientID(burst), .clearText("Maria Garcia")] {
            let report = try log.patientReport(subject, from: nil, to: nil)
            #expect(report.canonicalJSON == Array(CanonicalJSON.string(report.jsonValue).utf8))
        }
        #expect(outputs[0].contains("Accesses: 12"))
    }
}
