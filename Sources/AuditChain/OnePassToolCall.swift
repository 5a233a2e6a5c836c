package import AuditCore

/// A tool call read from its JSON line in one pass over the bytes, without a tree of
/// ``JSONValue``s: the ingest path's common case.
///
/// It reads the common shape only: ASCII text without escapes, the contract's top-level fields
/// without `null`s, `patient_ids` as an array of strings, and `arguments`, `result`,
/// `session_metadata`, `usage`, `break_glass` and an `error` object holding scalars only. For anything else,
/// and for every line the contract refuses, it gives `nil`, and the line takes the tree path
/// (``JSONParser``, ``IngestContract``, ``Sanitizer``), which reads every shape and names the
/// field of any error. So the one pass never has to explain a refusal, and must only never
/// accept what the contract refuses, nor store anything the tree path would not: the tests hold
/// both paths to the same bytes on generated lines.
package struct OnePassToolCall {
    /// A scalar of the line: a string as its byte range (ASCII, no escapes), or a value.
    package enum Scalar {
        case string(Range<Int>)
        case number(Double)
        case bool(Bool)
        case null
    }

    /// One member of a nested object: its name's byte range and its value.
    package struct Member {
        package var name: Range<Int>
        package var value: Scalar
    }

    /// The line the ranges point into.
    package let bytes: UnsafeBufferPointer<UInt8>
    /// The top-level fields, as the contract reads them; its nested objects are left empty.
    package private(set) var call: ToolCall
    package private(set) var arguments: [Member]?
    package private(set) var result: [Member]?
    package private(set) var sessionMetadata: [Member]?
    /// `error` when it is an object; ``errorText`` when it is a string.
    package private(set) var errorObject: [Member]?
    package private(set) var errorText: String?

    /// Reads `bytes` (one line, valid for as long as this value is used); `nil` when the line
    /// is not of the shape read here or the contract refuses it.
    package init?(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        var scanner = Scanner(bytes: bytes)
        guard let fields = scanner.topLevel() else { return nil }
        var reader = Fields(bytes: bytes, values: fields)
        guard let call = reader.toolCall() else { return nil }
        self.call = call
        arguments = reader.objects[Field.arguments.rawValue]
        result = reader.objects[Field.result.rawValue]
        sessionMetadata = reader.objects[Field.sessionMetadata.rawValue]
        errorObject = reader.objects[Field.error.rawValue]
        errorText = reader.string(.error)
    }

    /// The text of a string's bytes.
    package func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// A scalar as a ``JSONValue``.
    package func value(_ scalar: Scalar) -> JSONValue {
        switch scalar {
        case .string(let range): .string(text(range))
        case .number(let number): .number(number)
        case .bool(let flag): .bool(flag)
        case .null: .null
        }
    }

    /// The value of the member of `members` named `name`, if there is one.
    package func member(_ name: String, of members: [Member]) -> Scalar? {
        members.first { bytes[$0.name].elementsEqual(name.utf8) }?.value
    }
}

// MARK: - The top-level fields

/// The contract's top-level fields of a tool call, by position.
enum Field: Int, CaseIterable {
    case kind, tenantID, conversationID, userID, model, toolName, purposeOfUse, patientID, patientIDs, timestamp, traceID
    case turnNumber, userRole, trigger, action, arguments, result, error, durationMS, sessionMetadata, usage, breakGlass

    /// The field's name in the contract.
    var name: String {
        switch self {
        case .kind: "kind"
        case .tenantID: "tenant_id"
        case .conversationID: "conversation_id"
        case .userID: "user_id"
        case .model: "model"
        case .toolName: "tool_name"
        case .purposeOfUse: "purpose_of_use"
        case .patientID: "patient_id"
        case .patientIDs: "patient_ids"
        case .timestamp: "timestamp"
        case .traceID: "trace_id"
        case .turnNumber: "turn_number"
        case .userRole: "user_role"
        case .trigger: "trigger"
        case .action: "action"
        case .arguments: "arguments"
        case .result: "result"
        case .error: "error"
        case .durationMS: "duration_ms"
        case .sessionMetadata: "session_metadata"
        case .usage: "usage"
        case .breakGlass: "break_glass"
        }
    }

    static let names: [[UInt8]] = allCases.map { Array($0.name.utf8) }

    /// The field named by `bytes`, if the contract has one.
    static func named(_ bytes: UnsafeBufferPointer<UInt8>) -> Field? {
        for (index, name) in names.enumerated() where name.count == bytes.count && name.elementsEqual(bytes) {
            return Field(rawValue: index)
        }
        return nil
    }
}

/// A top-level value: a scalar, or an object of scalars.
enum TopValue {
    case scalar(OnePassToolCall.Scalar)
    case object([OnePassToolCall.Member])
    /// `patient_ids`: strings.
    case strings([Range<Int>])
}

/// Reads the contract's rules over the scanned fields; `nil` wherever the contract would
/// refuse the line or the one pass does not read its shape.
private struct Fields {
    let bytes: UnsafeBufferPointer<UInt8>
    let values: [TopValue?]
    var objects: [Int: [OnePassToolCall.Member]] = [:]

    init(bytes: UnsafeBufferPointer<UInt8>, values: [TopValue?]) {
        self.bytes = bytes
        self.values = values
        for field in [Field.arguments, .result, .sessionMetadata, .error, .usage, .breakGlass] {
            if case .object(let members)? = values[field.rawValue] { objects[field.rawValue] = members }
        }
    }

    func string(_ field: Field) -> String? {
        guard case .scalar(.string(let range))? = values[field.rawValue] else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    func number(_ field: Field) -> Double? {
        guard case .scalar(.number(let number))? = values[field.rawValue] else { return nil }
        return number
    }

    func isPresent(_ field: Field) -> Bool { values[field.rawValue] != nil }

    /// A field that is absent, or a string: the text, or `.some(nil)` when absent; `nil` for
    /// any other type (the contract's type error, left to the tree path).
    func optionalString(_ field: Field) -> String?? {
        guard isPresent(field) else { return .some(nil) }
        return string(field).map { .some($0) }
    }

    /// An identifier as the contract takes it: a string of 1 to 256 bytes (the scanner lets
    /// no control character through).
    func optionalIdentifier(_ field: Field) -> String?? {
        guard let text = optionalString(field) else { return nil }
        guard let text else { return .some(nil) }
        guard !text.isEmpty, text.utf8.count <= IngestLimits.identifierBytes else { return nil }
        return .some(text)
    }

    func requiredIdentifier(_ field: Field) -> String? {
        optionalIdentifier(field) ?? nil
    }

    func optionalNumber(_ field: Field) -> Double?? {
        guard isPresent(field) else { return .some(nil) }
        return number(field).map { .some($0) }
    }

    static func count(_ number: Double) -> Int? {
        guard number.isFinite, number.rounded(.towardZero) == number, number >= 0,
            number <= Double(IngestLimits.maximumCount)
        else { return nil }
        return Int(exactly: number)
    }

    static func bounded(_ number: Double, maximum: Double) -> Double? {
        number.isFinite && number >= 0 && number <= maximum ? number : nil
    }

    mutating func toolCall() -> ToolCall? {
        if isPresent(.kind) {
            guard string(.kind) == RecordKind.toolCall.rawValue else { return nil }
        }
        guard let tenantID = requiredIdentifier(.tenantID), let conversationID = requiredIdentifier(.conversationID),
            let userID = requiredIdentifier(.userID), let model = requiredIdentifier(.model),
            let toolName = requiredIdentifier(.toolName), let code = string(.purposeOfUse),
            let purpose = PurposeOfUse(code: code)
        else { return nil }
        guard let actionText = optionalString(.action) else { return nil }
        var action = ToolAction.read
        if let actionText {
            guard let named = ToolAction(rawValue: actionText) else { return nil }
            action = named
        }
        // A query names the patients its result named, possibly none, and may name one more;
        // any other call names one patient.
        var patientID: String?
        var patientIDs: [String]?
        if action == .execute {
            guard case .strings(let ranges)? = values[Field.patientIDs.rawValue], ranges.count <= IngestLimits.maximumPatientIDs
            else { return nil }
            let ids = ranges.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
            guard ids.allSatisfy({ !$0.isEmpty && $0.utf8.count <= IngestLimits.identifierBytes }),
                let named = optionalIdentifier(.patientID)
            else { return nil }
            (patientID, patientIDs) = (named, ids)
        } else {
            guard !isPresent(.patientIDs), let named = requiredIdentifier(.patientID) else { return nil }
            patientID = named
        }
        // Objects where the contract wants objects (an error may be a string).
        for field in [Field.arguments, .result, .sessionMetadata, .usage, .breakGlass] where isPresent(field) {
            guard objects[field.rawValue] != nil else { return nil }
        }
        if isPresent(.error), objects[Field.error.rawValue] == nil, string(.error) == nil { return nil }
        var breakGlass: BreakGlass?
        if let members = objects[Field.breakGlass.rawValue] {
            guard let read = self.breakGlass(members) else { return nil }
            breakGlass = read
        }
        guard (try? BreakGlassRule.check(breakGlass, purpose: purpose)) != nil else { return nil }
        guard let timestampText = optionalString(.timestamp) else { return nil }
        var timestamp: Timestamp?
        if let timestampText {
            guard let parsed = Timestamp(rfc3339: timestampText) else { return nil }
            timestamp = parsed
        }
        guard let traceID = optionalIdentifier(.traceID), let userRole = optionalIdentifier(.userRole),
            let turn = optionalNumber(.turnNumber), let duration = optionalNumber(.durationMS),
            let triggerText = optionalString(.trigger)
        else { return nil }
        var turnNumber: Int?
        if let turn {
            guard let count = Self.count(turn) else { return nil }
            turnNumber = count
        }
        var durationMS: Double?
        if let duration {
            guard let bounded = Self.bounded(duration, maximum: IngestLimits.maximumDurationMS) else { return nil }
            durationMS = bounded
        }
        var trigger = Trigger.userRequest
        if let triggerText {
            guard let named = Trigger(rawValue: triggerText) else { return nil }
            trigger = named
        }
        var usage: TokenUsage?
        if let members = objects[Field.usage.rawValue] {
            guard let read = self.usage(members) else { return nil }
            usage = read
        }
        return ToolCall(
            tenantID: tenantID, conversationID: conversationID, userID: userID, model: model, toolName: toolName,
            purposeOfUse: purpose, patientID: patientID, patientIDs: patientIDs, timestamp: timestamp, traceID: traceID,
            turnNumber: turnNumber, userRole: userRole, trigger: trigger, action: action, durationMS: durationMS, usage: usage,
            breakGlass: breakGlass
        )
    }

    /// `break_glass`: a reason, or none, and nothing else.
    func breakGlass(_ members: [OnePassToolCall.Member]) -> BreakGlass? {
        var reason: String?
        for member in members {
            guard UnsafeBufferPointer(rebasing: bytes[member.name]).elementsEqual("reason".utf8) else { return nil }
            switch member.value {
            case .string(let range): reason = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            case .null: reason = nil
            default: return nil
            }
        }
        return BreakGlass(reason: reason)
    }

    /// `usage`: token counts and a cost, nothing else, no `null`s.
    func usage(_ members: [OnePassToolCall.Member]) -> TokenUsage? {
        var usage = TokenUsage()
        for member in members {
            guard case .number(let number) = member.value else { return nil }
            let name = UnsafeBufferPointer(rebasing: bytes[member.name])
            if name.elementsEqual("input_tokens".utf8) {
                guard let count = Self.count(number) else { return nil }
                usage.inputTokens = count
            } else if name.elementsEqual("output_tokens".utf8) {
                guard let count = Self.count(number) else { return nil }
                usage.outputTokens = count
            } else if name.elementsEqual("cost_usd".utf8) {
                guard let cost = Self.bounded(number, maximum: IngestLimits.maximumCostUSD) else { return nil }
                usage.costUSD = cost
            } else {
                return nil
            }
        }
        return usage
    }
}

// MARK: - Scanning

/// The byte scanner: strict JSON, for the shapes the one pass reads.
private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    /// The most members a nested object may have here (names are compared pairwise).
    static let maximumMembers = 64

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// The top-level object's fields, by ``Field``; `nil` for a shape not read here.
    mutating func topLevel() -> [TopValue?]? {
        var values = [TopValue?](repeating: nil, count: Field.allCases.count)
        guard expect(UInt8(ascii: "{")) else { return nil }
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { return nil }
        while true {
            skipWhitespace()
            guard let name = string(),
                let field = Field.named(UnsafeBufferPointer(rebasing: bytes[name])),
                values[field.rawValue] == nil, expect(UInt8(ascii: ":"))
            else { return nil }
            skipWhitespace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "{") {
                guard let members = object() else { return nil }
                values[field.rawValue] = .object(members)
            } else if bytes[index] == UInt8(ascii: "[") {
                guard field == .patientIDs, let strings = strings() else { return nil }
                values[field.rawValue] = .strings(strings)
            } else {
                // A top-level `null` is an absent field to the contract: left to the tree path.
                guard let scalar = scalar(), !scalar.isNull else { return nil }
                values[field.rawValue] = .scalar(scalar)
            }
            if expect(UInt8(ascii: ",")) { continue }
            guard expect(UInt8(ascii: "}")) else { return nil }
            skipWhitespace()
            return index == bytes.count ? values : nil
        }
    }

    /// Reads a container opened at `index` up to `closing`, each element with `element`;
    /// `false` when it is malformed or an element is refused.
    mutating func elements(closing: UInt8, _ element: (inout Scanner) -> Bool) -> Bool {
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == closing {
            index += 1
            return true
        }
        while true {
            skipWhitespace()
            guard element(&self) else { return false }
            if expect(UInt8(ascii: ",")) { continue }
            return expect(closing)
        }
    }

    /// An object of scalars, its names unique.
    mutating func object() -> [OnePassToolCall.Member]? {
        var members: [OnePassToolCall.Member] = []
        let read = elements(closing: UInt8(ascii: "}")) { scanner in
            guard let name = scanner.string(), scanner.expect(UInt8(ascii: ":")) else { return false }
            scanner.skipWhitespace()
            guard let value = scanner.scalar(), members.count < Self.maximumMembers else { return false }
            for other in members where scanner.bytes[other.name].elementsEqual(scanner.bytes[name]) { return false }
            members.append(OnePassToolCall.Member(name: name, value: value))
            return true
        }
        return read ? members : nil
    }

    /// An array of strings.
    mutating func strings() -> [Range<Int>]? {
        var strings: [Range<Int>] = []
        let read = elements(closing: UInt8(ascii: "]")) { scanner in
            guard let string = scanner.string() else { return false }
            strings.append(string)
            return true
        }
        return read ? strings : nil
    }

    mutating func scalar() -> OnePassToolCall.Scalar? {
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "\""): return string().map { .string($0) }
        case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return literal("null") ? .null : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number().map { .number($0) }
        default: return nil
        }
    }

    mutating func literal(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return false }
        index += count
        return true
    }

    /// A string's content: printable ASCII without escapes.
    mutating func string() -> Range<Int>? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return start..<(index - 1)
            }
            guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    /// A number, read as ``JSONParser`` reads it: integers of up to 15 digits exactly, others
    /// through `Double`'s own parsing, infinities refused.
    mutating func number() -> Double? {
        let start = index
        var negative = false
        var integer: Int64 = 0
        var simple = true
        func isDigit(_ at: Int) -> Bool { at < bytes.count && bytes[at] >= 0x30 && bytes[at] <= 0x39 }
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard isDigit(index) else { return nil }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if isDigit(index) { return nil }
        } else {
            var digits = 0
            while isDigit(index) {
                if digits < 15 { integer = integer * 10 + Int64(bytes[index] - 0x30) } else { simple = false }
                digits += 1
                index += 1
            }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            simple = false
            index += 1
            guard isDigit(index) else { return nil }
            while isDigit(index) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            simple = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit(index) else { return nil }
            while isDigit(index) { index += 1 }
        }
        if simple { return negative && integer == 0 ? -0.0 : Double(negative ? -integer : integer) }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }
}

extension OnePassToolCall.Scalar {
    var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
