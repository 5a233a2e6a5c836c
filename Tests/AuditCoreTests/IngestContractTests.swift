import AuditCore
import Testing

/// A valid tool call; tests change one field at a time.
let validCall: [String: JSONValue] = [
    "tenant_id": "hospital-1", "conversation_id": "conv-1", "user_id": "usr-1", "model": "gpt-4.1",
    "tool_name": "get_patient_record", "purpose_of_use": "TREAT", "patient_id": "PAT-1",
]

func decode(_ members: [String: JSONValue]) throws(IngestError) -> IngestRecord {
    try IngestContract.decode(.object(members))
}

func decodeError(_ members: [String: JSONValue]) -> IngestError? {
    do {
        _ = try decode(members)
        return nil
    } catch {
        return error
    }
}

func with(_ changes: [String: JSONValue?]) -> [String: JSONValue] {
    var members = validCall
    for (key, value) in changes { members[key] = value }
    return members
}

@Suite("Ingest contract")
struct IngestContractTests {
    @Test func minimalToolCallIsAcceptedWithDefaults() throws {
        guard case .toolCall(let call) = try decode(validCall) else {
            Issue.record("not a tool call")
            return
        }
        #expect(call.trigger == .userRequest)
        #expect(call.action == .read)
        #expect(call.purposeOfUse.code == "TREAT")
        #expect(call.patientID == "PAT-1")
    }

    @Test(arguments: ["tenant_id", "conversation_id", "user_id", "model", "tool_name", "purpose_of_use", "patient_id"])
    func missingRequiredFieldIsRejected(field: String) {
        let error = decodeError(with([field: nil]))
        #expect(error?.code == .missingField)
        #expect(error?.field == field)
    }

    @Test func nullRequiredFieldCountsAsMissing() {
        #expect(decodeError(with(["user_id": .null]))?.code == .missingField)
    }

    @Test func emptyIdentifierIsRejected() {
        let error = decodeError(with(["user_id": ""]))
        #expect(error?.code == .invalidValue)
        #expect(error?.field == "user_id")
    }

    @Test func queryNeedsPatientIDsInsteadOfPatientID() throws {
        let query = with(["action": "E", "patient_id": nil, "patient_ids": ["PAT-1", "PAT-2"]])
        guard case .toolCall(let call) = try decode(query) else {
            Issue.record("not a tool call")
            return
        }
        #expect(call.patientIDs == ["PAT-1", "PAT-2"])
        #expect(call.patientID == nil)
        let empty = with(["action": "E", "patient_id": nil, "patient_ids": []])
        guard case .toolCall(let emptyCall) = try decode(empty) else {
            Issue.record("not a tool call")
            return
        }
        #expect(emptyCall.patientIDs == [])
        let missing = decodeError(with(["action": "E", "patient_id": nil]))
        #expect(missing?.code == .missingField)
        #expect(missing?.field == "patient_ids")
    }

    @Test func nonQueryMayNotNamePatientIDs() {
        #expect(decodeError(with(["patient_ids": ["PAT-2"]]))?.field == "patient_ids")
    }

    @Test func patientIDsMustBeStrings() {
        let error = decodeError(with(["action": "E", "patient_id": nil, "patient_ids": ["PAT-1", 7]]))
        #expect(error?.code == .wrongType)
        #expect(error?.field == "patient_ids[1]")
    }

    @Test func typoedFieldIsRejectedNotDropped() {
        let error = decodeError(with(["purpose": "TREAT"]))
        #expect(error?.code == .unknownField)
        #expect(error?.field == "purpose")
    }

    @Test func unknownFieldWithOddNameIsRejectedWithoutEchoingIt() {
        let error = decodeError(with(["Maria Garcia": "x"]))
        #expect(error?.code == .unknownField)
        #expect(error?.description.contains("Maria") == false)
    }

    @Test func unknownPurposeIsRejected() {
        let error = decodeError(with(["purpose_of_use": "SHOPPING"]))
        #expect(error?.code == .unknownPurpose)
        #expect(error?.field == "purpose_of_use")
    }

    @Test func purposeCodesAreCaseSensitive() {
        #expect(decodeError(with(["purpose_of_use": "treat"]))?.code == .unknownPurpose)
    }

    @Test(arguments: PurposeOfUse.all.map(\.code))
    func everyPurposeOfUseCodeIsAccepted(code: String) throws {
        // BTG needs its break-the-glass reason (see breakTheGlassRules).
        let breakGlass: JSONValue? = code == "BTG" ? ["reason": "Unconscious patient in ED, no consent possible"] : nil
        guard case .toolCall(let call) = try decode(with(["purpose_of_use": .string(code), "break_glass": breakGlass])) else {
            Issue.record("not a tool call")
            return
        }
        #expect(call.purposeOfUse.code == code)
    }

    @Test func purposeValueSetHasTheNamedCodes() {
        for code in ["TREAT", "ETREAT", "BTG", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH", "PATRQT", "HTEST"] {
            #expect(PurposeOfUse(code: code) != nil, "missing \(code)")
        }
        #expect(PurposeOfUse(code: "PurposeOfUse") == nil)
        #expect(PurposeOfUse(code: "BTG")?.isEmergency == true)
        #expect(PurposeOfUse(code: "TREAT")?.isEmergency == false)
    }

    static let wrongTypes: [(String, JSONValue)] = [
        ("turn_number", .string("3")), ("duration_ms", "fast"), ("arguments", "x"), ("result", [1]),
        ("session_metadata", 1), ("usage", "many"), ("break_glass", "yes"), ("error", 404), ("trace_id", 12),
        ("timestamp", 1_700_000_000), ("user_role", true),
    ]

    @Test(arguments: wrongTypes)
    func wrongTypeIsRejected(field: String, value: JSONValue) {
        let error = decodeError(with([field: value]))
        #expect(error?.code == .wrongType, "\(field)")
        #expect(error?.field == field)
    }

    @Test(arguments: [("turn_number", -1.0), ("duration_ms", -0.5)])
    func negativeNumberIsRejected(field: String, value: Double) {
        let error = decodeError(with([field: .number(value)]))
        #expect(error?.code == .outOfRange)
        #expect(error?.field == field)
    }

    @Test func fractionalTurnNumberIsRejected() {
        #expect(decodeError(with(["turn_number": 1.5]))?.code == .wrongType)
    }

    @Test func usageIsCheckedFieldByField() {
        #expect(decodeError(with(["usage": ["input_tokens": -3]]))?.field == "usage.input_tokens")
        #expect(decodeError(with(["usage": ["cost_usd": -0.01]]))?.field == "usage.cost_usd")
        #expect(decodeError(with(["usage": ["input_token": 3]]))?.field == "usage.input_token")
    }

    @Test(arguments: [
        "2026-01-05", "2026-01-05T08:00:00", "2026-02-30T08:00:00Z", "yesterday", "2026-01-05T25:00:00Z", "2026-01-05T08:00:00+0100",
    ])
    func badTimestampIsRejected(text: String) {
        let error = decodeError(with(["timestamp": .string(text)]))
        #expect(error?.code == .invalidValue)
        #expect(error?.field == "timestamp")
    }

    @Test(arguments: ["user_request", "proactive", "retry", "follow_up", "system"])
    func everyTriggerIsAccepted(trigger: String) throws {
        guard case .toolCall(let call) = try decode(with(["trigger": .string(trigger)])) else { return }
        #expect(call.trigger.rawValue == trigger)
    }

    @Test func unknownTriggerAndActionAreRejected() {
        #expect(decodeError(with(["trigger": "whim"]))?.field == "trigger")
        #expect(decodeError(with(["action": "X"]))?.field == "action")
    }

    @Test func errorMayBeStringOrObject() throws {
        _ = try decode(with(["error": "timeout"]))
        _ = try decode(with(["error": ["type": "Timeout"]]))
    }

    @Test func breakGlassIsStoredWithItsReason() throws {
        guard
            case .toolCall(let call) = try decode(
                with([
                    "purpose_of_use": "ETREAT", "break_glass": ["reason": "Unconscious patient in ED"],
                ]))
        else { return }
        #expect(call.breakGlass?.reason == "Unconscious patient in ED")
        #expect(decodeError(with(["break_glass": ["reason": "x", "why": "y"]]))?.field == "break_glass.why")
    }

    @Test(
        arguments: [
            [:], ["reason": ""], ["reason": "   "], ["reason": "urgent"], ["reason": "n/a"], ["reason": "Emergency access"],
            ["reason": "xxxxxxxxxxxxxxxx"], ["reason": "BreakTheGlassNow"], ["reason": "N/A - N/A - N/A"],
        ] as [JSONValue])
    func breakGlassWithoutAReasonAReviewerCanJudgeIsRejected(breakGlass: JSONValue) {
        let error = decodeError(with(["purpose_of_use": "ETREAT", "break_glass": breakGlass]))
        #expect(error?.code == .breakGlassReason)
        #expect(error?.field == "break_glass.reason")
    }

    @Test func breakTheGlassRules() throws {
        let reason: JSONValue = ["reason": "Unconscious patient in ED, no consent possible"]
        // A non-emergency purpose cannot break the glass.
        let wrongPurpose = decodeError(with(["purpose_of_use": "TREAT", "break_glass": reason]))
        #expect(wrongPurpose?.code == .breakGlassPurpose)
        #expect(wrongPurpose?.field == "purpose_of_use")
        // BTG without a reason is rejected too; ETREAT alone is ordinary emergency treatment.
        #expect(decodeError(with(["purpose_of_use": "BTG"]))?.code == .breakGlassPurpose)
        _ = try decode(with(["purpose_of_use": "ETREAT"]))
        _ = try decode(with(["purpose_of_use": "BTG", "break_glass": reason]))
        _ = try decode(with(["purpose_of_use": "ETREAT", "break_glass": reason]))
    }

    @Test func agentRequestNeedsTraceTenantUserModel() throws {
        let request: [String: JSONValue] = [
            "kind": "agent_request", "trace_id": "tr-1", "tenant_id": "t", "user_id": "u", "model": "m",
            "input": "hello", "output": "hi", "usage": ["input_tokens": 10], "cost_usd": 0.01, "duration_ms": 12,
            "timestamp": "2026-01-05T08:00:00Z",
        ]
        guard case .agentRequest(let parsed) = try decode(request) else {
            Issue.record("not a request")
            return
        }
        #expect(parsed.input == "hello")
        for field in ["trace_id", "tenant_id", "user_id", "model"] {
            var broken = request
            broken[field] = nil
            #expect(decodeError(broken)?.field == field)
        }
        var toolField = request
        toolField["tool_name"] = "x"
        #expect(decodeError(toolField)?.code == .unknownField)
    }

    @Test func unknownKindIsRejected() {
        #expect(decodeError(with(["kind": "tool-call"]))?.field == "kind")
    }

    @Test func errorsNeverEchoTheValue() {
        let secret = "Maria Garcia 123-45-6789"
        let cases: [[String: JSONValue]] = [
            with(["purpose_of_use": .string(secret)]), with(["timestamp": .string(secret)]),
            with(["trigger": .string(secret)]), with(["turn_number": .string(secret)]),
        ]
        for members in cases {
            let error = decodeError(members)
            #expect(error != nil)
            #expect(error?.description.contains("Maria") == false)
            #expect(error?.description.contains("6789") == false)
        }
    }

    @Test func lineErrorsNameTheLine() {
        do {
            _ = try IngestContract.decode(line: #"{"tenant_id": "t""#, lineNumber: 12)
            Issue.record("accepted broken JSON")
        } catch {
            #expect(error.code == .invalidJSON)
            #expect(error.line == 12)
            #expect(error.description.hasPrefix("line 12"))
        }
        do {
            _ = try IngestContract.decode(line: #"{"tenant_id": "t"}"#, lineNumber: 4)
        } catch {
            #expect(error.description.hasPrefix("line 4: field 'conversation_id'"))
        }
    }

    @Test func duplicateFieldIsRejected() {
        let line =
            #"{"tenant_id":"t","conversation_id":"c","user_id":"u","model":"m","tool_name":"x","purpose_of_use":"TREAT","purpose_of_use":"HPAYMT","patient_id":"p"}"#
        #expect(throws: IngestError.self) { try IngestContract.decode(line: line) }
    }
}
