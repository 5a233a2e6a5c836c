import AuditAnalysis
import AuditChain
import AuditCore
import AuditFHIR
import AuditStorage
import CareTrail
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The privacy officers' console under `/ui/`: server-rendered pages over the same
/// ``AuditLog`` the API reads, each scoped to the signed-in key's tenant (an admin key sees
/// every tenant, as in the API).
struct ConsolePages: Sendable {
    let log: AuditLog
    let sessions: ConsoleSessions
    let checkpoints: CheckpointSchedule?
    /// Whether the server runs under TLS: the session cookie is then `Secure`.
    let secureCookies: Bool
    let library: MustacheLibrary

    static let sessionCookie = "caretrail_session"
    static let loginCookie = "caretrail_login"

    init(log: AuditLog, sessions: ConsoleSessions, checkpoints: CheckpointSchedule?, secureCookies: Bool) throws {
        self.log = log
        self.sessions = sessions
        self.checkpoints = checkpoints
        self.secureCookies = secureCookies
        var library = MustacheLibrary()
        for (name, text) in ConsoleTemplates.all { try library.register(text, named: name) }
        self.library = library
    }

    /// Adds the console's routes to `router`, behind its middleware.
    func addRoutes(to router: Router<ServerContext>) {
        let ui = router.group("ui").add(middleware: ConsoleMiddleware(pages: self))
        ui.get("style.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: ConsoleStyle.css)))
        }
        ui.get("login") { _, context in self.loginPage(context: context, message: nil) }
        ui.post("login") { _, context in try self.signIn(context) }
        ui.post("logout") { request, context in self.signOut(request) }
        ui.get("") { _, context in try self.overview(context) }
        ui.get("alerts") { request, context in try self.alertQueue(request, context) }
        ui.get("alerts/:id") { _, context in try self.alertPage(context) }
        ui.post("alerts/:id/review") { _, context in try self.review(context) }
        ui.get("break-glass") { request, context in try self.breakGlass(request, context) }
        ui.get("patients") { request, context in try self.patientReport(request, context) }
        ui.post("patients") { _, context in try self.searchPatient(context) }
        ui.get("patients/download") { request, context in try self.download(request, context) }
        ui.get("users") { request, context in try self.users(request, context) }
        ui.get("users/:id") { _, context in try self.user(context) }
        ui.get("traces/:id") { _, context in try self.trace(context) }
    }

    // MARK: Rendering

    func page(_ template: String, title: String, _ values: [String: Any], session: ConsoleSession?, status: HTTPResponse.Status = .ok)
        -> Response
    {
        var values = values
        if let session { values["formToken"] = session.formToken }
        var layout: [String: Any] = ["title": title, "content": library.render(values, withTemplate: template) ?? ""]
        if let session {
            layout["session"] = [
                "formToken": session.formToken, "who": session.key.name ?? session.key.id, "tenant": session.key.tenantID,
            ]
        }
        let html = library.render(layout, withTemplate: "layout") ?? ""
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func errorPage(_ error: any Error, session: ConsoleSession?) -> Response {
        let (status, message): (HTTPResponse.Status, String)
        switch error {
        case let problem as ConsoleProblem: (status, message) = (problem.status, problem.message)
        case let error as CareTrailError where error.code == .notFound: (status, message) = (.notFound, "Not found.")
        case let error as CareTrailError where error.code == .invalidArgument: (status, message) = (.badRequest, error.message)
        default: (status, message) = (.internalServerError, "The log could not be read. Try again.")
        }
        return page("error", title: "Problem", ["message": message], session: session, status: status)
    }

    static func session(_ context: ServerContext) throws -> ConsoleSession {
        guard let session = context.session else { throw ConsoleProblem(.unauthorized, "Sign in first.") }
        return session
    }

    /// Whether the signed-in key may see data of `tenant`.
    static func allows(_ session: ConsoleSession, _ tenant: String) -> Bool {
        session.key.role == .admin || session.key.tenantID == tenant
    }

    /// A value for a URL path segment or query value.
    static func urlPart(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }

    /// Chains the officer's read (see ``AuditAccess``) before the page shows it.
    func recordRead(_ session: ConsoleSession, _ query: String, _ parameters: [String: String] = [:], results: Int) throws {
        try log.recordRead(by: session.key, channel: "console", query, parameters, results: results)
    }

    // MARK: Sign-in

    func loginPage(context: ServerContext, message: String?, status: HTTPResponse.Status = .ok) -> Response {
        let token = ConsoleSessions.randomToken()
        var response = page("login", title: "Sign in", ["formToken": token, "message": message ?? false], session: nil, status: status)
        response.setCookie(cookie(Self.loginCookie, token))
        return response
    }

    func signIn(_ context: ServerContext) throws -> Response {
        let secret = (context.form["api_key"] ?? "").trimmingCharacters(in: .whitespaces)
        guard let key = log.authenticate(secret: secret) else {
            return loginPage(context: context, message: "That key is not valid.", status: .unauthorized)
        }
        guard key.role == .privacyOfficer || key.role == .admin else {
            return loginPage(context: context, message: "Only privacy officer and admin keys can sign in.", status: .forbidden)
        }
        let session = sessions.open(for: key)
        var response = Response.redirect(to: "/ui/", type: .normal)
        response.setCookie(cookie(Self.sessionCookie, session.token))
        return response
    }

    func signOut(_ request: Request) -> Response {
        if let token = request.cookies[Self.sessionCookie]?.value { sessions.close(token) }
        var response = Response.redirect(to: "/ui/login", type: .normal)
        response.setCookie(
            Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/ui", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    func cookie(_ name: String, _ value: String) -> Cookie {
        Cookie(name: name, value: value, path: "/ui", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    // MARK: Overview

    /// The most of today's entries the overview reads to count the day's tool calls.
    static let todayScanned = 5_000

    /// The tool calls of the session's tenants recorded since `start`, and whether there were
    /// more than the overview reads. Entries are appended in the order of the log's clock, so
    /// the first entry of the day is found by a binary search on sequence numbers and only the
    /// day's entries are read, at most ``todayScanned`` of them, newest first.
    func callsRecordedSince(_ start: Timestamp, session: ConsoleSession) throws -> (Int, Bool) {
        guard let head = try log.head()?.seq else { return (0, false) }
        let low = try log.firstSeq(recordedAtOrAfter: start)
        let first = max(low, head - Int64(Self.todayScanned) + 1)
        var count = 0
        var seq = first
        while seq <= head {
            let page = try log.entries(from: seq, through: head, limit: 1_000)
            guard let last = page.last else { break }
            count += page.filter { $0.content.kind == .toolCall && Self.allows(session, $0.content.tenantID) }.count
            seq = last.seq + 1
        }
        return (count, first > low)
    }

    /// Overdue break-the-glass reviews the overview names.
    static let overdueShown = 20

    func overview(_ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        let alerts = try log.alerts()
        var counts: [String: Int] = [:]
        var overdueAlerts: [Int] = []
        for index in alerts.indices where Self.allows(session, alerts[index].alert.tenantID) {
            if alerts[index].state == AlertStatus.open {
                counts["\(alerts[index].alert.kind.rawValue)|\(alerts[index].alert.severity.rawValue)", default: 0] += 1
            }
            if alerts[index].alert.kind == .breakGlass && alerts[index].overdue { overdueAlerts.append(index) }
        }
        let open = counts.sorted { $0.key < $1.key }.map { item -> [String: Any] in
            let parts = item.key.split(separator: "|").map(String.init)
            return ["kind": parts[0], "severity": parts.count > 1 ? parts[1] : "", "count": item.value]
        }
        // The oldest overdue reviews by name, and how many there are: the rest are a page away.
        let overdue = overdueAlerts.prefix(Self.overdueShown).map { index -> [String: Any] in
            let status = alerts[index]
            return ["id": status.alert.id, "userID": status.alert.userID ?? "", "due": status.reviewDue?.description ?? ""]
        }
        let now = log.now()
        let todayStart = Timestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - now.millisecondsSinceEpoch % 86_400_000)
        let (today, more) = try callsRecordedSince(todayStart, session: session)
        var values: [String: Any] = [
            "openAlerts": open, "hasOpenAlerts": !open.isEmpty, "overdue": Array(overdue), "hasOverdue": !overdue.isEmpty,
            "overdueCount": overdueAlerts.count, "overdueMore": overdueAlerts.count > Self.overdueShown,
            "accessesToday": more ? "at least \(today)" : String(today), "todayStart": todayStart.description,
        ]
        if let verification = try log.lastVerification() {
            values["verification"] = [
                // Only verifications that found the chain intact are recorded.
                "status": "intact", "statusText": "intact",
                "entries": verification.entriesChecked, "headSeq": verification.head.seq, "mode": verification.mode.rawValue,
                "at": verification.verifiedAt,
            ]
        }
        if let latest = checkpoints?.latest {
            values["checkpoint"] = ["size": latest.checkpoint.size, "root": latest.checkpoint.root.hex]
        }
        return page("overview", title: "Overview", values, session: session)
    }
}
