public import AuditChain
import AuditCore
import Foundation

/// Which FHIR release to write.
public enum FHIRVersion: String, Sendable, CaseIterable {
    case r4
    case r5
}

/// Maps log entries to FHIR AuditEvents (R4 following IHE BALP, or R5). docs/fhir.md has the
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

    /// The AuditEvents of one entry (none for kinds that are not exported), as trees.
    public func events(for entry: StoredEntry) -> [FHIRNode] {
        var sink = FHIRTreeSink()
        write(entry, into: &sink)
        return sink.resources
    }

    /// Writes the AuditEvents of one entry into `sink`; returns how many. With `onlyPatient`,
    /// only those that concern that patient: a query's events for its other patients are left
    /// out (an event without a patient concerns every patient's export). With `firstOnly`, at
    /// most one (a syslog message carries one AuditEvent).
    @discardableResult
    public func write<Sink: FHIRSink>(_ entry: StoredEntry, onlyPatient: String? = nil, firstOnly: Bool = false, into sink: inout Sink)
        -> Int
    {
        let body = EntryBody(entry.content.body)
        func concerns(_ patient: String?) -> Bool { onlyPatient == nil || patient == nil || patient == onlyPatient }
        switch entry.content.kind {
        case .toolCall:
            if entry.content.action == .execute {
                let patients = entry.content.patientIDList
                if patients.isEmpty {
                    toolCall(entry, body, patient: nil, index: nil, into: &sink)
                    return 1
                }
                var count = 0
                for (offset, patient) in patients.enumerated() where concerns(patient) {
                    toolCall(entry, body, patient: patient, index: offset + 1, into: &sink)
                    count += 1
                    if firstOnly { break }
                }
                return count
            }
            guard concerns(entry.content.patientID) else { return 0 }
            toolCall(entry, body, patient: entry.content.patientID, index: nil, into: &sink)
            return 1
        case .alert:
            guard concerns(entry.content.patientID) else { return 0 }
            alert(entry, body, into: &sink)
            return 1
        case .fhirAuditEvent:
            // Kept as imported: written back as it came, in the release it came in.
            guard body["fhir_version"]?.stringValue == version.rawValue, let event = body["fhir"] else { return 0 }
            let node = FHIRSchema.node(event)
            guard onlyPatient.map({ Self.concerns(node, patient: $0) }) ?? true else { return 0 }
            sink.resource(node)
            return 1
        default: return 0
        }
    }

    /// Whether a tree AuditEvent concerns `patient`: it names no patient entity, or this one.
    static func concerns(_ event: FHIRNode, patient: String) -> Bool {
        let reference = FHIRNode.string("Patient/\(patient)")
        guard case .array(let entities)? = event["entity"] else { return true }
        let patients = entities.compactMap { $0["what"]?["reference"] }
        return patients.isEmpty || patients.contains(reference)
    }

    /// A stable id: `ct<seq>-<first 12 hex digits of the entry hash>`, with `-<n>` for the
    /// n-th patient of a query.
    public static func id(for entry: StoredEntry, index: Int? = nil) -> String {
        id(seq: entry.seq, hash: entry.entryHash.hex, index: index)
    }

    static func id(seq: Int64, hash: String, index: Int?) -> String {
        var id = "ct"
        id += String(seq)
        id += "-"
        id += hash.prefix(12)
        if let index { id += "-" + String(index) }
        return id
    }

    // MARK: Tool calls

    private func toolCall<Sink: FHIRSink>(_ entry: StoredEntry, _ body: EntryBody, patient: String?, index: Int?, into sink: inout Sink) {
        let action = entry.content.action ?? .read
        let purpose = entry.content.purposeOfUse.flatMap { Constants.purposeCodings[$0] }
        let reason = body.string("break_glass", "reason")
        let failed = entry.content.outcome == .failure
        let errorText = failed ? Self.errorText(body.parsed) : nil
        let outcome = errorText.map(Self.failureOutcome(errorText:)) ?? "0"
        let constants = version == .r4 ? Constants.r4 : Constants.r5
        let concept = purpose.map { PurposeConcept(coding: $0, reason: reason) }
        let hash = entry.entryHash.hex
        let id = Self.id(seq: entry.seq, hash: hash, index: index)
        sink.beginResource("AuditEvent", id: id)
        sink.string("id", id)
        sink.constant(constants.meta)
        extensions(entry, body, hash: hash, into: &sink)
        switch version {
        case .r4:
            sink.constant(constants.restType)
            sink.constant(constants.interaction[action.rawValue] ?? constants.restType)
            sink.string("action", action.rawValue)
            period("period", entry.content.timestamp, body, into: &sink)
            sink.string("recorded", entry.recordedAt)
            sink.string("outcome", outcome)
            if let errorText { sink.string("outcomeDesc", errorText) }
            concept?.write("purposeOfEvent", into: &sink)
        case .r5:
            sink.constant(constants.restType)
            sink.constant(constants.interaction[action.rawValue] ?? constants.restType)
            sink.string("action", action.rawValue)
            sink.string("severity", reason != nil ? "alert" : (failed ? "error" : "informational"))
            period("occurredPeriod", entry.content.timestamp, body, into: &sink)
            sink.string("recorded", entry.recordedAt)
            outcomeR5(outcome, detail: errorText, into: &sink)
            concept?.write("authorization", into: &sink)
            patientReference(patient, into: &sink)
        }
        agents(entry, body, action: action, purpose: concept, into: &sink)
        source(entry.content.tenantID, into: &sink)
        sink.beginArray("entity")
        if let patient { patientEntity(patient, into: &sink) }
        toolCallEntity(entry, body, query: action == .execute, into: &sink)
        sink.endArray()
        sink.endResource()
    }

    /// R5's structured outcome: the coded outcome and, when given, a text detail.
    private func outcomeR5<Sink: FHIRSink>(_ outcome: String, detail: String?, into sink: inout Sink) {
        sink.beginObject("outcome")
        if let code = Constants.outcomeCodesR5[outcome] { sink.constant(code) }
        if let detail {
            sink.beginArray("detail")
            sink.beginObject("detail")
            sink.string("text", detail)
            sink.endObject()
            sink.endArray()
        }
        sink.endObject()
    }

    /// R5's `patient` reference.
    private func patientReference<Sink: FHIRSink>(_ patient: String?, into sink: inout Sink) {
        guard let patient else { return }
        sink.beginObject("patient")
        sink.string("reference", "Patient/\(patient)")
        sink.endObject()
    }

    static let outcomeDisplay = ["0": "Success", "4": "Minor failure", "8": "Serious failure", "12": "Major failure"]

    /// Outcome of a failed call: 12 when a system was unavailable (timeout, connection,
    /// unavailable), 8 when the request was refused (denied, forbidden, unauthorized, not found,
    /// invalid), 4 for any other error.
    static func failureOutcome(_ body: [String: JSONValue]) -> String { failureOutcome(errorText: errorText(body)) }

    static func failureOutcome(errorText: String) -> String {
        let text = errorText.lowercased()
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

    private func period<Sink: FHIRSink>(_ name: StaticString, _ timestamp: String?, _ body: EntryBody, into sink: inout Sink) {
        guard let timestamp, let start = Timestamp(rfc3339: timestamp) else { return }
        sink.beginObject(name)
        sink.string("start", timestamp)
        // A duration that does not fit (an entry stored before the contract bounded it) leaves
        // the period open rather than stopping the renderer.
        if let duration = body.number("duration_ms"), duration >= 0, let milliseconds = Int64(exactly: duration.rounded(.up)),
            let end = start.adding(milliseconds: milliseconds)
        {
            sink.string("end", end.description)
        }
        sink.endObject()
    }

    /// A stored number as FHIR's `integer`, a signed 32-bit value; `nil` when it is not one
    /// (the contract refuses such values, but an older entry may hold one).
    static func fhirInteger(_ number: Double) -> Int64? {
        guard let value = Int32(exactly: number) else { return nil }
        return Int64(value)
    }

    private func extensions<Sink: FHIRSink>(_ entry: StoredEntry, _ body: EntryBody, hash: String, into sink: inout Sink) {
        func string(_ url: FHIRText, _ value: String?) {
            guard let value else { return }
            sink.beginExtension(url: url)
            sink.string("valueString", value)
            sink.endExtension()
        }
        sink.beginArray("extension")
        string(Constants.toolName, entry.content.toolName)
        string(Constants.conversationID, entry.content.conversationID)
        string(Constants.traceID, entry.content.traceID)
        if let turn = body.number("turn_number").flatMap(Self.fhirInteger) {
            sink.beginExtension(url: Constants.turnNumber)
            sink.integer("valueInteger", turn)
            sink.endExtension()
        }
        if let trigger = body.string("trigger") {
            sink.beginExtension(url: Constants.trigger)
            sink.beginObject("valueCoding")
            sink.string("system", Constants.triggerSystem)
            sink.string("code", trigger)
            if let display = Constants.triggerDisplays[trigger] {
                sink.string("display", display)
            } else {
                sink.string("display", String(trigger.map { $0 == "_" ? " " : $0 }))
            }
            sink.endObject()
            sink.endExtension()
        }
        if let duration = body.number("duration_ms"), duration.isFinite {
            sink.beginExtension(url: Constants.durationMS)
            sink.decimal("valueDecimal", duration)
            sink.endExtension()
        }
        if body.isObject("usage") {
            let input = body.number("usage", "input_tokens").flatMap(Self.fhirInteger)
            let output = body.number("usage", "output_tokens").flatMap(Self.fhirInteger)
            let cost = body.number("usage", "cost_usd").flatMap { $0.isFinite ? $0 : nil }
            if input != nil || output != nil || cost != nil {
                sink.beginExtension(url: Constants.tokenUsage)
                sink.beginArray("extension")
                if let input {
                    sink.beginExtension(url: Constants.inputTokens)
                    sink.integer("valueInteger", input)
                    sink.endExtension()
                }
                if let output {
                    sink.beginExtension(url: Constants.outputTokens)
                    sink.integer("valueInteger", output)
                    sink.endExtension()
                }
                if let cost {
                    sink.beginExtension(url: Constants.costUSD)
                    sink.decimal("valueDecimal", cost)
                    sink.endExtension()
                }
                sink.endArray()
                sink.endExtension()
            }
        }
        string(Constants.tenant, entry.content.tenantID)
        chainEntry(entry.seq, hash: hash, into: &sink)
        sink.endArray()
    }

    /// The chain-entry extension: the entry's sequence number and hash.
    private func chainEntry<Sink: FHIRSink>(_ seq: Int64, hash: String, into sink: inout Sink) {
        sink.beginExtension(url: Constants.chainEntry)
        sink.beginArray("extension")
        sink.beginExtension(url: Constants.seq)
        sequenceNumber(seq, into: &sink)
        sink.endExtension()
        sink.beginExtension(url: Constants.hash)
        sink.string("valueString", hash)
        sink.endExtension()
        sink.endArray()
        sink.endExtension()
    }

    /// A sequence number: R4 has no 64-bit integer (a decimal), R5 has `integer64` (a string in JSON).
    private func sequenceNumber<Sink: FHIRSink>(_ seq: Int64, into sink: inout Sink) {
        switch version {
        case .r4: sink.integer("valueDecimal", seq)
        case .r5: sink.string("valueInteger64", String(seq))
        }
    }

    /// The purpose of use as a CodeableConcept list: the ActReason coding, and the
    /// break-the-glass reason as its text.
    private struct PurposeConcept {
        let coding: FHIRConstant
        let reason: String?

        func write<Sink: FHIRSink>(_ name: StaticString, into sink: inout Sink) {
            sink.beginArray(name)
            sink.beginObject(name)
            sink.constant(coding)
            if let reason { sink.string("text", reason) }
            sink.endObject()
            sink.endArray()
        }
    }

    private func agents<Sink: FHIRSink>(
        _ entry: StoredEntry, _ body: EntryBody, action: ToolAction, purpose: PurposeConcept?, into sink: inout Sink
    ) {
        // BALP: reads flow from the tool server (source) to the agent (destination); creates,
        // updates and searches the other way; deletes name the client an Application.
        let (modelType, serverType): (FHIRConstant, FHIRConstant)
        switch action {
        case .read: (modelType, serverType) = (Constants.destinationApplication, Constants.source)
        case .delete: (modelType, serverType) = (Constants.application, Constants.destination)
        default: (modelType, serverType) = (Constants.sourceApplication, Constants.destination)
        }
        sink.beginArray("agent")

        // The human user who asked.
        sink.beginObject("agent")
        sink.constant(Constants.userType)
        if let role = body.string("user_role") {
            sink.beginArray("role")
            sink.beginObject("role")
            sink.string("text", role)
            sink.endObject()
            sink.endArray()
        }
        sink.beginObject("who")
        sink.beginObject("identifier")
        sink.string("system", Constants.userSystem)
        sink.string("value", entry.content.userID)
        sink.endObject()
        sink.endObject()
        sink.bool("requestor", true)
        let address = body.string("session_metadata", "client_ip").flatMap { $0.hasPrefix("hmac-sha256:") ? nil : $0 }
        switch version {
        case .r4:
            if let address {
                sink.beginObject("network")
                sink.string("address", address)
                sink.string("type", "2")
                sink.endObject()
            }
            purpose?.write("purposeOfUse", into: &sink)
        case .r5:
            if let address { sink.string("networkString", address) }
            purpose?.write("authorization", into: &sink)
        }
        sink.endObject()

        // The model that decided.
        sink.beginObject("agent")
        sink.constant(modelType)
        sink.beginObject("who")
        sink.string("display", entry.content.model)
        sink.endObject()
        if version == .r4 { sink.string("name", entry.content.model) }
        sink.bool("requestor", false)
        sink.endObject()

        // The tool's server.
        sink.beginObject("agent")
        sink.constant(serverType)
        sink.beginObject("who")
        sink.string("display", entry.content.toolName ?? "tool")
        sink.endObject()
        if version == .r4, let tool = entry.content.toolName { sink.string("name", tool) }
        sink.bool("requestor", false)
        sink.endObject()

        sink.endArray()
    }

    private func source<Sink: FHIRSink>(_ tenant: String, into sink: inout Sink) {
        sink.beginObject("source")
        if version == .r4 { sink.string("site", tenant) }
        sink.beginObject("observer")
        sink.beginObject("identifier")
        sink.string("system", Constants.observerSystem)
        sink.string("value", deployment)
        sink.endObject()
        sink.string("display", Constants.careTrail)
        sink.endObject()
        sink.constant(version == .r4 ? Constants.sourceTypes : Constants.sourceTypesR5)
        sink.endObject()
    }

    private func patientEntity<Sink: FHIRSink>(_ patient: String, into sink: inout Sink) {
        let constants = version == .r4 ? Constants.r4 : Constants.r5
        sink.beginObject("entity")
        sink.beginObject("what")
        sink.string("reference", "Patient/\(patient)")
        sink.endObject()
        if version == .r4 { sink.constant(Constants.personType) }
        sink.constant(constants.patientRole)
        sink.endObject()
    }

    private func toolCallEntity<Sink: FHIRSink>(_ entry: StoredEntry, _ body: EntryBody, query: Bool, into sink: inout Sink) {
        let constants = version == .r4 ? Constants.r4 : Constants.r5
        sink.beginObject("entity")
        sink.beginObject("what")
        sink.beginObject("identifier")
        sink.string("system", Constants.toolCallSystem)
        sink.string("value", String(entry.seq))
        sink.endObject()
        sink.endObject()
        if version == .r4 {
            sink.constant(Constants.systemObjectType)
            sink.constant(query ? constants.queryRole : constants.resourceRole)
            if let tool = entry.content.toolName { sink.string("name", tool) }
        } else {
            sink.constant(query ? constants.queryRole : constants.resourceRole)
        }
        let arguments = body.arguments
        if query, let arguments { sink.base64("query", Array(arguments)) }
        if arguments != nil || body.result != nil {
            sink.beginArray("detail")
            if let arguments { detail(Constants.argumentsText, arguments, into: &sink) }
            if let result = body.result { detail(Constants.resultText, result, into: &sink) }
            sink.endArray()
        }
        sink.endObject()
    }

    private func detail<Sink: FHIRSink>(_ type: FHIRText, _ value: ArraySlice<UInt8>, into sink: inout Sink) {
        sink.beginObject("detail")
        switch version {
        case .r4: sink.string("type", type)
        case .r5:
            sink.beginObject("type")
            sink.string("text", type)
            sink.endObject()
        }
        value.withUnsafeBufferPointer { sink.string("valueString", utf8: $0) }
        sink.endObject()
    }

    // MARK: Alerts

    private func alert<Sink: FHIRSink>(_ entry: StoredEntry, _ body: EntryBody, into sink: inout Sink) {
        let constants = version == .r4 ? Constants.r4 : Constants.r5
        let kind = body["alert_kind"]?.stringValue ?? "alert"
        let breakGlass = kind == "break_glass"
        let id = Self.id(for: entry)
        sink.beginResource("AuditEvent", id: id)
        sink.string("id", id)
        sink.constant(constants.meta)
        sink.beginArray("extension")
        sink.beginExtension(url: Constants.alert)
        sink.beginArray("extension")
        sink.beginExtension(url: Constants.kind)
        sink.string("valueString", kind)
        sink.endExtension()
        sink.beginExtension(url: Constants.severity)
        sink.string("valueString", body["severity"]?.stringValue ?? "high")
        sink.endExtension()
        for seq in body["entries"]?.arrayValue ?? [] {
            if let number = seq.numberValue {
                sink.beginExtension(url: Constants.entry)
                sequenceNumber(Int64(number), into: &sink)
                sink.endExtension()
            }
        }
        sink.endArray()
        sink.endExtension()
        sink.beginExtension(url: Constants.tenant)
        sink.string("valueString", entry.content.tenantID)
        sink.endExtension()
        chainEntry(entry.seq, hash: entry.entryHash.hex, into: &sink)
        sink.endArray()
        let summary = body["summary"]?.stringValue
        switch version {
        case .r4:
            sink.constant(Constants.r4.securityAlert)
            if breakGlass { sink.constant(Constants.r4.emergencyOverride) }
            sink.string("action", "E")
            sink.string("recorded", entry.recordedAt)
            sink.string("outcome", "0")
            if let summary { sink.string("outcomeDesc", summary) }
        case .r5:
            sink.constant(Constants.r5.securityAlert)
            sink.constant(breakGlass ? Constants.r5.emergencyOverride : Constants.r5.securityAlertCode)
            sink.string("action", "E")
            sink.string("severity", breakGlass ? "alert" : "warning")
            sink.string("recorded", entry.recordedAt)
            outcomeR5("0", detail: summary, into: &sink)
            patientReference(entry.content.patientID, into: &sink)
        }
        // The agent: the user concerned, else CareTrail's detector.
        sink.beginArray("agent")
        sink.beginObject("agent")
        sink.constant(Constants.application)
        sink.beginObject("who")
        if let user = body["user_concerned"]?.stringValue {
            sink.beginObject("identifier")
            sink.string("system", Constants.userSystem)
            sink.string("value", user)
            sink.endObject()
        } else {
            sink.string("display", Constants.detector)
        }
        sink.endObject()
        sink.bool("requestor", false)
        sink.endObject()
        sink.endArray()
        source(entry.content.tenantID, into: &sink)
        if let patient = entry.content.patientID {
            sink.beginArray("entity")
            patientEntity(patient, into: &sink)
            sink.endArray()
        }
        sink.endResource()
    }
}
