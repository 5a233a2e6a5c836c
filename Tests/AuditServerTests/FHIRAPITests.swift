import AuditCore
import AuditSQLite
import AuditServer
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("FHIR read API")
struct FHIRAPITests {
    @Test func searchPagesStablyAndReadsByID() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            // The patient's AuditEvents: eight accesses (one a query) and the break-the-glass alert.
            let all = try await client.execute(uri: "/fhir/AuditEvent?patient=PAT-100", method: .get, headers: fixture.headers("siem")) {
                response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/fhir+json; charset=utf-8")
                return try json(response)
            }
            #expect(all["resourceType"] == "Bundle")
            #expect(all["type"] == "searchset")
            let ids = all["entry"]?.arrayValue?.compactMap { $0["resource"]?["id"]?.stringValue } ?? []
            #expect(ids.count == 9)

            // Pages of three, while a new access arrives: the pages still add up to the same nine.
            var next: String? = "/fhir/AuditEvent?patient=PAT-100&_count=3"
            var paged: [String] = []
            var pages = 0
            while let uri = next {
                let page = try await client.execute(uri: uri, method: .get, headers: fixture.headers("siem")) { try json($0) }
                paged += page["entry"]?.arrayValue?.compactMap { $0["resource"]?["id"]?.stringValue } ?? []
                next = page["link"]?.arrayValue?.first { $0["relation"] == "next" }?["url"]?.stringValue
                    .map {
                        String($0.dropFirst("https://caretrail.dev/fhir".count)).replacingOccurrences(
                            of: "AuditEvent?", with: "/fhir/AuditEvent?")
                    }
                pages += 1
                if pages == 1 {
                    var headers = fixture.headers("agent")
                    headers[.contentType] = "application/json"
                    try await client.execute(
                        uri: "/v1/tool-calls", method: .post, headers: headers,
                        body: ByteBuffer(string: ServerFixture.call(patient: "PAT-100"))
                    ) {
                        #expect($0.status == .created)
                    }
                }
            }
            #expect(pages == 3)
            #expect(paged == ids)

            // Filters: purpose, type, date.
            let btg = try await client.execute(
                uri: "/fhir/AuditEvent?patient=PAT-100&purpose=ETREAT&date=ge2026-01-10&date=le2026-01-10", method: .get,
                headers: fixture.headers("siem")
            ) { try json($0) }
            #expect(btg["entry"]?.arrayValue?.count == 2)
            let alerts = try await client.execute(uri: "/fhir/AuditEvent?type=110113", method: .get, headers: fixture.headers("siem")) {
                try json($0)
            }
            #expect(alerts["entry"]?.arrayValue?.count == 1)

            // Read by id, in XML by Accept.
            let first = try #require(ids.first)
            var xmlHeaders = fixture.headers("privacy_officer")
            xmlHeaders[.accept] = "application/fhir+xml"
            try await client.execute(uri: "/fhir/AuditEvent/\(first)", method: .get, headers: xmlHeaders) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).hasPrefix("<?xml"))
            }
            try await client.execute(uri: "/fhir/AuditEvent/ct99999-000000000000", method: .get, headers: fixture.headers("siem")) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/fhir/AuditEvent/\(first)", method: .get, headers: fixture.headers("officer-other")) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/fhir/AuditEvent?patient=PAT-100", method: .get, headers: fixture.headers("agent")) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/fhir/AuditEvent?name=Maria", method: .get, headers: fixture.headers("siem")) {
                #expect($0.status == .badRequest)
            }
            let other = try await client.execute(
                uri: "/fhir/AuditEvent?patient=PAT-100", method: .get, headers: fixture.headers("officer-other")
            ) { try json($0) }
            #expect(other["entry"] == nil)

            let metadata = try await client.execute(uri: "/fhir/metadata", method: .get, headers: fixture.headers("siem")) { try json($0) }
            #expect(metadata["resourceType"] == "CapabilityStatement")
            let params = metadata["rest"]?.arrayValue?.first?["resource"]?.arrayValue?.first?["searchParam"]?.arrayValue?.compactMap {
                $0["name"]?.stringValue
            }
            #expect(params == ["patient", "date", "agent", "entity", "type", "subtype", "outcome", "purpose"])
        }
    }

    @Test func theExportStreamsOnlyTheKeysTenant() async throws {
        let fixture = try ServerFixture()
        var agentHeaders = fixture.headers("agent-other")
        agentHeaders[.contentType] = "application/json"
        let headers = agentHeaders
        let app = Application(
            router: CareTrailServer.router(log: fixture.log), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await client.execute(
                uri: "/v1/tool-calls", method: .post, headers: headers, body: ByteBuffer(string: ServerFixture.call(tenant: "hospital-2"))
            ) {
                #expect($0.status == .created)
            }
            func tenants(_ who: String) async throws -> [String] {
                try await client.execute(uri: "/v1/export/fhir?format=ndjson", method: .get, headers: fixture.headers(who)) { response in
                    #expect(response.status == .ok)
                    return try String(buffer: response.body).split(separator: "\n").map { line in
                        let event = try JSONParser.parse(String(line))
                        return event["extension"]?.arrayValue?.first { $0["url"]?.stringValue?.hasSuffix("/tenant") == true }?[
                            "valueString"]?.stringValue ?? "?"
                    }
                }
            }
            let siem = try await tenants("siem")
            #expect(siem.count == 12)
            #expect(Set(siem) == ["hospital-1"])
            let admin = try await tenants("admin")
            #expect(Set(admin) == ["hospital-1", "hospital-2"])
            try await client.execute(uri: "/v1/export/fhir?format=xml&patient=PAT-100", method: .get, headers: fixture.headers("siem")) {
                response in
                #expect(response.headers[.contentType] == "application/fhir+xml")
                #expect(String(buffer: response.body).hasSuffix("</Bundle>\n"))
            }
            try await client.execute(uri: "/v1/export/fhir", method: .get, headers: fixture.headers("agent")) {
                #expect($0.status == .forbidden)
            }
        }
    }

    @Test func searchResultsInXMLValidateAgainstTheOfficialSchema() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        let file = temporaryFolder().appendingPathComponent("searchset.xml")
        try await app.test(.router) { client in
            try await client.execute(uri: "/fhir/AuditEvent?_format=xml", method: .get, headers: fixture.headers("admin")) { response in
                try String(buffer: response.body).write(to: file, atomically: true, encoding: .utf8)
            }
        }
        let shared = FixturePath.url("fhir/r4/xsd/fhir-single.xsd")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["xmllint", "--noout", "--schema", shared.path, file.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
