import AuditAnalysis
import AuditChain
import AuditCore
import AuditExport
import AuditFHIR
import AuditSQLite
import AuditServer
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PropertyBased
import Testing

@Suite("Hostile input")
struct HostileInputTests {
    /// Generated records, valid and invalid, through decode → sanitise → store → every
    /// renderer: FHIR R4 and R5 in JSON and XML (mapping and export), the four SIEM formats,
    /// and the report in JSON, CSV, HTML and table form. Nothing may trap; a refused record
    /// names a field and never echoes the value.
    @Test func generatedRecordsNeverTrapARenderer() async throws {
        let folder = temporaryFolder()
        let log = try AuditLog.create(database: folder.appendingPathComponent("audit.sqlite").path)
        let counts = Counter()
        let pick = Gen.int(in: 0...10_000)
        await propertyCheck(count: 400, input: pick, pick, pick, pick, pick, pick) { n, t, s, p, a, shape in
            let line = Hostile.record(number: n, timestamp: t, string: s, purpose: p, action: a, shape: shape)
            do {
                let record = try IngestContract.decode(line: line, lineNumber: 1)
                let receipt = try await log.record([record])
                counts.add(to: "stored")
                for head in receipt.entries {
                    let entry = try #require(try log.entry(seq: head.seq))
                    render(entry)
                }
            } catch let error as IngestError {
                counts.add(to: "refused")
                #expect(error.field != nil || error.code == .invalidJSON)
                #expect(!error.description.contains("Garcia"))
            } catch let error as CareTrailError {
                counts.add(to: "refused")
                #expect(error.code == .invalidRecords, "\(error)")
                #expect(!error.description.contains("Garcia"))
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        #expect(counts["stored"] > 50 && counts["refused"] > 50, "stored \(counts["stored"]), refused \(counts["refused"])")
        for version in FHIRVersion.allCases {
            for format in [FHIRExporter.Format.ndjson, .json, .xml] {
                var bytes = 0
                _ = try FHIRExporter(version: version, format: format).export(
                    store: log.reader, selection: .init(), bundleID: "b", timestamp: log.now()
                ) { chunk in bytes += chunk.count }
                #expect(bytes > 0)
            }
        }
        for patient in ["PAT-1", "PAT-2"] {
            let report = try log.patientReport(.patientID(patient), from: nil, to: nil)
            #expect(!report.csv.isEmpty && !report.html.isEmpty && !report.table.isEmpty && !report.canonicalJSON.isEmpty)
            for line in report.csv.split(separator: "\r\n").dropFirst() {
                for cell in line.split(separator: ",") {
                    #expect(!["=", "+", "@"].contains(cell.first.map(String.init) ?? ""), "formula cell \(cell)")
                }
            }
        }
        #expect(try log.verify().isIntact)
    }

    private func render(_ entry: StoredEntry) {
        for version in FHIRVersion.allCases {
            for event in AuditEventMapper(version: version).events(for: entry) {
                #expect(!FHIRJSONWriter.string(event).isEmpty)
                #expect(!FHIRXMLWriter.string(event).isEmpty)
            }
        }
        for format in SIEMFormat.allCases {
            let message = SIEMRenderer(format: format).render(entry)
            // One message is one line: no value may end it early.
            let body = format == .cef || format == .jsonl ? message.dropLast() : message[...]
            #expect(!body.contains(0x0A) && !body.contains(0x0D), "\(format.rawValue) message holds a line break")
        }
    }

    /// At least 10,000 generated requests, over a socket to a live server, across every route, with and without keys, with
    /// hostile paths, query strings and bodies: every answer is 2xx or 4xx, every error is
    /// problem+json, and the log stays intact.
    @Test func tenThousandGeneratedRequestsGetOnly2xxOr4xx() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        let counts = Counter()
        let routes = [
            "/health", "/metrics", "/v1/tool-calls", "/v1/head", "/v1/verify", "/v1/entries/", "/v1/traces/",
            "/v1/conversations/c-1/timeline", "/v1/reports/patients/", "/v1/alerts", "/v1/alerts/alert-1/review",
            "/v1/export/fhir", "/fhir/metadata", "/fhir/AuditEvent", "/fhir/AuditEvent/", "/nowhere",
        ]
        let queries = [
            "", "?_count=-1", "?_count=0", "?_count=1001", "?_count=5", "?_at=99999999999999999999", "?_at=-3",
            "?_after=9223372036854775807", "?_after=-1", "?_after=1&_at=2", "?date=ge0000-01-01", "?date=le9999-12-31",
            "?date=gt9999-12-31T23:59:59.999Z", "?date=lt0001-01-01T00:00:00Z", "?patient=PAT-1&agent=usr-1",
            "?format=csv", "?format=html", "?format=xml", "?format=bogus", "?fhir_version=r5", "?fhir_version=r9",
            "?from=0000-01-01&to=9999-12-31", "?from=garbage", "?open=true", "?_format=xml", "?x%00y=1",
            "?patient=%0A%0D", "?type=rest&outcome=0", "?entity=1&purpose=TREAT",
        ]
        let segments = ["1", "0", "-1", "9223372036854775807", "99999999999999999999", "PAT-1", "%2F..%2F", "ct1-abc", "c-1"]
        let who = ["agent", "privacy_officer", "siem", "admin", "agent-other", "officer-other", nil]
        // A real server on loopback: every request goes over a socket, through HTTP parsing.
        try await app.test(.live) { client in
            await propertyCheck(count: 10_000, input: Gen.int(in: 0...1_000_000), Gen.int(in: 0...1_000_000)) { a, b in
                let route = routes[a % routes.count]
                let path = route.hasSuffix("/") ? route + segments[b % segments.count] : route
                let uri = path + queries[(a / 7 + b) % queries.count]
                let post = route == "/v1/tool-calls" || route.hasSuffix("/review") ? b % 5 != 0 : b % 11 == 0
                var body = ByteBuffer()
                if post {
                    switch b % 6 {
                    case 0: body = ByteBuffer(string: "")
                    case 1: body = ByteBuffer(bytes: (0..<64).map { UInt8(truncatingIfNeeded: $0 &* (a | 1)) })
                    case 2: body = ByteBuffer(string: #"{"decision":"justified","note":"checked with the ward"}"#)
                    default:
                        let lines = (0..<(1 + b % 3)).map {
                            Hostile.record(number: a + $0, timestamp: b, string: a / 3, purpose: b / 5, action: a / 11, shape: b + $0)
                        }
                        body = ByteBuffer(string: lines.joined(separator: "\n"))
                    }
                }
                do {
                    try await client.execute(
                        uri: uri, method: post ? .post : .get, headers: fixture.headers(who[(a + b) % who.count]), body: body
                    ) { response in
                        counts.add(to: "requests")
                        #expect(response.status.code < 500, "\(post ? "POST" : "GET") \(uri) → \(response.status.code)")
                        if response.status.code >= 400 {
                            #expect(response.headers[.contentType] == "application/problem+json", "\(uri)")
                        }
                    }
                } catch {
                    Issue.record("request \(uri) failed: \(error)")
                }
            }
        }
        #expect(counts["requests"] >= 10_000)
        #expect(try fixture.log.verify().isIntact)
    }
}
