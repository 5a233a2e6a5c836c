import AuditChain
import AuditCore
import AuditFHIR
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Testing

@Suite("FHIR AuditEvent import")
struct FHIRImportTests {
    let folder = temporaryFolder()

    static let officialJSON: [URL] =
        (try? FileManager.default.contentsOfDirectory(
            at: specFHIR.appendingPathComponent("r4/package"), includingPropertiesForKeys: nil
        ).filter { $0.lastPathComponent.hasPrefix("AuditEvent-") }.sorted { $0.path < $1.path }) ?? []
    static let officialXML: [URL] =
        (try? FileManager.default.contentsOfDirectory(
            at: specFHIR.appendingPathComponent("r4/examples-xml"), includingPropertiesForKeys: nil
        ).sorted { $0.path < $1.path }) ?? []

    func freshLog(_ name: String) throws -> AuditLog {
        try AuditLog.create(database: folder.appendingPathComponent("\(name).sqlite").path)
    }

    /// The JSON value without its narrative: an import drops it (markup from outside never
    /// reaches an export).
    static func withoutNarrative(_ value: JSONValue) -> JSONValue {
        guard case .object(var members) = value else { return value }
        members["text"] = nil
        if case .array(let contained)? = members["contained"] { members["contained"] = .array(contained.map(withoutNarrative)) }
        return .object(members)
    }

    /// The official examples import, and export again as they were, less their narrative.
    @Test func theNineOfficialExamplesImportAndReExportEquivalently() throws {
        #expect(Self.officialJSON.count == 9)
        #expect(Self.officialXML.count == 9)
        var byID: [String: JSONValue] = [:]
        for file in Self.officialJSON {
            let original = try JSONParser.parse(try String(contentsOf: file, encoding: .utf8))
            byID[original["id"]?.stringValue ?? ""] = original
            let log = try freshLog(file.lastPathComponent)
            #expect(try log.importFHIR(path: file.path).imported == 1)
            let exported = try resources(try export(log, format: .ndjson))
            #expect(exported == [Self.withoutNarrative(original)], "\(file.lastPathComponent)")
        }
        for file in Self.officialXML {
            let log = try freshLog(file.lastPathComponent)
            #expect(try log.importFHIR(path: file.path).imported == 1)
            let exported = try #require(try resources(try export(log, format: .ndjson)).first)
            let original = try #require(byID[exported["id"]?.stringValue ?? ""], "\(file.lastPathComponent)")
            #expect(exported == Self.withoutNarrative(original), "\(file.lastPathComponent)")
        }
    }

    /// Element names the AuditEvent definition does not have, and markup in a member name, are
    /// refused with the path; a narrative is dropped, so its markup never reaches XML.
    @Test func unknownElementsAreRefusedAndTheNarrativeIsDropped() throws {
        let log = try freshLog("hostile")
        let cases = [
            #"{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2026-01-05T08:00:00Z","bogus":1}"#,
            #"{"resourceType":"AuditEvent","type":{"code":"rest","x><script>alert(1)</script":"y"},"recorded":"2026-01-05T08:00:00Z"}"#,
            #"{"resourceType":"AuditEvent","agent":[{"who":{"display":"a","evil":"b"}}],"recorded":"2026-01-05T08:00:00Z"}"#,
            #"{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"0000-01-01T00:00:00+01:00"}"#,
            #"{"resourceType":"AuditEvent","type":{"code":"rest"},"recorded":"2026-01-05T08:00:00Z","period":{"start":"9999-12-31T23:59:59-01:00"}}"#,
        ]
        for (index, text) in cases.enumerated() {
            let file = folder.appendingPathComponent("bad-\(index).json")
            try text.write(to: file, atomically: true, encoding: .utf8)
            #expect(throws: CareTrailError.self) { try log.importFHIR(path: file.path) }
        }
        #expect(try log.count() == 0)
        let narrated = folder.appendingPathComponent("narrated.json")
        try
            #"{"resourceType":"AuditEvent","text":{"status":"generated","div":"<div xmlns='http://www.w3.org/1999/xhtml'><script>alert(1)</script></div>"},"type":{"code":"rest"},"recorded":"2026-01-05T08:00:00Z"}"#
            .write(to: narrated, atomically: true, encoding: .utf8)
        #expect(try log.importFHIR(path: narrated.path).imported == 1)
        let xml = try export(log, format: .xml)
        #expect(!xml.contains("<script>") && !xml.contains("<div"))
        #expect(!(try export(log, format: .ndjson)).contains("script"))
    }

    @Test func importedExamplesReExportAsValidXML() throws {
        let log = try freshLog("all")
        for file in Self.officialJSON + Self.officialXML { _ = try log.importFHIR(path: file.path) }
        let file = folder.appendingPathComponent("examples.xml")
        try export(log, format: .xml).write(to: file, atomically: true, encoding: .utf8)
        let result = try runProgram([
            "xmllint", "--noout", "--schema", specFHIR.appendingPathComponent("r4/xsd/fhir-single.xsd").path, file.path,
        ])
        #expect(result.status == 0, "\(result.output.prefix(1500))")
        // Mapped fields are indexed: the patient of the official read example is found.
        #expect(try log.entries(.patient("example")).count >= 1)
    }

    @Test func ourOwnExportRoundTripsLosslesslyInJSONAndXML() async throws {
        let source = try await exportLog(in: folder)
        let original = try resources(try export(source, format: .ndjson))
        for format in [FHIRExporter.Format.ndjson, .json, .xml] {
            let file = folder.appendingPathComponent("export.\(format.rawValue)")
            try export(source, format: format).write(to: file, atomically: true, encoding: .utf8)
            let copy = try freshLog("copy-\(format.rawValue)")
            #expect(try copy.importFHIR(path: file.path).imported == original.count)
            #expect(try resources(try export(copy, format: .ndjson)) == original, "\(format)")
            #expect(try copy.verify().isIntact)
            // Into the log it came from: recognised, nothing appended twice.
            let again = try source.importFHIR(path: file.path)
            #expect(again.imported == 0)
            #expect(again.alreadyInLog == original.count)
        }
    }

    @Test func somethingElseIsRefusedAndNothingImported() throws {
        let log = try freshLog("refuse")
        let file = folder.appendingPathComponent("patient.json")
        try #"{"resourceType":"Patient","id":"x"}"#.write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: CareTrailError.self) { try log.importFHIR(path: file.path) }
        let xml = folder.appendingPathComponent("broken.xml")
        try #"<AuditEvent xmlns="http://hl7.org/fhir"><nonsense value="1"/></AuditEvent>"#.write(to: xml, atomically: true, encoding: .utf8)
        #expect(throws: CareTrailError.self) { try log.importFHIR(path: xml.path) }
        #expect(try log.count() == 0)
    }
}
