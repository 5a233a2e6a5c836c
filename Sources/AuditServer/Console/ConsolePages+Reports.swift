import AuditAnalysis
import AuditChain
import AuditCore
import AuditFHIR
import AuditStorage
import CareTrail
import Foundation
import Hummingbird

extension ConsolePages {
    /// The patient access report's subject and range, from the query string: a patient id, or
    /// one or more pseudonyms (a search by name arrives as the name's pseudonyms, one per key).
    struct ReportQuery {
        var subject: AuditLog.ReportSubject
        var patient = ""
        var pseudonyms: [String] = []
        var from = ""
        var to = ""

        /// The query string that asks for the same report again.
        var queryString: String {
            var parts =
                patient.isEmpty ? pseudonyms.map { "pseudonym=" + ConsolePages.urlPart($0) } : ["patient=" + ConsolePages.urlPart(patient)]
            if !from.isEmpty { parts.append("from=" + from) }
            if !to.isEmpty { parts.append("to=" + to) }
            return parts.joined(separator: "&")
        }

        /// The parameters an ``AuditAccess`` records: a name searched for only as its pseudonyms.
        var parameters: [String: String] {
            ["from": from, "to": to, "patient": patient, "pseudonym": pseudonyms.joined(separator: ",")]
        }
    }

    /// The most pseudonyms one report is asked for.
    static let maximumPseudonyms = 64

    static func reportQuery(_ request: Request) throws -> ReportQuery? {
        let query = request.uri.queryParameters
        func value(_ name: String) -> String { query[name[...]].map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "" }
        guard query["name"] == nil else {
            throw ConsoleProblem(.badRequest, "Search by name with the form, so that a name never appears in an address.")
        }
        let patient = value("patient")
        let pseudonyms = query.getAll("pseudonym").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        // One per key of the ring at most (a name's pseudonyms), each as long as a token.
        guard pseudonyms.count <= Self.maximumPseudonyms, pseudonyms.allSatisfy({ $0.utf8.count <= 256 }) else {
            throw ConsoleProblem(.badRequest, "pseudonym: at most \(Self.maximumPseudonyms) tokens of at most 256 characters.")
        }
        let subject: AuditLog.ReportSubject
        if !patient.isEmpty {
            subject = .patientID(patient)
        } else if pseudonyms.count == 1 {
            subject = .pseudonym(pseudonyms[0])
        } else if pseudonyms.count > 1 {
            subject = .pseudonyms(pseudonyms)
        } else {
            return nil
        }
        let result = ReportQuery(
            subject: subject, patient: patient, pseudonyms: patient.isEmpty ? pseudonyms : [], from: value("from"), to: value("to"))
        try checkDays(from: result.from, to: result.to)
        return result
    }

    /// `text` as a whole number in `range`, or `nil` when empty; anything else is a 400 naming
    /// the field.
    static func integer(_ text: String, _ field: String, in range: ClosedRange<Int>) throws -> Int? {
        guard !text.isEmpty else { return nil }
        guard text.count <= 9, let number = Int(text), range.contains(number) else {
            throw ConsoleProblem(.badRequest, "\(field): a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        return number
    }

    static func checkDays(from: String, to: String) throws {
        for (field, day) in [("from", from), ("to", to)] where !day.isEmpty && Timestamp(rfc3339: day + "T00:00:00Z") == nil {
            throw ConsoleProblem(.badRequest, "\(field): a day, YYYY-MM-DD.")
        }
    }

    /// The search form, sent by POST so that a name typed into it never appears in an address,
    /// the browser's history or a proxy's log: it answers with a redirect to the report by
    /// patient id or by the name's pseudonyms (one per key of the ring).
    func searchPatient(_ context: ServerContext) throws -> Response {
        _ = try Self.session(context)
        func value(_ name: String) -> String { context.form[name]?.trimmingCharacters(in: .whitespaces) ?? "" }
        let (patient, name, pseudonym, from, to) = (value("patient"), value("name"), value("pseudonym"), value("from"), value("to"))
        try Self.checkDays(from: from, to: to)
        var query = ReportQuery(subject: .patientID(patient), patient: patient, from: from, to: to)
        if patient.isEmpty {
            query.pseudonyms = name.isEmpty ? (pseudonym.isEmpty ? [] : [pseudonym]) : log.pseudonyms(for: name)
        }
        guard !patient.isEmpty || !query.pseudonyms.isEmpty else { throw ConsoleProblem(.badRequest, "Name a patient.") }
        return Response(status: .seeOther, headers: [.location: "/ui/patients?" + query.queryString])
    }

    /// The report for `query`, restricted to the session's tenant.
    func report(_ query: ReportQuery, _ session: ConsoleSession) throws -> AccessReport {
        let from = query.from.isEmpty ? nil : Timestamp(rfc3339: query.from + "T00:00:00Z")
        let to = query.to.isEmpty ? nil : Timestamp(rfc3339: query.to + "T23:59:59.999Z")
        let report = try log.patientReport(query.subject, from: from, to: to)
        return session.key.role == .admin ? report : report.restricted(toTenant: session.key.tenantID)
    }

    func patientReport(_ request: Request, _ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        guard let query = try Self.reportQuery(request) else {
            return page("patients", title: "Patient access report", [:], session: session)
        }
        let report = try report(query, session)
        let rows = report.accesses.map { access -> [String: Any] in
            let row = access.row
            return [
                "time": row.time, "userID": row.userID, "userPath": Self.urlPart(row.userID), "role": row.userRole ?? "",
                "tool": row.toolName ?? "", "access": access.access, "purpose": access.purposeDisplay ?? row.purposeOfUse ?? "",
                "outcome": row.outcome?.rawValue ?? "",
            ]
        }
        try recordRead(session, "patient_report", query.parameters, results: report.totalAccesses)
        let intact = report.integrity.isIntact
        return page(
            "patients", title: "Patient access report",
            [
                "patient": query.patient, "pseudonym": query.pseudonyms.count == 1 ? query.pseudonyms[0] : "",
                "pseudonyms": query.pseudonyms.count > 1 ? query.pseudonyms.count : 0, "from": query.from, "to": query.to,
                "report": [
                    "integrityStatus": intact ? "intact" : "broken",
                    "integrityText": intact ? "chain intact through entry \(report.integrity.head?.seq ?? 0)" : "CHAIN NOT INTACT",
                    "total": report.totalAccesses, "users": report.uniqueUsers, "failures": report.failures,
                    "query": query.queryString, "chart": ConsoleChart.accessesPerDay(report.accesses.map(\.row.time)),
                    "rows": rows,
                ] as [String: Any],
            ], session: session)
    }

    /// The report as CSV, JSON or HTML (the bytes `caretrail report patient` writes) or as a
    /// FHIR Bundle of its AuditEvents.
    func download(_ request: Request, _ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        guard let query = try Self.reportQuery(request) else { throw ConsoleProblem(.badRequest, "Name a patient.") }
        let report = try report(query, session)
        let format = request.uri.queryParameters["format"].map(String.init) ?? "csv"
        let (body, type, ext): ([UInt8], String, String)
        switch format {
        case "csv": (body, type, ext) = (Array(report.csv.utf8), "text/csv; charset=utf-8", "csv")
        case "json": (body, type, ext) = (report.canonicalJSON + [UInt8(ascii: "\n")], "application/json", "json")
        case "html": (body, type, ext) = (Array(report.html.utf8), "text/html; charset=utf-8", "html")
        case "fhir": (body, type, ext) = (try fhirBundle(query, report, session), "application/fhir+json", "fhir.json")
        default: throw ConsoleProblem(.badRequest, "format: csv, json, html or fhir.")
        }
        var parameters = query.parameters
        parameters["format"] = format
        try recordRead(session, "patient_report_download", parameters, results: report.totalAccesses)
        var response = Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        response.headers[.contentDisposition] = "attachment; filename=\"patient-report.\(ext)\""
        return response
    }

    /// The report's accesses as a FHIR R4 Bundle of AuditEvents, through the exporter that
    /// `caretrail export fhir` uses, scoped to the session's tenant: the entries the report
    /// lists, whether a patient id or the pseudonyms of a name found them.
    func fhirBundle(_ query: ReportQuery, _ report: AccessReport, _ session: ConsoleSession) throws -> [UInt8] {
        var out: [UInt8] = []
        let selection = FHIRExporter.Selection(
            patient: query.patient.isEmpty ? nil : query.patient, from: report.from, to: report.to,
            tenant: session.key.role == .admin ? nil : session.key.tenantID, seqs: report.accesses.map(\.row.seq))
        _ = try FHIRExporter(version: .r4, format: .json).export(
            store: log.reader, selection: selection, bundleID: "caretrail-patient-report", timestamp: log.now()
        ) { bytes in out += bytes }
        return out
    }

    func users(_ request: Request, _ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        if let id = request.uri.queryParameters["id"].map(String.init), !id.isEmpty {
            return .redirect(to: "/ui/users/" + Self.urlPart(id), type: .normal)
        }
        return page("users", title: "User investigation", [:], session: session)
    }

    /// The most entries of a user the investigation page reads: the latest.
    static let userEntriesShown = 5_000

    /// A user's latest accesses: the patients they touched, after-hours and failure counts, a
    /// timeline.
    func user(_ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        let id = context.parameters.get("id") ?? ""
        let latest = try log.lastEntries(.user(id), count: Self.userEntriesShown)
        let entries = latest.filter { Self.allows(session, $0.content.tenantID) }
        let hours = log.configuration.alerts.afterHours.flatMap(WorkingHours.init)
        var patients: [String: Int] = [:]
        var (afterHours, failures) = (0, 0)
        for entry in entries where entry.content.kind == .toolCall {
            if let patient = entry.content.patientID { patients[patient, default: 0] += 1 }
            if entry.content.outcome == .failure { failures += 1 }
            if let hours, let time = Timestamp(rfc3339: entry.content.timestamp ?? entry.recordedAt),
                hours.isAfterHours(time.millisecondsSinceEpoch)
            {
                afterHours += 1
            }
        }
        try recordRead(session, "user_activity", ["user": id], results: entries.count)
        return page(
            "user", title: "User \(id)",
            [
                "total": entries.count, "capped": latest.count == Self.userEntriesShown, "patientCount": patients.count,
                "afterHours": afterHours, "failures": failures,
                "patients": patients.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(100).map {
                    ["patient": $0.key, "query": Self.urlPart($0.key), "count": $0.value] as [String: Any]
                },
                "rows": entries.reversed().prefix(500).map(Self.row),
            ], session: session)
    }

    /// One agent request and its tool calls.
    func trace(_ context: ServerContext) throws -> Response {
        let session = try Self.session(context)
        let id = context.parameters.get("id") ?? ""
        let entries = try log.entries(trace: id).filter { Self.allows(session, $0.content.tenantID) }
        guard !entries.isEmpty else { throw ConsoleProblem(.notFound, "No such trace.") }
        try recordRead(session, "trace", ["trace": id], results: entries.count)
        return page("trace", title: "Trace \(id)", ["rows": entries.map(Self.row)], session: session)
    }
}
