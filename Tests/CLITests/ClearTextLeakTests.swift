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
            for needle in needles where text.contains(needle) { leaks.append("\(URL(fileURLWithPath: file).lastPathComponent): a needle of \(needle.count) characters") }
        }
        let printed = outputs.lowercased()
        for needle in needles where printed.contains(needle) { leaks.append("command output: a needle of \(needle.count) characters") }
        #expect(leaks.isEmpty, "\(leaks)")
    }
}
