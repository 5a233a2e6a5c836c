import AuditCore
import AuditTestSupport
import Foundation
import Testing

@Suite("caretrail export fhir, import fhir")
struct FHIRCommandTests {
    let session = CLISession()
    var db: String { session.db }
    func caretrail(_ arguments: String...) throws -> CLI.Output { try CLI.run(arguments, in: session.folder) }

    /// An export streams. Two exports of one log read the same entries (and fill the same
    /// SQLite page cache, up to its 64 MiB per connection) but one writes 150+ MB and the
    /// other a tenth of that: holding the output would show as that difference in peak memory,
    /// measured by the kernel.
    @Test func aLargeExportTakesNoMoreMemoryThanASmallOneOfTheSameLog() throws {
        let sample = try String(contentsOf: FixturePath.url("workload/sample.jsonl"), encoding: .utf8)
        let input = session.folder.appendingPathComponent("eight.jsonl").path
        try String(repeating: sample.hasSuffix("\n") ? sample : sample + "\n", count: 8).write(
            toFile: input, atomically: true, encoding: .utf8)
        #expect(try caretrail("init", "--db", db).status == 0)
        #expect(try caretrail("ingest", "--db", db, input).status == 0)
        let out = session.folder.appendingPathComponent("export.out").path
        func size() throws -> Int { try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int ?? 0 }
        for format in ["ndjson", "xml"] {
            let few = try peakResidentKilobytes([
                "export", "fhir", "--db", db, "--format", format, "--out", out,
                "--from", "2026-01-05T08:00:00Z", "--to", "2026-01-05T08:15:00Z",
            ])
            let small = try size()
            let all = try peakResidentKilobytes(["export", "fhir", "--db", db, "--format", format, "--out", out])
            let large = try size()
            #expect(large > 150_000_000 && small < large / 8, "\(format): \(small) and \(large) bytes written")
            // In flight: per core, one slice of 2,048 entries and its rendered bytes (10–20 MB).
            #expect(all < few + 80_000, "\(format): peak RSS \(few) kB writing \(small) bytes, \(all) kB writing \(large)")
        }
    }

    @Test func exportInEveryFormatAndImportIntoAnotherLog() throws {
        #expect(try caretrail("init", "--db", db).status == 0)
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("report/calls.jsonl").path).status == 0)
        let json = try caretrail("export", "fhir", "--db", db)
        #expect(json.status == 0, "\(json.stderr)")
        let bundle = try JSONParser.parse(json.stdout)
        #expect(bundle["resourceType"] == "Bundle")
        #expect(bundle["type"] == "collection")
        #expect(bundle["entry"]?.arrayValue?.count == 12)  // nine calls, a query naming two patients, one alert
        let patient = try JSONParser.parse(try caretrail("export", "fhir", "--db", db, "--patient", "PAT-200").stdout)
        #expect(patient["entry"]?.arrayValue?.count == 2)
        let ndjson = try caretrail(
            "export", "fhir", "--db", db, "--format", "ndjson", "--fhir-version", "r5", "--from", "2026-01-10", "--to", "2026-01-10")
        #expect(ndjson.stdout.split(separator: "\n").count == 3)  // two calls that day and their alert
        let xmlFile = session.folder.appendingPathComponent("export.xml").path
        let xml = try caretrail("export", "fhir", "--db", db, "--format", "xml", "--out", xmlFile)
        #expect(xml.status == 0)
        #expect(xml.stderr.contains("12 AuditEvents written"))
        #expect(try caretrail("export", "fhir", "--db", db, "--format", "yaml").status == 64)

        let copy = session.folder.appendingPathComponent("copy.sqlite").path
        #expect(try caretrail("init", "--db", copy).status == 0)
        let imported = try caretrail("import", "fhir", "--db", copy, xmlFile, "--format", "json")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try session.json(imported)["imported"] == 12)
        let again = try caretrail("import", "fhir", "--db", db, xmlFile, "--format", "json")
        #expect(try session.json(again)["already_in_log"] == 12)
        let notFHIR = session.folder.appendingPathComponent("not-fhir.json").path
        try #"{"hello": "world"}"#.write(toFile: notFHIR, atomically: true, encoding: .utf8)
        #expect(try caretrail("import", "fhir", "--db", copy, notFHIR).status == 2)
    }
}
