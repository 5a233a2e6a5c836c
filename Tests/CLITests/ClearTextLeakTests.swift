import AuditCore
import AuditTestSupport
import Foundation
import Testing

/// The key-spellings workload (one call per identifier spelling of FHIR, HL7 v2 and EHR tool
/// schemas, names in free text, in errors and as member names, secrets in plural and header
/// spellings) leaves no clear-text identifier anywhere: the database, its WAL, the exports and
/// the SIEM streams.
@Suite("No clear text anywhere")
struct ClearTextLeakTests {
    let session = CLISession()
    var db: String { session.db }

    func caretrail(_ arguments: String...) throws -> CLI.Output { try CLI.run(arguments, in: session.folder) }

    @Test func theKeySpellingsWorkloadLeavesNoClearTextIdentifier() throws {
        let workload = FixturePath.url("sanitizer/key-spellings.jsonl").path
        let needles = try String(contentsOf: FixturePath.url("sanitizer/key-spellings.needles"), encoding: .utf8)
            .split(separator: "\n").map { $0.lowercased() }
        #expect(needles.count >= 50)
        #expect(try caretrail("init", "--db", db).status == 0)
        let ingest = try caretrail("ingest", "--db", db, workload)
        #expect(ingest.status == 0)
        var files = [db, db + "-wal"]
        var outputs = ingest.stdout + ingest.stderr
        for version in ["r4", "r5"] {
            for format in ["ndjson", "json", "xml"] {
                let out = session.folder.appendingPathComponent("export-\(version).\(format)").path
                let result = try caretrail("export", "fhir", "--db", db, "--fhir-version", version, "--format", format, "--out", out)
                #expect(result.status == 0, "\(result.stderr)")
                files.append(out)
            }
        }
        for format in ["rfc5424-fhir", "rfc5424-json", "cef", "jsonl"] {
            let out = session.folder.appendingPathComponent("stream.\(format)").path
            #expect(try caretrail("stream", "--db", db, "--to", "file:\(out)", "--format", format, "--once").status == 0)
            files.append(out)
        }
        for format in ["json", "csv", "html", "table"] {
            let report = try caretrail("report", "patient", "PAT-SPQ", "--db", db, "--format", format)
            #expect(report.status == 0)
            outputs += report.stdout + report.stderr
        }
        var leaks: [String] = []
        for file in files where FileManager.default.fileExists(atPath: file) {
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: file)), as: UTF8.self).lowercased()
            // Escaped forms too: `/` and non-ASCII as JSON writes them are not in these values.
            for needle in needles where text.contains(needle) {
                leaks.append("\(URL(fileURLWithPath: file).lastPathComponent): a needle of \(needle.count) characters")
            }
        }
        let printed = outputs.lowercased()
        for needle in needles where printed.contains(needle) { leaks.append("command output: a needle of \(needle.count) characters") }
        #expect(leaks.isEmpty, "\(leaks)")
    }

    /// The same workload over HTTP, one call at a time and as bad batches that quote the
    /// names in unknown fields and wrong types, and searches that name them: the server's log
    /// (standard error) and every answer hold none of them.
    @Test func theServersLogAndAnswersHoldNoClearTextIdentifier() throws {
        let needles = try String(contentsOf: FixturePath.url("sanitizer/key-spellings.needles"), encoding: .utf8)
            .split(separator: "\n").map { $0.lowercased() }
        #expect(try caretrail("init", "--db", db).status == 0)
        let created = try session.json(
            try caretrail("keys", "create", "--db", db, "--role", "admin", "--tenant", "hospital-1", "--format", "json"))
        let secret = try #require(created["secret"]?.stringValue)
        let port = freePort(in: 29_000...29_999)
        let log = session.folder.appendingPathComponent("serve.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let server = Process()
        server.executableURL = CLI.binary
        server.arguments = ["serve", "--db", db, "--port", String(port)]
        server.standardOutput = try FileHandle(forWritingTo: log)
        server.standardError = try FileHandle(forWritingTo: log)
        try server.run()
        defer { server.terminate() }
        let base = "http://127.0.0.1:\(port)"
        for _ in 0..<100 where (try? runProgram(["curl", "-sf", base + "/health"]))?.status != 0 { Thread.sleep(forTimeInterval: 0.05) }
        var answers = ""
        func post(_ body: String) throws {
            let file = session.folder.appendingPathComponent("body.json")
            try body.write(to: file, atomically: true, encoding: .utf8)
            answers += try runProgram([
                "curl", "-s", "-X", "POST", "-H", "Authorization: Bearer \(secret)", "--data-binary", "@\(file.path)",
                base + "/v1/tool-calls",
            ]).output
        }
        let lines = try String(contentsOf: FixturePath.url("sanitizer/key-spellings.jsonl"), encoding: .utf8).split(separator: "\n").map(
            String.init)
        for line in lines { try post(line) }
        // Bad batches: the names under unknown fields and in fields of the wrong type.
        try post(
            #"{"tenant_id":"hospital-1","conversation_id":"c","user_id":"u","model":"m","tool_name":"t","purpose_of_use":"TREAT","patient_id":"P","Quorra Vexbridge":1}"#
        )
        try post(
            #"{"tenant_id":"hospital-1","conversation_id":"c","user_id":"u","model":"m","tool_name":"t","purpose_of_use":"Ilsabet Marrowind","patient_id":"P"}"#
        )
        try post(
            #"{"tenant_id":"hospital-1","conversation_id":"c","user_id":"u","model":"m","tool_name":"t","purpose_of_use":"TREAT","patient_id":["Tobiah Fennimore"]}"#
        )
        for query in ["patient=Quorra%20Vexbridge", "agent=qvex%40example.org", "Oriel%20Castellane=1", "date=Wendeline"] {
            answers += try runProgram(["curl", "-s", "-H", "Authorization: Bearer \(secret)", base + "/fhir/AuditEvent?" + query]).output
        }
        server.terminate()
        server.waitUntilExit()
        let logged = String(decoding: try Data(contentsOf: log), as: UTF8.self).lowercased()
        // A search Bundle's `self` link repeats the caller's own query, as FHIR has it; only
        // the rest of each answer is scanned.
        let said = answers.replacingOccurrences(of: #""url":"[^"]*""#, with: "", options: .regularExpression).lowercased()
        #expect(said.contains("\"status\":201") || said.contains("\"entries\""), "the calls were not appended")
        let leaks = needles.filter { logged.contains($0) || said.contains($0) }
        #expect(leaks.isEmpty, "\(leaks.count) clear-text identifiers in the server's log or answers")
    }
}
