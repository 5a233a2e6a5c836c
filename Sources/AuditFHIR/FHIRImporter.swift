public import AuditChain
public import AuditCore
public import Foundation

/// Reads FHIR AuditEvents (R4; JSON resource, Bundle or NDJSON; XML resource or Bundle) and
/// turns each into log entry content: kind `fhir_audit_event`, the mapped fields as columns
/// (so the indexes find them), and the AuditEvent itself in the body, kept as given, so a
/// re-export writes it back unchanged.
public enum FHIRImporter {
    /// Why a file could not be imported; never quotes the document.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The AuditEvents in a document.
    public static func auditEvents(in data: Data) throws(Problem) -> [JSONValue] {
        let first = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 || $0 == 0xEF || $0 == 0xBB || $0 == 0xBF) }
        var resources: [JSONValue] = []
        if first == UInt8(ascii: "<") {
            do {
                resources = [try FHIRXMLReader.read(data)]
            } catch {
                throw Problem(message: "FHIR XML: \(error.message)")
            }
        } else {
            let text = String(decoding: data, as: UTF8.self)
            if let whole = try? JSONParser.parse(text) {
                resources = [whole]
            } else {
                for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where !line.allSatisfy(\.isWhitespace) {
                    do {
                        resources.append(try JSONParser.parse(String(line)))
                    } catch {
                        throw Problem(message: "line \(index + 1): not valid JSON (\(error.reason))")
                    }
                }
            }
        }
        var events: [JSONValue] = []
        for resource in resources {
            switch resource["resourceType"]?.stringValue {
            case "AuditEvent": events.append(resource)
            case "Bundle":
                for entry in resource["entry"]?.arrayValue ?? [] {
                    guard let inner = entry["resource"], inner["resourceType"]?.stringValue == "AuditEvent" else {
                        throw Problem(message: "a Bundle entry is not an AuditEvent")
                    }
                    events.append(inner)
                }
            default: throw Problem(message: "not an AuditEvent or a Bundle of AuditEvents")
            }
        }
        return try events.enumerated().map { index, event throws(Problem) in
            if let problem = FHIRSchema.unknownElement(in: event) {
                throw Problem(message: "AuditEvent \(index + 1): \(problem)")
            }
            if let problem = badInstant(in: event) {
                throw Problem(message: "AuditEvent \(index + 1): \(problem)")
            }
            return withoutNarrative(event)
        }
    }

    /// The first instant of the event (`recorded`, `period`, `occurredPeriod`,
    /// `occurredDateTime`) that is not an RFC 3339 date-time between 0001 and 9999 in UTC.
    static func badInstant(in event: JSONValue) -> String? {
        let paths: [(String, JSONValue?)] = [
            ("recorded", event["recorded"]), ("period.start", event["period"]?["start"]), ("period.end", event["period"]?["end"]),
            ("occurredPeriod.start", event["occurredPeriod"]?["start"]), ("occurredPeriod.end", event["occurredPeriod"]?["end"]),
            ("occurredDateTime", event["occurredDateTime"]),
        ]
        for (path, value) in paths {
            guard let value, value != .null else { continue }
            guard let text = value.stringValue, Self.instant(text) != nil else {
                return "\(path): not a date-time with a time zone between 0001-01-01 and 9999-12-31 in UTC"
            }
        }
        return nil
    }

    /// A FHIR `dateTime` or `instant` as an instant: a full date-time with a time zone, or a
    /// year, year-month or date (taken at its start, UTC).
    static func instant(_ text: String) -> Timestamp? {
        if let instant = Timestamp(rfc3339: text) { return instant }
        switch text.utf8.count {
        case 10: return Timestamp(rfc3339: text + "T00:00:00Z")
        case 7: return Timestamp(rfc3339: text + "-01T00:00:00Z")
        case 4: return Timestamp(rfc3339: text + "-01-01T00:00:00Z")
        default: return nil
        }
    }

    /// The event without its narrative (`text`) and without the narrative of contained
    /// resources: markup from outside is never stored, so it can never reach an export.
    static func withoutNarrative(_ event: JSONValue) -> JSONValue {
        guard case .object(var members) = event else { return event }
        members["text"] = nil
        members["_text"] = nil
        if case .array(let contained)? = members["contained"] {
            members["contained"] = .array(contained.map(withoutNarrative))
        }
        return .object(members)
    }

    /// The chain entry an AuditEvent says it was exported from (our `chain-entry` extension).
    public static func chainEntry(_ event: JSONValue) -> ChainHead? {
        guard let ext = event["extension"]?.arrayValue?.first(where: { $0["url"]?.stringValue == FHIRVocabulary.Extension.chainEntry.url }),
            let parts = ext["extension"]?.arrayValue,
            let seqValue = parts.first(where: { $0["url"] == "seq" }),
            let seq = seqValue["valueDecimal"]?.numberValue.flatMap({ Int64(exactly: $0) })
                ?? seqValue["valueInteger64"]?.stringValue.flatMap({ Int64($0) }),
            seq >= 1,
            let hex = parts.first(where: { $0["url"] == "hash" })?["valueString"]?.stringValue, let hash = ChainHash(hex: hex)
        else { return nil }
        return ChainHead(seq: seq, hash: hash)
    }

    /// The entry content of an imported AuditEvent.
    public static func content(_ event: JSONValue, keyID: String) -> EntryContent {
        func ext(_ e: FHIRVocabulary.Extension) -> JSONValue? {
            event["extension"]?.arrayValue?.first { $0["url"]?.stringValue == e.url }
        }
        let agents = event["agent"]?.arrayValue ?? []
        let requestor = agents.first { $0["requestor"] == .bool(true) } ?? agents.first
        let user =
            requestor?["who"]?["identifier"]?["value"]?.stringValue ?? requestor?["who"]?["display"]?.stringValue
            ?? requestor?["altId"]?.stringValue ?? requestor?["name"]?.stringValue ?? "unknown"
        let patients =
            (event["entity"]?.arrayValue ?? []).compactMap { entity -> String? in
                guard let reference = entity["what"]?["reference"]?.stringValue, reference.hasPrefix("Patient/") else { return nil }
                return String(reference.dropFirst("Patient/".count))
            } + (event["patient"]?["reference"]?.stringValue.map { [$0.hasPrefix("Patient/") ? String($0.dropFirst(8)) : $0] } ?? [])
        let action = event["action"]?.stringValue.flatMap(ToolAction.init(rawValue:))
        let purposeCode = (event["purposeOfEvent"] ?? event["authorization"])?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"]?
            .stringValue
        let outcomeCode = event["outcome"]?.stringValue ?? event["outcome"]?["code"]?["code"]?.stringValue
        let time =
            event["period"]?["start"]?.stringValue ?? event["occurredPeriod"]?["start"]?.stringValue
            ?? event["occurredDateTime"]?.stringValue ?? event["recorded"]?.stringValue
        let tool =
            ext(.toolName)?["valueString"]?.stringValue ?? event["subtype"]?.arrayValue?.first?["code"]?.stringValue
            ?? event["type"]?["code"]?.stringValue
        let isQuery = action == .execute
        return EntryContent(
            kind: .fhirAuditEvent,
            tenantID: ext(.tenant)?["valueString"]?.stringValue ?? event["source"]?["site"]?.stringValue ?? "external",
            userID: user, model: "fhir-import", toolName: tool, action: action,
            patientID: isQuery ? nil : patients.first, patientIDs: isQuery ? patients : nil,
            purposeOfUse: purposeCode.flatMap { PurposeOfUse(code: $0) }?.code,
            outcome: outcomeCode.map { $0 == "0" ? .success : .failure },
            conversationID: ext(.conversationID)?["valueString"]?.stringValue, traceID: ext(.traceID)?["valueString"]?.stringValue,
            timestamp: time.flatMap { Timestamp(rfc3339: $0) }?.description, keyID: keyID,
            body: ["fhir": event, "fhir_version": "r4"]
        )
    }
}
