import AuditAnalysis
import AuditChain
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

/// A log with one key per role for tenant hospital-1, an agent key of hospital-2, and the
/// known report log ingested.
struct ServerFixture {
    let log: AuditLog
    let database: String
    var secrets: [String: String] = [:]

    init() throws {
        let folder = temporaryFolder()
        database = folder.appendingPathComponent("audit.sqlite").path
        log = try AuditLog.create(database: database)
        _ = try log.ingest(path: FixturePath.url("report/calls.jsonl").path)
        for role in APIRole.allCases {
            secrets[role.rawValue] = try log.createAPIKey(role: role, tenant: "hospital-1", name: "\(role.rawValue)-1", by: "admin").secret
        }
        secrets["agent-other"] = try log.createAPIKey(role: .agent, tenant: "hospital-2", by: "admin").secret
        secrets["officer-other"] = try log.createAPIKey(role: .privacyOfficer, tenant: "hospital-2", by: "admin").secret
    }

    func headers(_ who: String?) -> HTTPFields {
        guard let who, let secret = secrets[who] else { return [:] }
        return [.authorization: "Bearer \(secret)"]
    }

    static func call(tenant: String = "hospital-1", patient: String = "PAT-900", purpose: String = "TREAT") -> String {
        #"{"tenant_id":"\#(tenant)","conversation_id":"c-1","user_id":"usr-1","model":"m","tool_name":"get_patient_record","purpose_of_use":"\#(purpose)","patient_id":"\#(patient)"}"#
    }
}

func json(_ response: TestResponse) throws -> JSONValue {
    try JSONParser.parse(String(buffer: response.body))
}

@Suite("HTTP API")
struct ServerTests {
    @Test func anAgentAppendsABatchAndGetsEachEntrysPlaceInTheChain() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            let batch = [ServerFixture.call(), ServerFixture.call(patient: "PAT-901")].joined(separator: "\n")
            var headers = fixture.headers("agent")
            headers[.contentType] = "application/x-ndjson"
            try await client.execute(uri: "/v1/tool-calls", method: .post, headers: headers, body: ByteBuffer(string: batch)) { response in
                #expect(response.status == .created)
                let body = try json(response)
                #expect(body["entries"]?.arrayValue?.count == 2)
                #expect(body["head"]?["seq"] != nil)
            }
            // A bad line: 422 problem details naming line and field, nothing appended.
            let before = try fixture.log.count()
            let bad = ServerFixture.call() + "\n" + ServerFixture.call(purpose: "Maria Garcia")
            try await client.execute(uri: "/v1/tool-calls", method: .post, headers: headers, body: ByteBuffer(string: bad)) { response in
                #expect(response.status == .unprocessableContent)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try json(response)
                #expect(problem["status"] == 422)
                #expect(problem["type"] == "urn:caretrail:problem:invalid_records")
                #expect(problem["title"] == "Unprocessable Content")
                #expect(problem["detail"]?.stringValue?.contains("nothing was appended") == true)
                #expect(problem["errors"]?.arrayValue?.first?["line"] == 2)
                #expect(problem["errors"]?.arrayValue?.first?["field"] == "purpose_of_use")
                #expect(!String(buffer: response.body).contains("Maria"))
            }
            #expect(try fixture.log.count() == before)
            // No record at all (an empty body, blank lines): 400 no_records, as the CLI and
            // the library refuse it.
            for empty in ["", "\n  \n"] {
                try await client.execute(uri: "/v1/tool-calls", method: .post, headers: headers, body: ByteBuffer(string: empty)) {
                    response in
                    #expect(response.status == .badRequest)
                    let problem = try json(response)
                    #expect(problem["type"] == "urn:caretrail:problem:no_records")
                }
            }
            #expect(try fixture.log.count() == before)
        }
        #expect(try fixture.log.verify().isIntact)
    }

    /// Every role against every endpoint, on its own tenant and another's.
    @Test func rolesAndTenantsAreEnforcedOnEveryEndpoint() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        let alertID = try #require(try fixture.log.alerts().first?.alert.id)  // hospital-1's break-the-glass alert
        // (method, uri, body, expected status per caller)
        let own = ServerFixture.call()
        let other = ServerFixture.call(tenant: "hospital-2")
        let review = #"{"decision":"justified","note":"checked with the ED"}"#
        typealias Case = (HTTPRequest.Method, String, String?, [String: HTTPResponse.Status])
        let cases: [Case] = [
            (
                .post, "/v1/tool-calls", own,
                [
                    "agent": .created, "admin": .created, "privacy_officer": .forbidden, "siem": .forbidden, "agent-other": .forbidden,
                    "none": .unauthorized,
                ]
            ),
            (.post, "/v1/tool-calls", other, ["agent": .forbidden, "agent-other": .created, "admin": .created]),
            (.get, "/v1/head", nil, ["agent": .ok, "privacy_officer": .ok, "siem": .ok, "admin": .ok, "none": .unauthorized]),
            (
                .get, "/v1/entries/2", nil,
                [
                    "privacy_officer": .ok, "siem": .ok, "admin": .ok, "agent": .forbidden, "officer-other": .forbidden,
                    "none": .unauthorized,
                ]
            ),
            (
                .get, "/v1/traces/tr-3", nil,
                ["privacy_officer": .ok, "admin": .ok, "agent": .forbidden, "siem": .forbidden, "officer-other": .forbidden]
            ),
            (
                .get, "/v1/conversations/conv-3/timeline", nil,
                ["privacy_officer": .ok, "admin": .ok, "agent": .forbidden, "officer-other": .forbidden]
            ),
            (
                .get, "/v1/reports/patients/PAT-100?from=2026-01-01&to=2026-01-31", nil,
                ["privacy_officer": .ok, "admin": .ok, "officer-other": .ok, "agent": .forbidden, "siem": .forbidden]
            ),
            (
                .get, "/v1/alerts?open=true", nil,
                ["privacy_officer": .ok, "admin": .ok, "agent": .forbidden, "siem": .forbidden, "none": .unauthorized]
            ),
            (
                .post, "/v1/alerts/\(alertID)/review", review,
                ["agent": .forbidden, "siem": .forbidden, "officer-other": .forbidden, "privacy_officer": .created]
            ),
            (.get, "/v1/verify", nil, ["privacy_officer": .ok, "agent": .forbidden]),
            (.get, "/health", nil, ["none": .ok]),
        ]
        try await app.test(.router) { client in
            for (method, uri, body, expectations) in cases {
                for (who, status) in expectations.sorted(by: { $0.key < $1.key }) {
                    try await client.execute(
                        uri: uri, method: method, headers: fixture.headers(who == "none" ? nil : who),
                        body: body.map { ByteBuffer(string: $0) }
                    ) { response in
                        #expect(response.status == status, "\(who) \(method) \(uri): \(response.status)")
                    }
                }
            }
            // A privacy officer of another tenant sees none of hospital-1's accesses in a report.
            try await client.execute(uri: "/v1/reports/patients/PAT-100", method: .get, headers: fixture.headers("officer-other")) {
                response in
                let report = try json(response)
                #expect(report["total_accesses"] == 0)
            }
            // The bearer token may have blanks around it; another scheme, a bare prefix or a
            // secret with its id cut off is no key.
            let secret = try #require(fixture.secrets["siem"])
            for (header, status) in [
                ("Bearer \t \(secret)  ", HTTPResponse.Status.ok), ("bearer \(secret)", .unauthorized), ("Bearer ", .unauthorized),
                ("Bearer    ", .unauthorized), ("Basic \(secret)", .unauthorized), ("Bearer \(secret.prefix(20))", .unauthorized),
            ] {
                try await client.execute(uri: "/v1/head", method: .get, headers: [.authorization: header]) { response in
                    #expect(response.status == status, "\(header.prefix(10))")
                }
            }
            // A revoked key stops working at once.
            let revoked = try #require(try fixture.log.apiKeys().first { $0.name == "privacy_officer-1" })
            try fixture.log.revokeAPIKey(id: revoked.id, by: "admin")
            try await client.execute(uri: "/v1/head", method: .get, headers: fixture.headers("privacy_officer")) { response in
                #expect(response.status == .unauthorized)
            }
            // Revoked by another process (`caretrail keys revoke` beside the server): within a second.
            try await client.execute(uri: "/v1/head", method: .get, headers: fixture.headers("siem")) { response in
                #expect(response.status == .ok)
            }
            let other = try AuditLog.open(database: fixture.database)
            let siem = try #require(try other.apiKeys().first { $0.name == "siem-1" })
            try other.revokeAPIKey(id: siem.id, by: "admin")
            let revokedAt = ContinuousClock.now
            // The server trusts a key it read for one second from the read: a request made
            // once that second has passed is refused, however loaded the machine is.
            try await Task.sleep(until: revokedAt + .milliseconds(1_050))
            try await client.execute(uri: "/v1/head", method: .get, headers: fixture.headers("siem")) { response in
                #expect(response.status == .unauthorized)
            }
        }
        // Key creations, the revocation and the review are chained.
        #expect(try fixture.log.entries(kind: .keyEvent).count == 8)
        #expect(try fixture.log.entries(kind: .review).count == 1)
        #expect(try fixture.log.verify().isIntact)
    }

    @Test func metricsCountRequestsAppendsAndTheHead() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            var headers = fixture.headers("agent")
            headers[.contentType] = "application/x-ndjson"
            let batch = [ServerFixture.call(), ServerFixture.call(patient: "PAT-2"), ServerFixture.call(patient: "PAT-3")].joined(
                separator: "\n")
            try await client.execute(uri: "/v1/tool-calls", method: .post, headers: headers, body: ByteBuffer(string: batch)) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/v1/head", method: .get) { #expect($0.status == .unauthorized) }
            // Public by default, as Prometheus scrapes.
            let text = try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                return String(buffer: response.body)
            }
            #expect(text.contains("caretrail_entries_appended_total 3"))
            #expect(text.contains(#"caretrail_http_requests_total{method="POST",status="201"} 1"#))
            #expect(text.contains(#"caretrail_http_requests_total{method="GET",status="401"} 1"#))
            #expect(text.contains("caretrail_http_request_duration_seconds_bucket"))
            #expect(text.contains("caretrail_log_head_seq \(try fixture.log.head()?.seq ?? 0)"))
            #expect(text.contains("caretrail_open_alerts 1"))
        }
    }

    @Test func metricsCanBePutBehindASIEMOrAdminKey() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log, metricsNeedKey: true))
        try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/metrics", method: .get, headers: fixture.headers("agent")) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/metrics", method: .get, headers: fixture.headers("siem")) { #expect($0.status == .ok) }
            try await client.execute(uri: "/fhir/metadata", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func aLiveServerOnLoopbackAppendsDurablyAndReports() async throws {
        let fixture = try ServerFixture()
        let app = Application(
            router: CareTrailServer.router(log: fixture.log), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                let health = try json(response)
                #expect(response.status == .ok)
                #expect(health["ready"] == true)
            }
            try await client.execute(
                uri: "/v1/tool-calls", method: .post, headers: fixture.headers("agent"),
                body: ByteBuffer(string: ServerFixture.call(patient: "PAT-100"))
            ) { response in
                #expect(response.status == .created)
            }
            try await client.execute(
                uri: "/v1/reports/patients/PAT-100?format=csv", method: .get, headers: fixture.headers("privacy_officer")
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/csv; charset=utf-8")
                #expect(String(buffer: response.body).split(separator: "\r\n").count == 10)  // header + eight + the new one
            }
        }
    }
}
