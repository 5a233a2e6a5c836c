import AuditAnalysis
import AuditChain
import AuditCore
import AuditExport
import AuditFHIR
import AuditServer
import AuditStore
import AuditTestSupport
import CareTrail
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PropertyBased
import Testing

/// Values an agent or a reader can send that once crashed the server, poisoned an export or
/// slipped past a bound: numbers at and beyond every limit, dates at the edges of the
/// calendar, control characters, formula starts, long and empty strings.
enum Hostile {
    static let numbers: [String] = [
        "-1", "0", "0.5", "1", "3.25", "2147483647", "2147483648", "604800000", "604800001", "1e19", "-1e19",
        "9007199254740993", "1e308", "1e-7", "1000000", "1000001", "\"12\"", "null", "true",
    ]
    static let timestamps: [String] = [
        "0000-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59-01:00", "2026-01-05T08:00:00Z", "2999-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "garbage",
        "2026-01-05T08:00:00", "1970-01-01T00:00:00Z",
    ]
    static let strings: [String] = [
        "usr-1", "a\nb", "=HYPERLINK(\"http://x\",\"y\")", "+cmd", "@SUM(1)", "tool|name", "x\u{2028}y", "Ünïcödé",
        String(repeating: "a", count: 300), "", "dr=house\\ward 7", "]\"\\", "\u{1B}[2J", "PAT-1", "<b>x</b>&amp;",
        "CEF:0|forged|event", "-1", "\t=1",
    ]
    static let purposes: [String] = ["TREAT", "ETREAT", "HPAYMT", "BTG", "treat", "X"]
    static let actions: [String] = ["R", "C", "U", "D", "E", "Z"]

    /// A JSON string literal of `text`.
    static func quoted(_ text: String) -> String { CanonicalJSON.string(.string(text)) }

    /// One tool-call line built from the choices, some fields valid, some not.
    static func record(
        number: Int, timestamp: Int, string: Int, purpose: Int, action: Int, shape: Int
    ) -> String {
        let value = numbers[number % numbers.count]
        let time = timestamps[timestamp % timestamps.count]
        let text = strings[string % strings.count]
        var fields: [String] = [
            #""tenant_id":"hospital-1""#, #""conversation_id":"c-1""#, #""model":"m""#,
            #""purpose_of_use":"\#(purposes[purpose % purposes.count])""#,
            #""action":"\#(actions[action % actions.count])""#,
        ]
        fields.append(#""user_id":"# + (shape % 3 == 0 ? quoted(text) : #""usr-1""#))
        fields.append(#""tool_name":"# + (shape % 3 == 1 ? quoted(text) : #""get_patient_record""#))
        if actions[action % actions.count] == "E" {
            fields.append(#""patient_ids":["PAT-1","PAT-2"]"#)
        } else {
            fields.append(#""patient_id":"# + (shape % 5 == 2 ? quoted(text) : #""PAT-1""#))
        }
        switch shape % 7 {
        case 0: fields.append(#""duration_ms":\#(value)"#)
        case 1: fields.append(#""turn_number":\#(value)"#)
        case 2: fields.append(#""usage":{"input_tokens":\#(value),"output_tokens":1,"cost_usd":\#(value)}"#)
        case 3: fields.append(#""timestamp":"\#(time)""#)
        case 4: fields.append(#""timestamp":"\#(time)","duration_ms":\#(value)"#)
        case 5: fields.append(#""error":\#(quoted(text)),"arguments":{"family":"Garcia","note":\#(quoted(text))}"#)
        default: fields.append(#""trace_id":\#(quoted(text)),"user_role":\#(quoted(text))"#)
        }
        if purposes[purpose % purposes.count] == "ETREAT" || purposes[purpose % purposes.count] == "BTG" {
            fields.append(#""break_glass":{"reason":"Patient unconscious in ED, no consent possible"}"#)
        }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

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
                counts.stored += 1
                for head in receipt.entries {
                    let entry = try #require(try log.store.entry(seq: head.seq))
                    render(entry)
                }
            } catch let error as IngestError {
                counts.refused += 1
                #expect(error.field != nil || error.code == .invalidJSON)
                #expect(!error.description.contains("Garcia"))
            } catch let error as CareTrailError {
                counts.refused += 1
                #expect(error.code == .invalidRecords, "\(error)")
                #expect(!error.description.contains("Garcia"))
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        #expect(counts.stored > 50 && counts.refused > 50, "stored \(counts.stored), refused \(counts.refused)")
        for version in FHIRVersion.allCases {
            for format in [FHIRExporter.Format.ndjson, .json, .xml] {
                var bytes = 0
                _ = try FHIRExporter(version: version, format: format).export(
                    store: log.store, selection: .init(), bundleID: "b", timestamp: log.store.clock()
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
        #expect(try log.store.verify().isIntact)
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

    /// At least 10,000 generated requests across every route, with and without keys, with
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
        try await app.test(.router) { client in
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
                    counts.requests += 1
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
        #expect(counts.requests >= 10_000)
        #expect(try fixture.log.store.verify().isIntact)
    }
}

/// Counts shared by a property check's iterations.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Int] = [:]

    private func get(_ name: String) -> Int { lock.withLock { values[name, default: 0] } }
    private func set(_ name: String, _ value: Int) { lock.withLock { values[name] = value } }

    var stored: Int { get { get("stored") } set { set("stored", newValue) } }
    var refused: Int { get { get("refused") } set { set("refused", newValue) } }
    var requests: Int { get { get("requests") } set { set("requests", newValue) } }
}
