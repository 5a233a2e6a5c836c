public import AuditChain
import AuditCore
import Foundation

/// Which FHIR release to write.
public enum FHIRVersion: String, Sendable, CaseIterable {
    case r4
    case r5
}

/// Maps log entries to FHIR AuditEvents (R4 following IHE BALP, or R5). The README has the
/// field-by-field table.
///
/// - A tool call becomes one AuditEvent; a query (action `E`) one per patient its result named
///   (none named: one without a patient entity).
/// - An alert becomes a Security Alert event (DCM 110113); break-the-glass alerts carry the
///   subtype 110127 Emergency Override Started.
/// - An imported AuditEvent is written back as it was imported (R4 exports only).
/// - Agent requests, reviews and configuration changes are not exported.
public struct AuditEventMapper: Sendable {
    public var version: FHIRVersion
    /// Names this CareTrail deployment as `source.observer`.
    public var deployment: String

    public init(version: FHIRVersion = .r4, deployment: String = "caretrail") {
        self.version = version
        self.deployment = deployment
    }

    /// The AuditEvents of one entry (none for kinds that are not exported).
    public func events(for entry: StoredEntry) -> [FHIRNode] {
        let body: [String: JSONValue]
        if case .object(let members)? = try? JSONParser.parse(entry.content.body) { body = members } else { body = [:] }
        switch RecordKind(rawValue: entry.content.kind) {
        case .toolCall:
            if entry.content.action == ToolAction.execute.rawValue {
                let patients = entry.content.patientIDList
                if patients.isEmpty { return [toolCall(entry, body, patient: nil, index: nil)] }
                return patients.enumerated().map { toolCall(entry, body, patient: $0.element, index: $0.offset + 1) }
            }
            return [toolCall(entry, body, patient: entry.content.patientID, index: nil)]
        case .alert: return [alert(entry, body)]
        case .fhirAuditEvent:
            // Kept as imported: written back as it came, in the release it came in.
            guard body["fhir_version"]?.stringValue == version.rawValue, let event = body["fhir"] else { return [] }
            return [FHIRSchema.node(event)]
        default: return []
        }
    }

    /// A stable id: `ct<seq>-<first 12 hex digits of the entry hash>`, with `-<n>` for the
    /// n-th patient of a query.
    public static func id(for entry: StoredEntry, index: Int? = nil) -> String {
        "ct\(entry.seq)-\(entry.entryHash.hex.prefix(12))" + (index.map { "-\($0)" } ?? "")
    }

    // MARK: Tool calls

    private func toolCall(_ entry: StoredEntry, _ body: [String: JSONValue], patient: String?, index: Int?) -> FHIRNode {
        let content = entry.content
        let action = ToolAction(rawValue: content.action ?? "R") ?? .read
        let interaction: String
        switch action {
        case .read: interaction = "read"
        case .execute: interaction = "search-type"
        case .create: interaction = "create"
        case .update: interaction = "update"
        case .delete: interaction = "delete"
        }
        let purpose = content.purposeOfUse.flatMap { PurposeOfUse(code: $0) }
        let reason = body["break_glass"]?["reason"]?.stringValue
        let failed = content.outcome == Outcome.failure.rawValue
        let outcome = failed ? Self.failureOutcome(body) : "0"
        let purposeConcept: FHIRNode? = purpose.map { purpose in
            var members = FHIRMembers()
            members.add("coding", .array([FHIRVocabulary.coding(FHIRVocabulary.actReason, purpose.code, purpose.display)]))
            members.add("text", string: reason)
            return .object(members.members)
        }

        var m = FHIRMembers()
        m.add("id", string: Self.id(for: entry, index: index))
        m.add("meta", .object([.init("profile", .array([.string(version == .r4 ? FHIRVocabulary.profileR4 : FHIRVocabulary.profileR5)]))]))
        m.add("extension", .array(extensions(entry, body)))
        let subtype = FHIRVocabulary.coding(FHIRVocabulary.restfulInteraction, interaction)
        let type = FHIRVocabulary.coding(FHIRVocabulary.auditEventType, "rest")
        switch version {
        case .r4:
            m.add("type", type)
            m.add("subtype", .array([subtype]))
            m.add("action", string: action.rawValue)
            m.add("period", period(content.timestamp, body))
            m.add("recorded", string: entry.recordedAt)
            m.add("outcome", string: outcome)
            if failed { m.add("outcomeDesc", string: Self.errorText(body)) }
            m.add("purposeOfEvent", purposeConcept.map { .array([$0]) })
        case .r5:
            m.add("category", .array([.object([.init("coding", .array([type]))])]))
            m.add("code", .object([.init("coding", .array([subtype]))]))
            m.add("action", string: action.rawValue)
            m.add("severity", string: reason != nil ? "alert" : (failed ? "error" : "informational"))
            m.add("occurredPeriod", period(content.timestamp, body))
            m.add("recorded", string: entry.recordedAt)
            var out = FHIRMembers()
            out.add("code", FHIRVocabulary.coding(FHIRVocabulary.eventOutcomeR5, outcome, Self.outcomeDisplay[outcome]))
            if failed { out.add("detail", .array([.object([.init("text", .string(Self.errorText(body)))])])) }
            m.add("outcome", .object(out.members))
            m.add("authorization", purposeConcept.map { .array([$0]) })
            m.add("patient", patient.map { .object([.init("reference", .string("Patient/\($0)"))]) })
        }
        m.add("agent", .array(agents(entry, body, action: action, purpose: purposeConcept)))
        m.add("source", source(content.tenantID))
        var entities: [FHIRNode] = []
        if let patient { entities.append(patientEntity(patient)) }
        entities.append(toolCallEntity(entry, body, query: action == .execute))
        m.add("entity", .array(entities))
        return .resource("AuditEvent", m.members)
    }

    static let outcomeDisplay = ["0": "Success", "4": "Minor failure", "8": "Serious failure", "12": "Major failure"]

    /// Outcome of a failed call: 12 when a system was unavailable (timeout, connection,
    /// unavailable), 8 when the request was refused (denied, forbidden, unauthorized, not found,
    /// invalid), 4 for any other error.
    static func failureOutcome(_ body: [String: JSONValue]) -> String {
        let text = errorText(body).lowercased()
        if ["timeout", "timed out", "unavailable", "connection", "unreachable"].contains(where: text.contains) { return "12" }
        if ["denied", "forbidden", "unauthorized", "permission", "not found", "invalid"].contains(where: text.contains) { return "8" }
        return "4"
    }

    /// The error as one line of text (sanitised as stored).
    static func errorText(_ body: [String: JSONValue]) -> String {
        func describe(_ value: JSONValue) -> String {
            if let text = value.stringValue ?? value["preview"]?.stringValue { return text }
            if case .object(let members) = value {
                // Free text is stored as {text_hmac, preview}: the preview is what can be shown.
                let parts = ["type", "error_type", "error", "message"].compactMap {
                    members[$0]?.stringValue ?? members[$0]?["preview"]?.stringValue
                }
                if !parts.isEmpty { return parts.joined(separator: ": ") }
            }
            return CanonicalJSON.string(value)
        }
        if let error = body["error"] { return describe(error) }
        if let inner = body["result"]?["error"], inner != .null {
            var text = describe(inner)
            if let type = body["result"]?["error_type"]?.stringValue { text = type + ": " + text }
            return text
        }
        return "failed"
    }

    private func period(_ timestamp: String?, _ body: [String: JSONValue]) -> FHIRNode? {
        guard let timestamp, let start = Timestamp(rfc3339: timestamp) else { return nil }
        var members = FHIRMembers()
        members.add("start", string: timestamp)
        if let duration = body["duration_ms"]?.numberValue {
            let end = Timestamp(millisecondsSinceEpoch: start.millisecondsSinceEpoch + Int64(duration.rounded(.up)))
            members.add("end", string: end.description)
        }
        return .object(members.members)
    }

    private func extensions(_ entry: StoredEntry, _ body: [String: JSONValue]) -> [FHIRNode] {
        let content = entry.content
        func ext(_ e: FHIRVocabulary.Extension, _ valueName: String, _ value: FHIRNode?) -> FHIRNode? {
            value.map { .object([.init("url", .string(e.url)), .init(valueName, $0)]) }
        }
        func sub(_ url: String, _ valueName: String, _ value: FHIRNode?) -> FHIRNode? {
            value.map { .object([.init("url", .string(url)), .init(valueName, $0)]) }
        }
        var list: [FHIRNode?] = [
            ext(.toolName, "valueString", content.toolName.map(FHIRNode.string)),
            ext(.conversationID, "valueString", content.conversationID.map(FHIRNode.string)),
            ext(.traceID, "valueString", content.traceID.map(FHIRNode.string)),
            ext(.turnNumber, "valueInteger", body["turn_number"]?.numberValue.map { .integer(Int64($0)) }),
            ext(.trigger, "valueCoding", body["trigger"]?.stringValue.map { FHIRVocabulary.coding(FHIRVocabulary.triggerSystem, $0, $0.replacingOccurrences(of: "_", with: " ")) }),
            ext(.durationMS, "valueDecimal", body["duration_ms"]?.numberValue.map(FHIRNode.decimal)),
        ]
        if case .object(let usage)? = body["usage"] {
            let parts = [
                sub("input_tokens", "valueInteger", usage["input_tokens"]?.numberValue.map { .integer(Int64($0)) }),
                sub("output_tokens", "valueInteger", usage["output_tokens"]?.numberValue.map { .integer(Int64($0)) }),
                sub("cost_usd", "valueDecimal", usage["cost_usd"]?.numberValue.map(FHIRNode.decimal)),
            ].compactMap { $0 }
            if !parts.isEmpty {
                list.append(.object([.init("extension", .array(parts)), .init("url", .string(FHIRVocabulary.Extension.tokenUsage.url))]))
            }
        }
        list.append(ext(.tenant, "valueString", .string(content.tenantID)))
        list.append(.object([
            .init("extension", .array([
                sub("seq", version == .r4 ? "valueDecimal" : "valueInteger64", version == .r4 ? .integer(entry.seq) : .string(String(entry.seq))),
                sub("hash", "valueString", .string(entry.entryHash.hex)),
            ].compactMap { $0 })),
            .init("url", .string(FHIRVocabulary.Extension.chainEntry.url)),
        ]))
        // url goes first in JSON, and is an attribute in XML: order members url, extension.
        return list.compactMap { $0 }.map(Self.urlFirst)
    }

    private static func urlFirst(_ node: FHIRNode) -> FHIRNode {
        guard case .object(let members) = node else { return node }
        return .object(members.filter { $0.name == "url" } + members.filter { $0.name != "url" })
    }

    private func agents(_ entry: StoredEntry, _ body: [String: JSONValue], action: ToolAction, purpose: FHIRNode?) -> [FHIRNode] {
        let content = entry.content
        // BALP: reads flow from the tool server (source) to the agent (destination); creates,
        // updates and searches the other way; deletes name the client an Application.
        let (clientRole, serverRole): (String, String)
        switch action {
        case .read: (clientRole, serverRole) = ("110152", "110153")
        case .delete: (clientRole, serverRole) = ("110150", "110152")
        case .create, .update, .execute: (clientRole, serverRole) = ("110153", "110152")
        }
        var user = FHIRMembers()
        user.add("type", .object([.init("coding", .array([FHIRVocabulary.coding(FHIRVocabulary.participationType, "IRCP")]))]))
        user.add("role", body["user_role"]?.stringValue.map { .array([.object([.init("text", .string($0))])]) })
        user.add("who", .object([.init("identifier", .object([.init("system", .string(FHIRVocabulary.userSystem)), .init("value", .string(content.userID))]))]))
        user.add("requestor", .bool(true))
        let address = body["session_metadata"]?["client_ip"]?.stringValue.flatMap { $0.hasPrefix("hmac-sha256:") ? nil : $0 }
        switch version {
        case .r4:
            user.add("network", address.map { .object([.init("address", .string($0)), .init("type", .string("2"))]) })
            user.add("purposeOfUse", purpose.map { .array([$0]) })
        case .r5:
            user.add("networkString", address.map(FHIRNode.string))
            user.add("authorization", purpose.map { .array([$0]) })
        }

        var model = FHIRMembers()
        var modelCodings = [FHIRVocabulary.coding(FHIRVocabulary.dicom, clientRole)]
        if clientRole != "110150" { modelCodings.append(FHIRVocabulary.coding(FHIRVocabulary.dicom, "110150")) }
        model.add("type", .object([.init("coding", .array(modelCodings))]))
        model.add("who", .object([.init("display", .string(content.model))]))
        if version == .r4 { model.add("name", string: content.model) }
        model.add("requestor", .bool(false))

        var server = FHIRMembers()
        server.add("type", .object([.init("coding", .array([FHIRVocabulary.coding(FHIRVocabulary.dicom, serverRole)]))]))
        server.add("who", .object([.init("display", .string(content.toolName ?? "tool"))]))
        if version == .r4 { server.add("name", string: content.toolName) }
        server.add("requestor", .bool(false))
        return [.object(user.members), .object(model.members), .object(server.members)]
    }

    private func source(_ tenant: String) -> FHIRNode {
        var m = FHIRMembers()
        if version == .r4 { m.add("site", string: tenant) }
        m.add("observer", .object([
            .init("identifier", .object([.init("system", .string(FHIRVocabulary.observerSystem)), .init("value", .string(deployment))])),
            .init("display", .string("CareTrail")),
        ]))
        m.add("type", .array([FHIRVocabulary.coding(FHIRVocabulary.sourceType, "4")]))
        return .object(m.members)
    }

    private func patientEntity(_ patient: String) -> FHIRNode {
        var m = FHIRMembers()
        m.add("what", .object([.init("reference", .string("Patient/\(patient)"))]))
        if version == .r4 { m.add("type", FHIRVocabulary.coding(FHIRVocabulary.entityType, "1")) }
        m.add("role", version == .r4 ? FHIRVocabulary.coding(FHIRVocabulary.objectRole, "1")
            : .object([.init("coding", .array([FHIRVocabulary.coding(FHIRVocabulary.objectRole, "1")]))]))
        return .object(m.members)
    }

    private func toolCallEntity(_ entry: StoredEntry, _ body: [String: JSONValue], query: Bool) -> FHIRNode {
        var m = FHIRMembers()
        m.add("what", .object([.init("identifier", .object([
            .init("system", .string(FHIRVocabulary.toolCallSystem)), .init("value", .string(String(entry.seq))),
        ]))]))
        let role = query ? "24" : "4"
        if version == .r4 {
            m.add("type", FHIRVocabulary.coding(FHIRVocabulary.entityType, "2"))
            m.add("role", FHIRVocabulary.coding(FHIRVocabulary.objectRole, role))
            m.add("name", string: entry.content.toolName)
        } else {
            m.add("role", .object([.init("coding", .array([FHIRVocabulary.coding(FHIRVocabulary.objectRole, role)]))]))
        }
        let arguments = body["arguments"].map(CanonicalJSON.string)
        if query, let arguments { m.add("query", string: Data(arguments.utf8).base64EncodedString()) }
        var details: [FHIRNode] = []
        if let arguments {
            details.append(detail("arguments", arguments))
        }
        if let result = body["result"] { details.append(detail("result", CanonicalJSON.string(result))) }
        m.add("detail", .array(details))
        return .object(m.members)
    }

    private func detail(_ type: String, _ value: String) -> FHIRNode {
        switch version {
        case .r4: .object([.init("type", .string(type)), .init("valueString", .string(value))])
        case .r5: .object([.init("type", .object([.init("text", .string(type))])), .init("valueString", .string(value))])
        }
    }

    // MARK: Alerts

    private func alert(_ entry: StoredEntry, _ body: [String: JSONValue]) -> FHIRNode {
        let content = entry.content
        let kind = body["alert_kind"]?.stringValue ?? "alert"
        let breakGlass = kind == "break_glass"
        var m = FHIRMembers()
        m.add("id", string: Self.id(for: entry))
        m.add("meta", .object([.init("profile", .array([.string(version == .r4 ? FHIRVocabulary.profileR4 : FHIRVocabulary.profileR5)]))]))
        var alertExtension: [FHIRNode] = [
            .object([.init("url", .string("kind")), .init("valueString", .string(kind))]),
            .object([.init("url", .string("severity")), .init("valueString", .string(body["severity"]?.stringValue ?? "high"))]),
        ]
        for seq in body["entries"]?.arrayValue ?? [] {
            if let number = seq.numberValue {
                alertExtension.append(.object([.init("url", .string("entry")), .init(version == .r4 ? "valueDecimal" : "valueInteger64", version == .r4 ? .integer(Int64(number)) : .string(String(Int64(number))))]))
            }
        }
        m.add("extension", .array([
            .object([.init("url", .string(FHIRVocabulary.Extension.alert.url)), .init("extension", .array(alertExtension))]),
            .object([.init("url", .string(FHIRVocabulary.Extension.tenant.url)), .init("valueString", .string(content.tenantID))]),
            .object([.init("url", .string(FHIRVocabulary.Extension.chainEntry.url)), .init("extension", .array([
                .object([.init("url", .string("seq")), .init(version == .r4 ? "valueDecimal" : "valueInteger64", version == .r4 ? .integer(entry.seq) : .string(String(entry.seq)))]),
                .object([.init("url", .string("hash")), .init("valueString", .string(entry.entryHash.hex))]),
            ]))]),
        ]))
        let type = FHIRVocabulary.coding(FHIRVocabulary.dicom, "110113")
        let subtype = breakGlass ? FHIRVocabulary.coding(FHIRVocabulary.dicom, "110127") : nil
        let summary = body["summary"]?.stringValue
        switch version {
        case .r4:
            m.add("type", type)
            m.add("subtype", subtype.map { .array([$0]) })
            m.add("action", string: "E")
            m.add("recorded", string: entry.recordedAt)
            m.add("outcome", string: "0")
            m.add("outcomeDesc", string: summary)
        case .r5:
            m.add("category", .array([.object([.init("coding", .array([type]))])]))
            m.add("code", .object([.init("coding", .array([subtype ?? type]))]))
            m.add("action", string: "E")
            m.add("severity", string: breakGlass ? "alert" : "warning")
            m.add("recorded", string: entry.recordedAt)
            var out = FHIRMembers()
            out.add("code", FHIRVocabulary.coding(FHIRVocabulary.eventOutcomeR5, "0", "Success"))
            out.add("detail", summary.map { .array([.object([.init("text", .string($0))])]) })
            m.add("outcome", .object(out.members))
            m.add("patient", content.patientID.map { .object([.init("reference", .string("Patient/\($0)"))]) })
        }
        // The agent: the user concerned, else CareTrail's detector.
        var agent = FHIRMembers()
        agent.add("type", .object([.init("coding", .array([FHIRVocabulary.coding(FHIRVocabulary.dicom, "110150")]))]))
        if let user = body["user_concerned"]?.stringValue {
            agent.add("who", .object([.init("identifier", .object([.init("system", .string(FHIRVocabulary.userSystem)), .init("value", .string(user))]))]))
        } else {
            agent.add("who", .object([.init("display", .string("CareTrail anomaly detection"))]))
        }
        agent.add("requestor", .bool(false))
        m.add("agent", .array([.object(agent.members)]))
        m.add("source", source(content.tenantID))
        var entities: [FHIRNode] = []
        if let patient = content.patientID { entities.append(patientEntity(patient)) }
        m.add("entity", .array(entities))
        return .resource("AuditEvent", m.members)
    }
}
