import AuditAnalysis
import AuditChain
import AuditCore
import AuditServer
import AuditStorage
import CareTrail
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// A signed-in console client: the session cookie and the form token of its pages.
struct ConsoleClient {
    var cookie = ""
    var formToken = ""

    /// The value of `name="csrf" value="…"` in a page.
    static func formToken(in page: String) -> String? {
        guard let range = page.range(of: #"name="csrf" value=""#) else { return nil }
        return String(page[range.upperBound...].prefix { $0 != "\"" })
    }

    /// `name=value` of a response's Set-Cookie header named `name`.
    static func cookie(_ name: String, in response: TestResponse) -> String? {
        response.headers[values: .setCookie].first { $0.hasPrefix(name + "=") }.map { String($0.prefix { $0 != ";" }) }
    }

    static func form(_ fields: [String: String]) -> ByteBuffer {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let body = fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        return ByteBuffer(string: body)
    }

    /// Signs in with `secret`; returns the response of the sign-in POST and, when it succeeded, the client.
    static func signIn(_ client: some TestClientProtocol, secret: String) async throws -> (HTTPResponse.Status, ConsoleClient?) {
        let login = try await client.execute(uri: "/ui/login", method: .get)
        let loginCookie = try #require(cookie("caretrail_login", in: login))
        let token = try #require(formToken(in: String(buffer: login.body)))
        let response = try await client.execute(
            uri: "/ui/login", method: .post, headers: [.cookie: loginCookie, .contentType: "application/x-www-form-urlencoded"],
            body: form(["csrf": token, "api_key": secret]))
        guard response.status == .seeOther, let session = cookie("caretrail_session", in: response) else { return (response.status, nil) }
        var console = ConsoleClient(cookie: session)
        let overview = try await console.get(client, "/ui/")
        console.formToken = try #require(formToken(in: String(buffer: overview.body)))
        return (response.status, console)
    }

    func get(_ client: some TestClientProtocol, _ uri: String) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: [.cookie: cookie])
    }

    func post(_ client: some TestClientProtocol, _ uri: String, _ fields: [String: String], token: Bool = true) async throws -> TestResponse
    {
        var fields = fields
        if token { fields["csrf"] = formToken }
        return try await client.execute(
            uri: uri, method: .post, headers: [.cookie: cookie, .contentType: "application/x-www-form-urlencoded"],
            body: ConsoleClient.form(fields))
    }
}

@Suite("Console")
struct ConsoleTests {
    /// Ten accesses to one patient within an hour, by one user: a burst alert.
    static func burst(_ log: AuditLog, user: String = "usr-burst", tool: String = "get_patient_record") async throws {
        let calls = (0..<10).map { _ in
            #"{"tenant_id":"hospital-1","conversation_id":"c-9","trace_id":"t-burst","user_id":"\#(user)","model":"m","tool_name":"\#(tool)","purpose_of_use":"TREAT","patient_id":"PAT-777"}"#
        }
        _ = try await log.ingest(body: Array(calls.joined(separator: "\n").utf8), tenant: nil)
    }

    @Test func anOfficerSignsInWithAnHttpOnlyStrictCookieAndAnAgentKeyCannot() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            let (agentStatus, agent) = try await ConsoleClient.signIn(client, secret: fixture.secrets["agent"] ?? "")
            #expect(agentStatus == .forbidden)
            #expect(agent == nil)
            let login = try await client.execute(uri: "/ui/login", method: .get)
            let token = try #require(ConsoleClient.formToken(in: String(buffer: login.body)))
            let signIn = try await client.execute(
                uri: "/ui/login", method: .post,
                headers: [
                    .cookie: try #require(ConsoleClient.cookie("caretrail_login", in: login)),
                    .contentType: "application/x-www-form-urlencoded",
                ],
                body: ConsoleClient.form(["csrf": token, "api_key": fixture.secrets["privacy_officer"] ?? ""]))
            #expect(signIn.status == .seeOther)
            let setCookie = signIn.headers[values: .setCookie].first { $0.hasPrefix("caretrail_session=") } ?? ""
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Strict"))
            #expect(String(buffer: login.body).contains(#"type="password""#))
            // Without a session, pages send the browser to the sign-in page.
            let anonymous = try await client.execute(uri: "/ui/alerts", method: .get)
            #expect(anonymous.status == .seeOther)
            #expect(anonymous.headers[.location] == "/ui/login")
        }
    }

    @Test func everyPageRendersWithAStrictContentSecurityPolicy() async throws {
        let fixture = try ServerFixture()
        try await Self.burst(fixture.log)
        let alert = try #require(try fixture.log.alerts().first { $0.alert.kind == .patientAccessBurst })
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            let console = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            for uri in [
                "/ui/", "/ui/alerts", "/ui/alerts?state=open&severity=high", "/ui/alerts/\(alert.alert.id)", "/ui/break-glass",
                "/ui/patients", "/ui/patients?patient=PAT-777", "/ui/users", "/ui/users/usr-burst", "/ui/traces/t-burst",
            ] {
                let response = try await console.get(client, uri)
                #expect(response.status == .ok, "\(uri)")
                let policy = response.headers[.contentSecurityPolicy] ?? ""
                #expect(policy.contains("default-src 'none'") && !policy.contains("unsafe-inline"), "\(uri)")
                #expect(!String(buffer: response.body).contains("<script"), "\(uri)")
            }
        }
    }

    @Test func anOfficerReviewsABurstAlertAndTheReviewIsChained() async throws {
        let fixture = try ServerFixture()
        try await Self.burst(fixture.log)
        let alert = try #require(try fixture.log.alerts().first { $0.alert.kind == .patientAccessBurst && $0.state == AlertStatus.open })
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            let console = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            let page = try await console.get(client, "/ui/alerts/\(alert.alert.id)")
            #expect(String(buffer: page.body).contains("Record review"))
            // A form without the session's token is refused, and changes nothing.
            let forged = try await console.post(
                client, "/ui/alerts/\(alert.alert.id)/review", ["decision": "justified", "note": "ward round"], token: false)
            #expect(forged.status == .forbidden)
            #expect(try fixture.log.alerts().first { $0.alert.seq == alert.alert.seq }?.state == AlertStatus.open)
            let reviewed = try await console.post(
                client, "/ui/alerts/\(alert.alert.id)/review", ["decision": "justified", "note": "ward round"])
            #expect(reviewed.status == .seeOther)
            #expect(try fixture.log.alerts().first { $0.alert.seq == alert.alert.seq }?.state == AlertStatus.reviewed)
            let queue = try await console.get(client, "/ui/alerts?state=reviewed")
            #expect(String(buffer: queue.body).contains(alert.alert.id))
        }
        #expect(try fixture.log.verify().isIntact)
    }

    @Test func theAlertQueueComesInPagesThatKeepTheFilters() async throws {
        let fixture = try ServerFixture()
        try await Self.burst(fixture.log, user: "usr-a")
        try await Self.burst(fixture.log, user: "usr-b", tool: "update_treatment")
        let ids = try fixture.log.alerts().sorted {
            ($0.alert.severity, $1.alert.raisedAt, $1.alert.seq) > ($1.alert.severity, $0.alert.raisedAt, $0.alert.seq)
        }.map(\.alert.id)
        try #require(ids.count >= 2)
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            let console = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            let first = String(buffer: try await console.get(client, "/ui/alerts?state=open&per_page=1").body)
            #expect(first.contains("/ui/alerts/\(ids[0])\"") && !first.contains("/ui/alerts/\(ids[1])\""))
            #expect(first.contains("1–1 shown") && first.contains("state=open&amp;per_page=1&amp;page=2"))
            let second = String(buffer: try await console.get(client, "/ui/alerts?state=open&per_page=1&page=2").body)
            #expect(second.contains("/ui/alerts/\(ids[1])\"") && second.contains("rel=\"prev\""))
            for bad in ["per_page=0", "per_page=1001", "page=0", "page=x", "page=99999999999"] {
                #expect(try await console.get(client, "/ui/alerts?" + bad).status == .badRequest, "\(bad)")
            }
        }
    }

    @Test func markupInToolNamesAndUserIdsRendersAsText() async throws {
        let fixture = try ServerFixture()
        // The user id is written into JSON: its quote is escaped there.
        try await Self.burst(fixture.log, user: #"\"><img src=x onerror=alert(1)>"#, tool: "<script>alert(1)</script>")
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            let console = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            for uri in ["/ui/alerts", "/ui/patients?patient=PAT-777", "/ui/traces/t-burst"] {
                let body = String(buffer: try await console.get(client, uri).body)
                #expect(!body.contains("<script>alert(1)</script>"), "\(uri)")
                #expect(!body.contains("<img src=x"), "\(uri)")
            }
            let report = String(buffer: try await console.get(client, "/ui/patients?patient=PAT-777").body)
            #expect(report.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        }
    }

    @Test(arguments: [#"<script>"#, #""><img onerror=x>"#, "javascript:alert('1')", "a & b", "plain", "ünïcödé 👩‍⚕️ <b>"])
    func theRowsWrittenWithoutATemplateEscapeWhatTheTemplatesEscape(_ text: String) throws {
        let escaped = HTMLText.escaped(text)
        #expect(!escaped.contains("<") && !escaped.contains(">") && !escaped.contains("\"") && !escaped.contains("'"))
        let back = escaped.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(
                of: "&amp;", with: "&")
        #expect(back == text)
    }

    @Test func anOfficerOfAnotherTenantSeesNoneOfItByGuessingUrls() async throws {
        let fixture = try ServerFixture()
        try await Self.burst(fixture.log)
        let alert = try #require(try fixture.log.alerts().first { $0.alert.kind == .patientAccessBurst })
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            let other = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["officer-other"] ?? "").1)
            let officer = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            let overview = String(buffer: try await officer.get(client, "/ui/").body)
            let recorded = try fixture.log.entries(from: 1, through: fixture.log.head()?.seq ?? 0, limit: 1_000).filter {
                $0.content.kind == .toolCall && $0.content.tenantID == "hospital-1"
            }
            #expect(recorded.count >= 10 && overview.contains("<strong>\(recorded.count)</strong> tool calls recorded"))
            #expect(String(buffer: try await other.get(client, "/ui/").body).contains("<strong>0</strong> tool calls recorded"))
            #expect(try await other.get(client, "/ui/alerts/\(alert.alert.id)").status == .notFound)
            #expect(!String(buffer: try await other.get(client, "/ui/alerts").body).contains(alert.alert.id))
            let report = String(buffer: try await other.get(client, "/ui/patients?patient=PAT-777").body)
            #expect(report.contains("0 accesses"))
            #expect(try await other.get(client, "/ui/traces/t-burst").status == .notFound)
            #expect(
                try await other.post(client, "/ui/alerts/\(alert.alert.id)/review", ["decision": "justified", "note": "not mine"]).status
                    == .notFound)
        }
    }

    @Test func theCsvDownloadIsTheReportTheCommandLineWrites() async throws {
        let fixture = try ServerFixture()
        try await Self.burst(fixture.log)
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            let console = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            let download = try await console.get(client, "/ui/patients/download?format=csv&patient=PAT-777")
            #expect(download.status == .ok)
            let expected = try fixture.log.patientReport(.patientID("PAT-777"), from: nil, to: nil).restricted(toTenant: "hospital-1").csv
            #expect(String(buffer: download.body) == expected)
            for format in ["json", "html", "fhir"] {
                #expect(try await console.get(client, "/ui/patients/download?format=\(format)&patient=PAT-777").status == .ok, "\(format)")
            }
        }
    }

    @Test func aNameSearchDownloadsTheSameAccessesInEveryFormat() async throws {
        let fixture = try ServerFixture()
        let calls = ["c-n1", "c-n2"].map { conversation in
            #"{"tenant_id":"hospital-1","conversation_id":"\#(conversation)","user_id":"usr-n","model":"m","tool_name":"search_patients","purpose_of_use":"TREAT","patient_id":"PAT-\#(conversation)","arguments":{"patient_name":"Jane Roe-Export"}}"#
        }
        _ = try await fixture.log.ingest(body: Array(calls.joined(separator: "\n").utf8), tenant: nil)
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            let console = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            let search = try await console.post(client, "/ui/patients", ["name": "Jane Roe-Export"])
            let location = try #require(search.headers[.location])
            let query = String(location.drop { $0 != "?" }.dropFirst())
            let json = try JSONParser.parse(
                String(buffer: try await console.get(client, "/ui/patients/download?format=json&" + query).body))
            #expect(json["total_accesses"] == .number(2))
            let bundle = try JSONParser.parse(
                String(buffer: try await console.get(client, "/ui/patients/download?format=fhir&" + query).body))
            #expect(bundle["entry"]?.arrayValue?.count == 2, "the Bundle holds the report's accesses")
        }
    }

    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        let seconds = Mutex<Double>(1_000)
        func advance(_ by: Double) { seconds.withLock { $0 += by } }
    }

    @Test func aSessionEndsWhenIdleAndAtSignOut() async throws {
        let fixture = try ServerFixture()
        let clock = ManualClock()
        let sessions = ConsoleSessions(idleTimeout: 60, clock: { clock.seconds.withLock { $0 } })
        let app = Application(router: CareTrailServer.router(log: fixture.log, consoleSessions: sessions))
        try await app.test(.router) { client in
            let console = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            clock.advance(59)
            #expect(try await console.get(client, "/ui/").status == .ok)
            clock.advance(59)
            #expect(try await console.get(client, "/ui/").status == .ok, "each request keeps the session alive")
            clock.advance(61)
            #expect(try await console.get(client, "/ui/").status == .seeOther)
            let again = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            #expect(try await again.post(client, "/ui/logout", [:]).status == .seeOther)
            #expect(try await again.get(client, "/ui/").status == .seeOther)
        }
    }

    @Test func everyReadIsChainedAsAnAuditAccessOfItsReaderWithoutTheNameSearchedFor() async throws {
        let fixture = try ServerFixture()
        try await Self.burst(fixture.log)
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        let exported = try await app.test(.router) { client in
            let console = try #require(try await ConsoleClient.signIn(client, secret: fixture.secrets["privacy_officer"] ?? "").1)
            _ = try await console.get(client, "/ui/patients?patient=PAT-777")
            let search = try await console.post(client, "/ui/patients", ["name": "Jane Doe-Reader"])
            let location = try #require(search.headers[.location])
            #expect(search.status == .seeOther && location.contains("pseudonym=hmac-sha256") && !location.contains("Jane"))
            _ = try await console.get(client, location)
            #expect(try await console.get(client, "/ui/patients?name=Jane").status == .badRequest, "a name never rides in an address")
            let many = (0...64).map { "pseudonym=hmac-sha256:k1:\($0)" }.joined(separator: "&")
            #expect(try await console.get(client, "/ui/patients?" + many).status == .badRequest, "pseudonyms are bounded")
            _ = try await console.get(client, "/ui/alerts")
            _ = try await client.execute(uri: "/v1/alerts", method: .get, headers: fixture.headers("privacy_officer"))
            let fhirSearch = try await client.execute(
                uri: "/fhir/AuditEvent?patient=PAT-777&_count=5", method: .get, headers: fixture.headers("privacy_officer"))
            #expect(fhirSearch.status == .ok)
            let export = try await client.execute(uri: "/v1/export/fhir?patient=PAT-777", method: .get, headers: fixture.headers("siem"))
            #expect(export.status == .ok)
            return String(buffer: export.body).split(separator: "\n").count
        }
        let reads = try fixture.log.entries(.user("privacy_officer-1")).filter { $0.content.kind == .auditAccess }
        #expect(reads.count == 5)
        #expect(reads[4].content.body.contains(#""query":"fhir_search""#) && reads[4].content.body.contains(#""results":5"#))
        let exports = try fixture.log.entries(from: 1, through: fixture.log.head()?.seq ?? 0, limit: 1_000).filter {
            $0.content.kind == .auditAccess && $0.content.body.contains(#""query":"fhir_export""#)
        }
        #expect(exported >= 10)
        #expect(
            exports.count == 1 && exports.first?.content.body.contains(#""results":\#(exported)"#) == true,
            "an export is chained with its count")
        let bodies = reads.map(\.content.body)
        #expect(bodies[0].contains(#""query":"patient_report""#) && bodies[0].contains(#""results":10"#), "\(bodies[0])")
        #expect(bodies[0].contains(#""channel":"console""#))
        #expect(!bodies[1].contains("Jane") && bodies[1].contains("pseudonym"), "\(bodies[1])")
        #expect(bodies[3].contains(#""channel":"api""#) && bodies[3].contains(#""query":"alerts""#))
        #expect(try fixture.log.verify().isIntact)
    }
}
