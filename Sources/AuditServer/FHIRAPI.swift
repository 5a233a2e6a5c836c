import AuditChain
import AuditCore
import AuditFHIR
import AuditStorage
import CareTrail
import Foundation
import Hummingbird

/// The FHIR read API: `GET /fhir/AuditEvent` (search, a `searchset` Bundle with stable paging),
/// `GET /fhir/AuditEvent/{id}` and `GET /fhir/metadata`, in JSON or XML (by `_format` or
/// `Accept`).
struct FHIRAPI: Sendable {
    let log: AuditLog
    let api: API
    let mapper = AuditEventMapper(version: .r4)

    static let readers: Set<APIRole> = [.siem, .privacyOfficer, .admin]
    static let searchParameters = ["patient", "date", "agent", "entity", "type", "subtype", "outcome", "purpose", "_count", "_format"]

    /// XML when `_format` says so or `Accept` prefers `application/fhir+xml`.
    func wantsXML(_ request: Request) throws -> Bool {
        if let format = request.uri.queryParameters["_format"].map(String.init) {
            switch format {
            case "json", "application/fhir+json", "application/json": return false
            case "xml", "application/fhir+xml", "application/xml": return true
            default: throw APIError.badRequest("_format: json or xml")
            }
        }
        let accept = request.headers[.accept] ?? ""
        return accept.contains("xml") && !accept.contains("json")
    }

    func respond(_ node: FHIRNode, xml: Bool, status: HTTPResponse.Status = .ok) -> Response {
        xml
            ? JSONResponse.text(FHIRXMLWriter.string(node), contentType: "application/fhir+xml; charset=utf-8", status: status)
            : JSONResponse.text(FHIRJSONWriter.string(node) + "\n", contentType: "application/fhir+json; charset=utf-8", status: status)
    }

    /// Public, as FHIR clients discover a server before they authenticate.
    func metadata(_ request: Request, _ context: ServerContext) throws -> Response {
        let search = Self.searchParameters.filter { !$0.hasPrefix("_") }.map { name -> FHIRNode in
            let type = name == "date" ? "date" : (["patient", "agent", "entity"].contains(name) ? "reference" : "token")
            return .object([.init("name", .string(name)), .init("type", .string(type))])
        }
        let statement = FHIRNode.resource(
            "CapabilityStatement",
            [
                .init("status", .string("active")), .init("date", .string(log.now().description)),
                .init("kind", .string("instance")), .init("software", .object([.init("name", .string("CareTrail"))])),
                .init("fhirVersion", .string("4.0.1")),
                .init("format", .array([.string("application/fhir+json"), .string("application/fhir+xml")])),
                .init(
                    "rest",
                    .array([
                        .object([
                            .init("mode", .string("server")),
                            .init(
                                "security",
                                .object([
                                    .init(
                                        "description",
                                        .string(
                                            "Bearer API keys (caretrail keys create); roles siem, privacy_officer and admin read AuditEvents of their tenant"
                                        ))
                                ])),
                            .init(
                                "resource",
                                .array([
                                    .object([
                                        .init("type", .string("AuditEvent")),
                                        .init("supportedProfile", .array([.string(FHIRVocabulary.profileR4)])),
                                        .init(
                                            "interaction",
                                            .array([
                                                .object([.init("code", .string("read"))]), .object([.init("code", .string("search-type"))]),
                                            ])),
                                        .init("searchParam", .array(search)),
                                    ])
                                ])),
                        ])
                    ])),
            ])
        return respond(statement, xml: try wantsXML(request))
    }

    func read(_ request: Request, _ context: ServerContext) throws -> Response {
        let key = try api.require(context, Self.readers)
        let id = context.parameters.get("id") ?? ""
        // ct<seq>-<12 hex>[-<n>]
        let parts = id.dropFirst(2).split(separator: "-")
        guard id.hasPrefix("ct"), parts.count >= 2, let seq = Int64(parts[0]), let entry = try log.entry(seq: seq),
            entry.entryHash.hex.hasPrefix(parts[1]),
            let event = mapper.events(for: entry).first(where: { $0["id"] == .string(id) })
        else { throw APIError.notFound("no AuditEvent \(id.prefix(64))") }
        guard api.allows(key, tenant: entry.content.tenantID) else { throw APIError.forbidden("the AuditEvent belongs to another tenant") }
        try api.recordRead(key, "fhir_read", ["id": id], results: 1)
        return respond(event, xml: try wantsXML(request))
    }

    /// Most entries one search page examines. A page whose filters match few entries stops
    /// there and links to the next page, so a search that matches nothing never scans the
    /// whole log in one request.
    static let scanBudget = 10_000

    /// Search. Paging is stable while entries arrive: the first page fixes the head (`_at`),
    /// and `next` continues after the last entry examined (`_after`). Every parameter is
    /// checked before anything is read: `_count` is 1...1000, `_at` is 1 through the current
    /// head, `_after` is 0 through `_at`; anything else is a 400 naming the parameter.
    func search(_ request: Request, _ context: ServerContext) throws -> Response {
        let key = try api.require(context, Self.readers)
        let query = request.uri.queryParameters
        for (name, _) in query where !Self.searchParameters.contains(String(name)) && name != "_at" && name != "_after" {
            throw APIError.badRequest("unsupported search parameter \(QueryValue.printable(String(name)))")
        }
        let currentHead = try log.head()?.seq ?? 0
        let count = try QueryValue.integer(request, "_count", in: 1...1000) ?? 100
        let at = try QueryValue.integer(request, "_at", in: 0...currentHead) ?? currentHead
        let after = try QueryValue.integer(request, "_after", in: 0...at) ?? 0
        var lower: String?
        var upper: String?
        for value in query.getAll("date") {
            let text = String(value)
            let prefix = String(text.prefix(2))
            let rest = ["ge", "le", "gt", "lt", "eq"].contains(prefix) ? String(text.dropFirst(2)) : text
            let day = rest.count == 10
            guard let start = Timestamp(rfc3339: day ? rest + "T00:00:00Z" : rest) else {
                throw APIError.badRequest(
                    "date: expected [ge|le|gt|lt|eq]YYYY-MM-DD or an instant, from 0001-01-01 to 9999-12-31 in UTC"
                )
            }
            let end = day ? (start.adding(milliseconds: 86_399_999) ?? Timestamp.maximum) : start
            switch prefix {
            case "gt": lower = (end.adding(milliseconds: 1) ?? Timestamp.maximum).description
            case "ge": lower = start.description
            case "lt": upper = (start.adding(milliseconds: -1) ?? Timestamp.minimum).description
            case "le": upper = end.description
            default: (lower, upper) = (start.description, end.description)
            }
        }
        let patient = query["patient"].map { String($0).replacingOccurrences(of: "Patient/", with: "") }
        let agent = query["agent"].map(String.init)
        func token(_ name: String) -> String? { query[name[...]].map { String($0.split(separator: "|").last ?? $0) } }
        let filter = Filter(
            patient: patient, agent: agent, type: token("type"), subtype: token("subtype"), outcome: token("outcome"),
            purpose: token("purpose"), entity: query["entity"].map(String.init)
        )

        var matches: [FHIRNode] = []
        var lastSeq: Int64 = after
        var more = false
        var examined = 0
        /// `false` once the page is full or its budget is spent.
        func consider(_ entry: StoredEntry) -> Bool {
            if examined == Self.scanBudget {
                more = true
                return false
            }
            examined += 1
            guard entry.seq > after, entry.seq <= at else { return true }
            defer { if !more { lastSeq = entry.seq } }
            guard api.allows(key, tenant: entry.content.tenantID) else { return true }
            let time = entry.content.timestamp ?? entry.recordedAt
            if let lower, time < lower { return true }
            if let upper, time > upper { return true }
            let events = mapper.events(for: entry).filter { Self.matches($0, filter) }
            // An entry's events stay on one page: the next page starts after the entry.
            if !events.isEmpty, matches.count + events.count > count, !matches.isEmpty {
                more = true
                return false
            }
            matches.append(contentsOf: events)
            return true
        }
        if let patient {
            try log.forEachEntry(.patient(patient), after: after, through: at) { consider($0) }
        } else if let agent {
            try log.forEachEntry(.user(agent), after: after, through: at) { consider($0) }
        } else {
            var low = after + 1
            scan: while low <= at {
                let high = min(at, low + 1023)
                for entry in try log.entries(from: low, through: high, limit: 1024) where !consider(entry) { break scan }
                low = high + 1
            }
        }
        let base = FHIRVocabulary.base
        var links: [FHIRNode] = [
            .object([.init("relation", .string("self")), .init("url", .string("\(base)/AuditEvent?\(request.uri.query ?? "")"))])
        ]
        if more {
            var items = query.filter { $0.key != "_at" && $0.key != "_after" }.map {
                "\(QueryValue.encode(String($0.key)))=\(QueryValue.encode(String($0.value)))"
            }
            items += ["_at=\(at)", "_after=\(lastSeq)"]
            links.append(
                .object([.init("relation", .string("next")), .init("url", .string("\(base)/AuditEvent?\(items.joined(separator: "&"))"))]))
        }
        var parameters: [String: String] = [:]
        for (name, value) in query where name != "_format" {
            let name = String(name)
            parameters[name] = parameters[name].map { $0 + "," + String(value) } ?? String(value)
        }
        try api.recordRead(key, "fhir_search", parameters, results: matches.count)
        var bundle = FHIRMembers()
        bundle.add("type", string: "searchset")
        bundle.add("timestamp", string: log.now().description)
        bundle.add("link", .array(links))
        bundle.add(
            "entry",
            .array(
                matches.map { event in
                    var entry = FHIRMembers()
                    if let id = event.id { entry.add("fullUrl", string: "\(base)/AuditEvent/\(id)") }
                    entry.add("resource", event)
                    entry.add("search", .object([.init("mode", .string("match"))]))
                    return .object(entry.members)
                }))
        return respond(.resource("Bundle", bundle.members), xml: try wantsXML(request))
    }

    /// The search parameters that filter events; `nil` means no filter.
    struct Filter: Sendable {
        var patient: String?
        var agent: String?
        var type: String?
        var subtype: String?
        var outcome: String?
        var purpose: String?
        var entity: String?
    }

    static func matches(_ event: FHIRNode, _ filter: Filter) -> Bool {
        if let agent = filter.agent {
            let agents: [FHIRNode] = { if case .array(let items)? = event["agent"] { items } else { [] } }()
            let named = agents.contains { item in
                item["who"]?["identifier"]?["value"] == .string(agent) || item["who"]?["reference"] == .string(agent)
            }
            if !named { return false }
        }
        return matches(
            event, patient: filter.patient, type: filter.type, subtype: filter.subtype, outcome: filter.outcome,
            purpose: filter.purpose, entity: filter.entity
        )
    }

    static func matches(
        _ event: FHIRNode, patient: String?, type: String?, subtype: String?, outcome: String?, purpose: String?, entity: String?
    ) -> Bool {
        func codes(_ node: FHIRNode?) -> [FHIRNode] {
            switch node {
            case .array(let items)?: items.flatMap { codes($0) }
            case .object?:
                if let code = node?["code"] { [code] } else { codes(node?["coding"]) }
            default: []
            }
        }
        let entities: [FHIRNode] = { if case .array(let items)? = event["entity"] { items } else { [] } }()
        if let patient, !entities.contains(where: { $0["what"]?["reference"] == .string("Patient/\(patient)") }) { return false }
        if let type, !codes(event["type"]).contains(.string(type)) { return false }
        if let subtype, !codes(event["subtype"]).contains(.string(subtype)) { return false }
        if let outcome, event["outcome"] != .string(outcome) { return false }
        if let purpose, !codes(event["purposeOfEvent"]).contains(.string(purpose)) { return false }
        if let entity,
            !entities.contains(where: {
                $0["what"]?["reference"] == .string(entity) || $0["what"]?["identifier"]?["value"] == .string(entity)
            })
        {
            return false
        }
        return true
    }
}
