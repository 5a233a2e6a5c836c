import AuditAnalysis
import AuditChain
import AuditCore
import AuditStorage
import CareTrail
import Foundation
import Hummingbird

extension ConsolePages {
    /// Alerts on one page of the queue unless `per_page` says otherwise (1 to 1,000).
    static let alertsPerPage = 200

    /// The alert queue: filtered, sorted by severity (highest first), then by age (oldest
    /// first: log order), in pages of ``alertsPerPage`` (`page`, `per_page`).
    func alertQueue(_ request: Request, _ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        let query = request.uri.queryParameters
        func value(_ name: String) -> String { query[name[...]].map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "" }
        let (kind, state, severity, user, patient, from, to) =
            (value("kind"), value("state"), value("severity"), value("user"), value("patient"), value("from"), value("to"))
        try Self.checkDays(from: from, to: to)
        let paging = try ConsolePaging(request, defaultPerPage: Self.alertsPerPage)
        // Filtered and sorted by position: a queue of tens of thousands of alerts is never copied.
        let all = try log.alerts()
        let chosen = all.indices.filter { index in
            Self.allows(session, all[index].alert.tenantID) && (kind.isEmpty || all[index].alert.kind.rawValue == kind)
                && (state.isEmpty || all[index].state == state) && (severity.isEmpty || all[index].alert.severity.rawValue == severity)
                && (user.isEmpty || all[index].alert.userID == user) && (patient.isEmpty || all[index].alert.patientID == patient)
                && (from.isEmpty || all[index].alert.raisedAt.prefix(10) >= from[...])
                && (to.isEmpty || all[index].alert.raisedAt.prefix(10) <= to[...])
        }
        // Alerts come in log order, which is the order they were raised in: grouping them by
        // severity, highest first, sorts the queue without comparing alerts.
        let statuses = Severity.allCases.sorted(by: >).flatMap { severity in chosen.filter { all[$0].alert.severity == severity } }
        func options(_ values: [String], _ chosen: String) -> [[String: Any]] {
            values.map { ["value": $0, "selected": $0 == chosen] }
        }
        // Up to a thousand rows: written here rather than through the template, which would
        // take most of the page's time; every value is escaped as the template would (``HTMLText``).
        let shown = paging.slice(statuses)
        var rows = ""
        rows.reserveCapacity(shown.count * 400)
        for index in shown {
            let id = HTMLText.escaped(all[index].alert.id)
            let severity = HTMLText.escaped(all[index].alert.severity.rawValue)
            rows += "<tr><td><a href=\"/ui/alerts/\(id)\">\(id)</a></td><td><span class=\"sev sev-\(severity)\">\(severity)</span></td>"
            rows +=
                "<td>\(HTMLText.escaped(all[index].alert.kind.rawValue))</td><td>\(HTMLText.escaped(all[index].alert.userID ?? ""))</td>"
            rows += "<td>\(HTMLText.escaped(all[index].alert.raisedAt))</td><td>\(HTMLText.escaped(all[index].state))"
            rows += all[index].overdue ? " <strong>overdue</strong></td>" : "</td>"
            rows += "<td>\(HTMLText.escaped(all[index].alert.summary))</td></tr>\n"
        }
        try recordRead(
            session, "alerts",
            ["kind": kind, "state": state, "severity": severity, "user": user, "patient": patient, "from": from, "to": to],
            results: shown.count)
        return page(
            "alerts", title: "Alerts",
            [
                "kinds": options(AlertKind.allCases.map(\.rawValue), kind),
                "states": options([AlertStatus.open, AlertStatus.reviewed], state),
                "severities": options(Severity.allCases.reversed().map(\.rawValue), severity), "user": user, "patient": patient,
                "from": from, "to": to, "rows": rows, "count": statuses.count,
                "paged": paging.values(
                    total: statuses.count,
                    filters: [
                        ("kind", kind), ("state", state), ("severity", severity), ("user", user), ("patient", patient), ("from", from),
                        ("to", to),
                    ]),
            ], session: session)
    }

    /// The alert of the route's `:id`, if the session may see it.
    func visibleAlert(_ context: ServerContext, _ session: ConsoleSession) throws -> AlertStatus {
        let id = context.parameters.get("id") ?? ""
        guard let seq = AlertRecord.seq(fromID: id), let status = try log.alerts().first(where: { $0.alert.seq == seq }),
            Self.allows(session, status.alert.tenantID)
        else { throw ConsoleProblem(.notFound, "No such alert.") }
        return status
    }

    /// Whether the signed-in officer is the user whose accesses `alert` is about.
    static func isOwnAccess(_ alert: AlertRecord, _ session: ConsoleSession) -> Bool {
        guard let user = alert.userID else { return false }
        return user == session.key.id || user == session.key.name
    }

    func alertPage(_ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        let status = try visibleAlert(context, session)
        let alert = status.alert
        var accesses: [[String: Any]] = []
        for seq in alert.entrySeqs.prefix(200) {
            guard let entry = try log.entry(seq: seq), Self.allows(session, entry.content.tenantID) else { continue }
            accesses.append(Self.row(entry))
        }
        var recent: [[String: Any]] = []
        if let user = alert.userID {
            recent = try log.lastEntries(.user(user), count: 20).filter { Self.allows(session, $0.content.tenantID) }
                .reversed().map(Self.row)
        }
        let reviews = status.reviews.map { review -> [String: Any] in
            ["reviewedAt": review.reviewedAt, "reviewer": review.reviewer, "decision": review.decision.rawValue, "note": review.note]
        }
        try recordRead(session, "alert", ["alert": alert.id], results: accesses.count)
        return page(
            "alert", title: "Alert \(alert.id)",
            [
                "id": alert.id, "kind": alert.kind.rawValue, "severity": alert.severity.rawValue, "state": status.state,
                "decision": status.decision?.rawValue ?? false, "raisedAt": alert.raisedAt, "due": status.reviewDue?.description ?? "",
                "overdue": status.overdue, "userID": alert.userID ?? false, "userPath": Self.urlPart(alert.userID ?? ""),
                "patientID": alert.patientID ?? false, "patientQuery": Self.urlPart(alert.patientID ?? ""), "summary": alert.summary,
                "accesses": accesses, "recent": recent, "reviews": reviews, "ownAccess": Self.isOwnAccess(alert, session),
                "formToken": session.formToken,
            ], session: session)
    }

    /// Records a review (chained, like `caretrail review`), then shows the alert again.
    func review(_ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        let status = try visibleAlert(context, session)
        guard !Self.isOwnAccess(status.alert, session) else {
            throw ConsoleProblem(.forbidden, "You cannot review an alert about your own accesses.")
        }
        guard let decision = context.form["decision"].flatMap(ReviewDecision.init(rawValue:)) else {
            throw ConsoleProblem(.badRequest, "decision: justified, unjustified or needs-follow-up.")
        }
        let key = session.key
        _ = try log.review(
            alertID: status.alert.id, by: key.name ?? key.id, otherIdentities: [key.id] + (key.name.map { [$0] } ?? []),
            decision: decision, note: context.form["note"] ?? "")
        return .redirect(to: "/ui/alerts/\(status.alert.id)", type: .normal)
    }

    /// Every break-the-glass access, newest first, in pages: its reason, the review deadline
    /// and the review.
    func breakGlass(_ request: Request, _ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        let paging = try ConsolePaging(request, defaultPerPage: Self.alertsPerPage)
        let all = try log.alerts()
        let statuses = all.indices.filter { all[$0].alert.kind == .breakGlass && Self.allows(session, all[$0].alert.tenantID) }
            .sorted { all[$0].alert.seq > all[$1].alert.seq }
        let rows = try paging.slice(statuses).map { index -> [String: Any] in
            let status = all[index]
            let entry = try log.entry(seq: status.alert.triggerSeq)
            let reason = entry.map { AccessRow(reporting: $0).breakGlassReason ?? "" } ?? ""
            let review = status.reviews.last.map { "\($0.decision.rawValue) by \($0.reviewer): \($0.note)" } ?? "not reviewed"
            return [
                "id": status.alert.id, "time": status.alert.eventTime ?? status.alert.raisedAt, "userID": status.alert.userID ?? "",
                "patientID": status.alert.patientID ?? "", "reason": reason, "due": status.reviewDue?.description ?? "",
                "overdue": status.overdue, "review": review,
            ]
        }
        try recordRead(session, "break_glass", paging.page > 1 ? ["page": String(paging.page)] : [:], results: rows.count)
        return page(
            "breakGlass", title: "Break-the-glass",
            ["rows": rows, "count": statuses.count, "paged": paging.values(total: statuses.count, filters: [])], session: session)
    }

    /// A row of a table or timeline of entries.
    static func row(_ entry: StoredEntry) -> [String: Any] {
        let content = entry.content
        return [
            "seq": entry.seq, "time": content.timestamp ?? entry.recordedAt, "kind": content.kind.rawValue, "userID": content.userID,
            "model": content.model, "tool": content.toolName ?? "", "purpose": content.purposeOfUse ?? "",
            "outcome": content.outcome?.rawValue ?? false, "traceID": content.traceID ?? false,
            "tracePath": urlPart(content.traceID ?? ""),
        ]
    }
}
