/// The ingest contract: turns one JSON object into an ``IngestRecord`` or says precisely why not.
///
/// Field names are snake_case and stable. Unknown top-level fields are rejected, so a typo
/// (`purpose` for `purpose_of_use`) cannot silently drop what it meant to say. Errors name the
/// field and never the value.
public enum IngestContract {
    /// Top-level fields of a tool call.
    public static let toolCallFields: Set<String> = [
        "kind", "tenant_id", "conversation_id", "user_id", "model", "tool_name", "purpose_of_use", "patient_id",
        "patient_ids", "timestamp", "trace_id", "turn_number", "user_role", "trigger", "action", "arguments",
        "result", "error", "duration_ms", "session_metadata", "usage", "break_glass",
    ]

    /// Top-level fields of an agent request.
    public static let agentRequestFields: Set<String> = [
        "kind", "trace_id", "tenant_id", "user_id", "model", "conversation_id", "turn_number", "user_role",
        "purpose_of_use", "input", "output", "usage", "cost_usd", "duration_ms", "timestamp", "session_metadata",
    ]

    /// Parses one line of JSON (a file line or a batch line) and decodes it.
    public static func decode(line text: String, lineNumber: Int? = nil) throws(IngestError) -> IngestRecord {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            throw IngestError(
                code: .invalidJSON, field: nil, line: lineNumber,
                message: "not valid JSON (\(error.reason) at byte \(error.offset))"
            )
        }
        do {
            return try decode(value)
        } catch {
            throw lineNumber.map { error.at(line: $0) } ?? error
        }
    }

    /// Parses one line given as UTF-8 bytes and decodes it.
    public static func decode(bytes: UnsafeBufferPointer<UInt8>, lineNumber: Int? = nil) throws(IngestError) -> IngestRecord {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw IngestError(
                code: .invalidJSON, field: nil, line: lineNumber,
                message: "not valid JSON (\(error.reason) at byte \(error.offset))"
            )
        }
        do {
            return try decode(value)
        } catch {
            throw lineNumber.map { error.at(line: $0) } ?? error
        }
    }

    /// Decodes one parsed record.
    public static func decode(_ value: JSONValue) throws(IngestError) -> IngestRecord {
        guard case .object(let members) = value else {
            throw IngestError(code: .notAnObject, field: nil, message: "a record must be a JSON object")
        }
        var reader = FieldReader(members: members, path: "")
        let kind =
            try reader.optionalString("kind").map { raw throws(IngestError) in
                guard let kind = RecordKind(rawValue: raw), RecordKind.ingestible.contains(kind) else {
                    throw IngestError(code: .invalidValue, field: "kind", message: "must be 'tool_call' or 'agent_request'")
                }
                return kind
            } ?? .toolCall
        switch kind {
        case .toolCall:
            try reader.rejectUnknown(allowed: toolCallFields)
            return .toolCall(try decodeToolCall(&reader))
        case .agentRequest:
            try reader.rejectUnknown(allowed: agentRequestFields)
            return .agentRequest(try decodeAgentRequest(&reader))
        default:
            throw IngestError(code: .invalidValue, field: "kind", message: "must be 'tool_call' or 'agent_request'")
        }
    }

    private static func decodeToolCall(_ r: inout FieldReader) throws(IngestError) -> ToolCall {
        let tenantID = try r.requiredIdentifier("tenant_id")
        let conversationID = try r.requiredIdentifier("conversation_id")
        let userID = try r.requiredIdentifier("user_id")
        let model = try r.requiredIdentifier("model")
        let toolName = try r.requiredIdentifier("tool_name")
        let purpose = try r.requiredPurpose()
        let action = try r.optionalEnum("action", ToolAction.self, expected: "one of C, R, U, D, E") ?? .read
        var patientID: String?
        var patientIDs: [String]?
        if action == .execute {
            guard r.has("patient_ids") else {
                throw IngestError(
                    code: .missingField, field: "patient_ids",
                    message: "required for a query (action E): the patients its result named, possibly none"
                )
            }
            patientIDs = try r.identifierList("patient_ids")
            patientID = try r.optionalIdentifier("patient_id")
        } else {
            guard r.has("patient_id") else {
                throw IngestError(code: .missingField, field: "patient_id", message: "required field is missing")
            }
            patientID = try r.requiredIdentifier("patient_id")
            if r.has("patient_ids") {
                throw IngestError(
                    code: .invalidValue, field: "patient_ids",
                    message: "only a query (action E) names patient_ids; this call names patient_id"
                )
            }
        }
        let result = try r.optionalObject("result")
        let error = try r.optionalError()
        let breakGlass = try r.optionalBreakGlass()
        try BreakGlassRule.check(breakGlass, purpose: purpose)
        return ToolCall(
            tenantID: tenantID, conversationID: conversationID, userID: userID, model: model, toolName: toolName,
            purposeOfUse: purpose, patientID: patientID, patientIDs: patientIDs,
            timestamp: try r.optionalTimestamp("timestamp"), traceID: try r.optionalIdentifier("trace_id"),
            turnNumber: try r.optionalCount("turn_number"), userRole: try r.optionalIdentifier("user_role"),
            trigger: try r.optionalEnum(
                "trigger", Trigger.self, expected: "one of user_request, proactive, retry, follow_up, system"
            ) ?? .userRequest,
            action: action, arguments: try r.optionalObject("arguments"), result: result, error: error,
            durationMS: try r.optionalBounded("duration_ms", maximum: IngestLimits.maximumDurationMS),
            sessionMetadata: try r.optionalObject("session_metadata"), usage: try r.optionalUsage(),
            breakGlass: breakGlass
        )
    }

    private static func decodeAgentRequest(_ r: inout FieldReader) throws(IngestError) -> AgentRequest {
        AgentRequest(
            traceID: try r.requiredIdentifier("trace_id"), tenantID: try r.requiredIdentifier("tenant_id"),
            userID: try r.requiredIdentifier("user_id"), model: try r.requiredIdentifier("model"),
            conversationID: try r.optionalIdentifier("conversation_id"),
            turnNumber: try r.optionalCount("turn_number"), userRole: try r.optionalIdentifier("user_role"),
            purposeOfUse: r.has("purpose_of_use") ? try r.requiredPurpose() : nil,
            input: try r.optionalString("input"), output: try r.optionalString("output"),
            usage: try r.optionalUsage(), costUSD: try r.optionalBounded("cost_usd", maximum: IngestLimits.maximumCostUSD),
            durationMS: try r.optionalBounded("duration_ms", maximum: IngestLimits.maximumDurationMS),
            timestamp: try r.optionalTimestamp("timestamp"),
            sessionMetadata: try r.optionalObject("session_metadata")
        )
    }
}

/// Reads typed fields out of one JSON object, naming each field by its dotted path in errors.
struct FieldReader {
    let members: [String: JSONValue]
    let path: String

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// A field counts as absent when it is missing or `null`.
    func has(_ key: String) -> Bool {
        if let value = members[key], value != .null { return true }
        return false
    }

    func rejectUnknown(allowed: Set<String>) throws(IngestError) {
        let unknown = members.keys.filter { !allowed.contains($0) }.sorted()
        guard let first = unknown.first else { return }
        // Field names are echoed only when they look like field names: a key is not supposed to
        // hold data, but an agent could still put a patient's name there.
        let looksLikeName =
            first.utf8.count <= 64
            && first.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
        throw IngestError(
            code: .unknownField, field: looksLikeName ? name(first) : (path.isEmpty ? nil : path),
            message: looksLikeName
                ? "unknown field (not part of the ingest contract; check its spelling)"
                : "an unknown field whose name is not a plain snake_case identifier"
        )
    }

    func optionalString(_ key: String) throws(IngestError) -> String? {
        guard let value = members[key], value != .null else { return nil }
        guard case .string(let string) = value else {
            throw IngestError(code: .wrongType, field: name(key), message: "must be a string, not \(value.typeName)")
        }
        return string
    }

    func optionalIdentifier(_ key: String) throws(IngestError) -> String? {
        guard let string = try optionalString(key) else { return nil }
        guard !string.isEmpty else {
            throw IngestError(code: .invalidValue, field: name(key), message: "must not be empty")
        }
        guard string.utf8.count <= IngestLimits.identifierBytes else {
            throw IngestError(code: .outOfRange, field: name(key), message: "longer than \(IngestLimits.identifierBytes) bytes")
        }
        guard !ControlCharacters.occur(in: string) else {
            throw IngestError(
                code: .invalidValue, field: name(key), message: "must not contain control characters or line breaks"
            )
        }
        return string
    }

    func requiredIdentifier(_ key: String) throws(IngestError) -> String {
        guard let string = try optionalIdentifier(key) else {
            throw IngestError(code: .missingField, field: name(key), message: "required field is missing")
        }
        return string
    }

    func identifierList(_ key: String) throws(IngestError) -> [String] {
        guard let value = members[key], value != .null else {
            throw IngestError(code: .missingField, field: name(key), message: "required field is missing")
        }
        guard case .array(let elements) = value else {
            throw IngestError(code: .wrongType, field: name(key), message: "must be an array of strings")
        }
        guard elements.count <= IngestLimits.maximumPatientIDs else {
            throw IngestError(
                code: .outOfRange, field: name(key), message: "more than \(IngestLimits.maximumPatientIDs) identifiers"
            )
        }
        var ids: [String] = []
        ids.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .string(let id) = element, !id.isEmpty, id.utf8.count <= IngestLimits.identifierBytes,
                !ControlCharacters.occur(in: id)
            else {
                throw IngestError(
                    code: .wrongType, field: "\(name(key))[\(index)]",
                    message: "must be a non-empty string of at most \(IngestLimits.identifierBytes) bytes, without control characters"
                )
            }
            ids.append(id)
        }
        return ids
    }

    func optionalEnum<E: RawRepresentable<String>>(_ key: String, _: E.Type, expected: String) throws(IngestError) -> E? {
        guard let raw = try optionalString(key) else { return nil }
        guard let value = E(rawValue: raw) else {
            throw IngestError(code: .invalidValue, field: name(key), message: "must be \(expected)")
        }
        return value
    }

    func requiredPurpose() throws(IngestError) -> PurposeOfUse {
        guard let code = try optionalString("purpose_of_use") else {
            throw IngestError(
                code: .missingField, field: name("purpose_of_use"),
                message: "required: every access needs a purpose of use (HL7 v3 ActReason code, e.g. TREAT)"
            )
        }
        guard let purpose = PurposeOfUse(code: code) else {
            throw IngestError(
                code: .unknownPurpose, field: name("purpose_of_use"),
                message: "not a code of the HL7 v3 PurposeOfUse value set (e.g. TREAT, ETREAT, HPAYMT, HOPERAT)"
            )
        }
        return purpose
    }

    func optionalNumber(_ key: String) throws(IngestError) -> Double? {
        guard let value = members[key], value != .null else { return nil }
        guard case .number(let number) = value else {
            throw IngestError(code: .wrongType, field: name(key), message: "must be a number, not \(value.typeName)")
        }
        return number
    }

    /// A finite number in `0...maximum`.
    func optionalBounded(_ key: String, maximum: Double) throws(IngestError) -> Double? {
        guard let number = try optionalNumber(key) else { return nil }
        guard number.isFinite, number >= 0, number <= maximum else {
            throw IngestError(
                code: .outOfRange, field: name(key), message: "must be a number from 0 to \(Int64(maximum))"
            )
        }
        return number
    }

    /// A non-negative integer up to ``IngestLimits/maximumCount`` (`turn_number`, token counts).
    func optionalCount(_ key: String) throws(IngestError) -> Int? {
        guard let number = try optionalNumber(key) else { return nil }
        guard number.isFinite, number.rounded(.towardZero) == number else {
            throw IngestError(code: .wrongType, field: name(key), message: "must be an integer")
        }
        guard number >= 0, number <= Double(IngestLimits.maximumCount), let count = Int(exactly: number) else {
            throw IngestError(
                code: .outOfRange, field: name(key), message: "must be an integer from 0 to \(IngestLimits.maximumCount)"
            )
        }
        return count
    }

    func optionalTimestamp(_ key: String) throws(IngestError) -> Timestamp? {
        guard let text = try optionalString(key) else { return nil }
        guard let timestamp = Timestamp(rfc3339: text) else {
            throw IngestError(
                code: .invalidValue, field: name(key),
                message: "must be an RFC 3339 date-time with a time-zone offset between 0001-01-01T00:00:00Z and "
                    + "9999-12-31T23:59:59.999Z in UTC, e.g. 2026-01-05T08:00:01.376Z"
            )
        }
        return timestamp
    }

    func optionalObject(_ key: String) throws(IngestError) -> [String: JSONValue]? {
        guard let value = members[key], value != .null else { return nil }
        guard case .object(let object) = value else {
            throw IngestError(code: .wrongType, field: name(key), message: "must be an object, not \(value.typeName)")
        }
        return object
    }

    func optionalError() throws(IngestError) -> JSONValue? {
        guard let value = members["error"], value != .null else { return nil }
        switch value {
        case .string, .object: return value
        default:
            throw IngestError(
                code: .wrongType, field: name("error"), message: "must be a string or an object, not \(value.typeName)"
            )
        }
    }

    func optionalUsage() throws(IngestError) -> TokenUsage? {
        guard let object = try optionalObject("usage") else { return nil }
        let usage = FieldReader(members: object, path: name("usage"))
        try usage.rejectUnknown(allowed: ["input_tokens", "output_tokens", "cost_usd"])
        return TokenUsage(
            inputTokens: try usage.optionalCount("input_tokens"), outputTokens: try usage.optionalCount("output_tokens"),
            costUSD: try usage.optionalBounded("cost_usd", maximum: IngestLimits.maximumCostUSD)
        )
    }

    func optionalBreakGlass() throws(IngestError) -> BreakGlass? {
        guard let object = try optionalObject("break_glass") else { return nil }
        let breakGlass = FieldReader(members: object, path: name("break_glass"))
        try breakGlass.rejectUnknown(allowed: ["reason"])
        return BreakGlass(reason: try breakGlass.optionalString("reason"))
    }
}
