import AuditAnalysis
import AuditChain
import AuditCore
import AuditFHIR
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Testing

/// The FHIR specification files the tests use, copied into `fixtures/fhir` (see its SOURCES.md).
let specFHIR = FixturePath.url("fhir")

/// A log with every kind of AuditEvent: reads, changes, queries (several patients and none),
/// failures, break-the-glass and its alert, a burst alert.
func exportLog(in folder: URL) async throws -> AuditLog {
    let log = try AuditLog.create(database: folder.appendingPathComponent("audit.sqlite").path)
    _ = try log.ingest(path: FixturePath.url("report/calls.jsonl").path)
    _ = try log.ingest(path: try sampleWorkload(lines: 120, in: folder))
    let query = ToolCall(
        tenantID: "hospital-1", conversationID: "conv-q", userID: "usr-5", model: "gpt-4.1", toolName: "search_patients",
        purposeOfUse: .treatment, patientID: nil, patientIDs: [], action: .execute, arguments: ["query": "no match <&>"]
    )
    _ = try await log.record([.toolCall(query)])
    _ = try await log.record((0..<10).map { read("PAT-777", minute: Double($0)) })
    return log
}

func export(_ log: AuditLog, version: FHIRVersion = .r4, format: FHIRExporter.Format, patient: String? = nil) throws -> String {
    var bytes: [UInt8] = []
    _ = try FHIRExporter(version: version, format: format).export(
        store: log.reader, selection: .init(patient: patient), bundleID: "test", timestamp: Timestamp(millisecondsSinceEpoch: 0)
    ) { chunk in bytes.append(contentsOf: chunk) }
    return String(decoding: bytes, as: UTF8.self)
}

/// Every AuditEvent of an NDJSON export, parsed.
func resources(_ ndjson: String) throws -> [JSONValue] {
    try ndjson.split(separator: "\n").map { try JSONParser.parse(String($0)) }
}

@Suite("FHIR AuditEvent export")
struct FHIRExportTests {
    let folder = temporaryFolder()

    @Test func everyR4XMLOutputValidatesAgainstTheOfficialSchema() async throws {
        let log = try await exportLog(in: folder)
        let bundle = folder.appendingPathComponent("bundle.xml")
        try export(log, format: .xml).write(to: bundle, atomically: true, encoding: .utf8)
        var files = [bundle.path]
        // Single resources too, one of each kind.
        let mapper = AuditEventMapper(version: .r4)
        let entries = try log.entries(from: 1, through: try log.count(), limit: 10_000)
        let events = entries.flatMap(mapper.events(for:))
        for (index, event) in events.enumerated() where index % 9 == 0 || event["type"]?["code"] == .string("110113") {
            let file = folder.appendingPathComponent("event-\(index).xml")
            try FHIRXMLWriter.string(event).write(to: file, atomically: true, encoding: .utf8)
            files.append(file.path)
        }
        let schema = specFHIR.appendingPathComponent("r4/xsd/fhir-single.xsd").path
        let result = try runProgram(["xmllint", "--noout", "--schema", schema] + files)
        #expect(result.status == 0, "\(result.output.prefix(2000))")
        #expect(result.output.components(separatedBy: " validates").count - 1 == files.count)
    }

    @Test func everyR4JSONOutputValidatesAgainstTheOfficialJSONSchema() async throws {
        let log = try await exportLog(in: folder)
        let ndjson = folder.appendingPathComponent("events.ndjson")
        try export(log, format: .ndjson).write(to: ndjson, atomically: true, encoding: .utf8)
        let bundle = folder.appendingPathComponent("bundle.json")
        try export(log, format: .json, patient: "PAT-100").write(to: bundle, atomically: true, encoding: .utf8)
        let schema = specFHIR.appendingPathComponent("r4/json-schema/fhir.schema.json").path
        let script = FixturePath.root.deletingLastPathComponent().appendingPathComponent("scripts/validate-fhir-json.py").path
        let events = try runProgram(["python3", script, schema, "--ndjson", ndjson.path])
        #expect(events.status == 0, "\(events.output.prefix(2000))")
        let bundled = try runProgram(["python3", script, schema, bundle.path])
        #expect(bundled.status == 0, "\(bundled.output.prefix(2000))")
    }

    /// R5 output checked by an outside validator: `fhir.resources` (PyPI, R5 5.0.0), which
    /// holds every element to its type in the R5 definition (`source.type` is a list of
    /// CodeableConcept there, not of Coding).
    @Test func everyR5JSONOutputValidatesWithFHIRResources() async throws {
        let log = try await exportLog(in: folder)
        let ndjson = folder.appendingPathComponent("events-r5.ndjson")
        try export(log, version: .r5, format: .ndjson).write(to: ndjson, atomically: true, encoding: .utf8)
        let bundle = folder.appendingPathComponent("bundle-r5.json")
        try export(log, version: .r5, format: .json, patient: "PAT-100").write(to: bundle, atomically: true, encoding: .utf8)
        let script = FixturePath.root.deletingLastPathComponent().appendingPathComponent("scripts/validate-fhir-r5.py").path
        let events = try runProgram(["python3", script, ndjson.path])
        #expect(events.status == 0, "\(events.output.prefix(2000))")
        #expect(events.output.contains(" 0 invalid"))
        let bundled = try runProgram(["python3", script, "--bundle", bundle.path])
        #expect(bundled.status == 0, "\(bundled.output.prefix(2000))")
    }

    @Test func xmlAndJSONOfTheSameExportCarryTheSameContent() async throws {
        let log = try await exportLog(in: folder)
        let json = try JSONParser.parse(try export(log, format: .json))
        let xml = try export(log, format: .xml)
        let fromJSON = FHIRLeaves.fromJSON(json).sorted()
        let fromXML = try FHIRLeaves.fromXML(xml).sorted()
        #expect(fromJSON.count > 1000)
        #expect(fromJSON == fromXML)
    }

    @Test func theMappingFollowsBALPForEachKindOfAccess() async throws {
        let log = try await exportLog(in: folder)
        let events = try resources(try export(log, format: .ndjson, patient: "PAT-100"))
        func subtype(_ event: JSONValue) -> String? { event["subtype"]?.arrayValue?.first?["code"]?.stringValue }
        // A read: rest/read, client 110152 and server 110153, a patient entity (type 1, role 1).
        let read = try #require(events.first { subtype($0) == "read" })
        #expect(read["type"]?["code"] == "rest")
        #expect(read["action"] == "R")
        let agents = try #require(read["agent"]?.arrayValue)
        #expect(agents.first?["requestor"] == true)
        #expect(agents.first?["who"]?["identifier"]?["value"] == "usr-1")
        #expect(agents[1]["type"]?["coding"]?.arrayValue?.compactMap { $0["code"]?.stringValue } == ["110152", "110150"])
        #expect(agents[1]["requestor"] == false)
        #expect(agents[2]["type"]?["coding"]?.arrayValue?.first?["code"] == "110153")
        let patient = try #require(read["entity"]?.arrayValue?.first)
        #expect(patient["what"]?["reference"] == "Patient/PAT-100")
        #expect(patient["type"]?["code"] == "1")
        #expect(patient["role"]?["code"] == "1")
        #expect(read["purposeOfEvent"]?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"] == "TREAT")
        // A query: search-type, the sanitised query base64 in entity.query, role 24.
        let query = try #require(events.first { subtype($0) == "search-type" })
        let queryEntity = try #require(query["entity"]?.arrayValue?.last)
        #expect(queryEntity["role"]?["code"] == "24")
        let decoded = String(decoding: Data(base64Encoded: queryEntity["query"]?.stringValue ?? "") ?? Data(), as: UTF8.self)
        #expect(decoded.contains("hmac-sha256:"))
        #expect(!decoded.contains("Maria"))
        // Break-the-glass: ETREAT with the reason as the purpose's text.
        let btg = try #require(events.first { $0["purposeOfEvent"]?.arrayValue?.first?["text"] != nil })
        #expect(btg["purposeOfEvent"]?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"] == "ETREAT")
        // A permission denial: outcome 8 with the error as outcomeDesc.
        let failed = try #require(events.first { $0["outcome"] != "0" })
        #expect(failed["outcome"] == "8")
        #expect(failed["outcomeDesc"]?.stringValue?.contains("permission denied") == true)
        // The break-the-glass alert: Security Alert 110113, subtype 110127.
        let alert = try #require(events.first { $0["type"]?["code"] == "110113" })
        #expect(alert["subtype"]?.arrayValue?.first?["code"] == "110127")
        // Ids are stable across exports.
        let again = try resources(try export(log, format: .ndjson, patient: "PAT-100"))
        #expect(again.map { $0["id"] } == events.map { $0["id"] })
        #expect(Set(events.compactMap { $0["id"]?.stringValue }).count == events.count)
    }

    /// Exports write straight into bytes; searches and the importer use the tree. Both come from
    /// one mapping, and for every entry of every kind the bytes are the tree's, written by the
    /// tree writers, in JSON and XML, R4 and R5.
    @Test(arguments: FHIRVersion.allCases)
    func theDirectWritersWriteWhatTheTreeWritersWrite(version: FHIRVersion) async throws {
        let log = try await exportLog(in: folder)
        // An imported AuditEvent too, which is written back from its tree.
        let example = specFHIR.appendingPathComponent("r4/package/AuditEvent-example-search.json")
        #expect(try log.importFHIR(path: example.path).imported == 1)
        let mapper = AuditEventMapper(version: version)
        var kinds: Set<String> = []
        var compared = 0
        for entry in try log.entries(from: 1, through: Int64.max, limit: 100_000) {
            let trees = mapper.events(for: entry)
            var json = FHIRJSONSink(framing: .line)
            var xml = FHIRXMLSink(framing: .bare)
            #expect(mapper.write(entry, into: &json) == trees.count)
            #expect(mapper.write(entry, into: &xml) == trees.count)
            var expectedJSON: [UInt8] = []
            var expectedXML: [UInt8] = []
            for tree in trees {
                FHIRJSONWriter.write(tree, into: &expectedJSON)
                expectedJSON.append(0x0A)
                FHIRXMLWriter.write(tree, into: &expectedXML, declaration: false)
            }
            #expect(json.out == expectedJSON, "entry \(entry.seq) (\(entry.content.kind)) in JSON")
            #expect(xml.out == expectedXML, "entry \(entry.seq) (\(entry.content.kind)) in XML")
            if !trees.isEmpty { kinds.insert(entry.content.kind.rawValue + (entry.content.action?.rawValue ?? "")) }
            compared += trees.count
        }
        #expect(compared > 130)
        var expected: Set<String> = ["tool_callR", "tool_callE", "tool_callC", "alert"]
        if version == .r4 { expected.insert("fhir_audit_eventE") }
        #expect(kinds.isSuperset(of: expected), "\(kinds)")
    }

    /// Large exports are read and rendered in slices, one per core: the result is the same
    /// document, separators included, whatever the slice size.
    @Test(arguments: FHIRExporter.Format.allCases)
    func slicesJoinIntoTheSameDocument(format: FHIRExporter.Format) async throws {
        let log = try await exportLog(in: folder)
        func export(slice: Int64) throws -> [UInt8] {
            var exporter = FHIRExporter(format: format)
            exporter.entriesPerSlice = slice
            var bytes: [UInt8] = []
            _ = try exporter.export(store: log.reader, selection: .init(), bundleID: "b", timestamp: Timestamp(millisecondsSinceEpoch: 0)) {
                bytes.append(contentsOf: $0)
            }
            return bytes
        }
        let whole = try export(slice: 100_000)
        for slice: Int64 in [1, 7, 64] { #expect(try export(slice: slice) == whole, "slices of \(slice)") }
        if format == .json { #expect(try JSONParser.parse(whole)["entry"]?.arrayValue?.count ?? 0 > 130) }
    }

    @Test func aQueryGivesOneAuditEventPerPatientItNamed() async throws {
        let log = try await exportLog(in: folder)
        let all = try resources(try export(log, format: .ndjson))
        let search = all.filter { $0["extension"]?.arrayValue?.contains { $0["valueString"] == "conv-2" } == true && $0["action"] == "E" }
        #expect(
            search.compactMap { $0["entity"]?.arrayValue?.first?["what"]?["reference"]?.stringValue } == [
                "Patient/PAT-100", "Patient/PAT-200",
            ])
        let noMatch = all.filter { $0["extension"]?.arrayValue?.contains { $0["valueString"] == "conv-q" } == true }
        #expect(noMatch.count == 1)
        #expect(noMatch.first?["entity"]?.arrayValue?.count == 1)
    }

    @Test func everyCodeWeEmitExistsInItsCodeSystemFile() async throws {
        let systems = try CodeSystems.load(specFHIR.appendingPathComponent("r4/package"))
        let profiles = FixturePath.root.deletingLastPathComponent().appendingPathComponent("fhir-profiles")
        let ours = try CodeSystems.load(profiles)
        for (system, code, display) in FHIRVocabulary.emitted {
            #expect(systems[system]?[code] == display, "\(system)#\(code)")
        }
        let log = try await exportLog(in: folder)
        var seen = 0
        for version in FHIRVersion.allCases {
            for event in try resources(try export(log, version: version, format: .ndjson)) {
                for (system, code) in CodeSystems.codings(in: event) {
                    seen += 1
                    let known = systems[system] ?? ours[system]
                    #expect(
                        known?[code] != nil || system == FHIRVocabulary.eventOutcomeR5 || system == FHIRVocabulary.eventSeverity,
                        "\(system)#\(code)")
                }
            }
        }
        #expect(seen > 1000)
    }

    @Test(arguments: FHIRVersion.allCases)
    func exportsMeetTheCardinalitiesOfTheCoreDefinitionAndOurProfile(version: FHIRVersion) async throws {
        let log = try await exportLog(in: folder)
        let core = specFHIR.appendingPathComponent(
            version == .r4 ? "r4/package/StructureDefinition-AuditEvent.json" : "r5/package/StructureDefinition-AuditEvent.json")
        let profiles = FixturePath.root.deletingLastPathComponent().appendingPathComponent("fhir-profiles")
        let ours = profiles.appendingPathComponent(
            version == .r4 ? "StructureDefinition-caretrail-auditevent.json" : "StructureDefinition-caretrail-auditevent-r5.json")
        let checker = try ProfileChecker(core: core, profile: ours)
        let events = try resources(try export(log, version: version, format: .ndjson))
        #expect(events.count > 100)
        for event in events {
            let problems = checker.problems(event)
            #expect(problems.isEmpty, "\(event["id"]?.stringValue ?? "?"): \(problems)")
        }
    }
}
