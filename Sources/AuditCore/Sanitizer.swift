/// Strips what must not be stored from a record, before anything is stored.
///
/// - Secrets (passwords, tokens, API keys…) anywhere in `arguments`, `result`, `error` and
///   `session_metadata` become `"***REDACTED***"`.
/// - Identifiers (names, SSN, birth dates, addresses, phones, e-mail…) become keyed pseudonyms.
/// - Search terms and messages (`query`, `note`, `prompt`…) become `{"text_hmac", "preview"}`:
///   a keyed hash of the whole text and a preview with patterns and name-like words pseudonymised.
/// - Any other string is scanned for SSN-, phone-, e-mail- and date-like text and for values the
///   call gave in an identifier field; each finding is pseudonymised in place.
/// - `result` is summarised: results over ``SanitizerPolicy/resultSizeLimit`` bytes keep only
///   their identifiers, their size and `truncated: true`.
public struct Sanitizer: Sendable {
    /// The text that replaces a secret.
    public static let redacted = "***REDACTED***"

    public let policy: SanitizerPolicy
    public let pseudonymizer: any Pseudonymizer
    private let compiled: CompiledPolicy

    public init(policy: SanitizerPolicy = .default, pseudonymizer: any Pseudonymizer) {
        self.policy = policy
        self.pseudonymizer = pseudonymizer
        self.compiled = CompiledPolicy(policy)
    }

    /// The storable content of a record.
    public func sanitize(_ record: IngestRecord) -> EntryContent {
        switch record {
        case .toolCall(let call): sanitize(call)
        case .agentRequest(let request): sanitize(request)
        }
    }

    /// The storable content of a tool call.
    public func sanitize(_ call: ToolCall) -> EntryContent {
        var known: [String] = []
        // Search terms in the arguments name whom the call is about: the names found in them
        // scrub the rest of the call. A result's or an error's prose does not add names.
        if let arguments = call.arguments {
            collectIdentifierValues(.object(arguments), classified: .plain, freeText: true, into: &known)
        }
        for object in [call.result, call.sessionMetadata] {
            if let object { collectIdentifierValues(.object(object), classified: .plain, into: &known) }
        }
        if let error = call.error { collectIdentifierValues(error, classified: .plain, into: &known) }
        let scrubber = TextScrubber(
            pseudonymizer: pseudonymizer, knownValues: known, commonWords: compiled.commonWords
        )
        // The top-level strings are identifiers of users, conversations, tools and models, not
        // of patients; a value the call gave as a patient's identifier anywhere, or an SSN,
        // phone, e-mail or date in them, is still pseudonymised in place.
        func top(_ text: String) -> String { scrubber.scrub(text, names: false) }
        func topOptional(_ text: String?) -> String? { text.map(top) }

        var body: [String: JSONValue] = ["trigger": .string(call.trigger.rawValue)]
        if let turn = call.turnNumber { body["turn_number"] = .number(Double(turn)) }
        if let role = call.userRole { body["user_role"] = .string(top(role)) }
        if let arguments = call.arguments { body["arguments"] = clean(.object(arguments), scrubber) }
        if let result = call.result { body["result"] = summarize(result, scrubber) }
        if let error = call.error { body["error"] = clean(error, scrubber) }
        if let duration = call.durationMS { body["duration_ms"] = .number(duration) }
        if let metadata = call.sessionMetadata { body["session_metadata"] = clean(.object(metadata), scrubber) }
        if let usage = call.usage { body["usage"] = Self.encode(usage) }
        if let breakGlass = call.breakGlass {
            var object: [String: JSONValue] = [:]
            if let reason = breakGlass.reason { object["reason"] = .string(scrubber.scrub(reason, names: false)) }
            body["break_glass"] = .object(object)
            // Emergency access is stored with elevated severity, and raises an alert.
            body["severity"] = .string(Severity.high.rawValue)
        }
        return EntryContent(
            kind: .toolCall, tenantID: call.tenantID, userID: top(call.userID), model: top(call.model),
            toolName: top(call.toolName), action: call.action, patientID: call.patientID, patientIDs: call.patientIDs,
            purposeOfUse: call.purposeOfUse.code, outcome: Self.outcome(of: call),
            conversationID: top(call.conversationID), traceID: topOptional(call.traceID), timestamp: call.timestamp?.description,
            keyID: pseudonymizer.keyID, body: body
        )
    }

    /// Free text a person wrote for the log itself (a review note): kept readable, as a
    /// break-the-glass reason is, with identifier patterns (SSN, phone, e-mail, dates)
    /// pseudonymised. Name-like words are kept, or the note would be unreadable; reviewers are
    /// told not to write names.
    public func scrubNote(_ text: String) -> String {
        TextScrubber(pseudonymizer: pseudonymizer, knownValues: [], commonWords: compiled.commonWords)
            .scrub(text, names: false)
    }

    /// The storable content of an agent request: `input` and `output` only as hash and preview.
    public func sanitize(_ request: AgentRequest) -> EntryContent {
        var known: [String] = []
        if let metadata = request.sessionMetadata {
            collectIdentifierValues(.object(metadata), classified: .plain, into: &known)
        }
        if let input = request.input {
            collectIdentifierValues(.string(input), classified: .freeText, freeText: true, into: &known)
        }
        let scrubber = TextScrubber(
            pseudonymizer: pseudonymizer, knownValues: known, commonWords: compiled.commonWords
        )
        func top(_ text: String) -> String { scrubber.scrub(text, names: false) }
        func topOptional(_ text: String?) -> String? { text.map(top) }
        var body: [String: JSONValue] = [:]
        if let turn = request.turnNumber { body["turn_number"] = .number(Double(turn)) }
        if let role = request.userRole { body["user_role"] = .string(top(role)) }
        if let input = request.input {
            body["input"] = freeText(input, previewLength: policy.inputPreviewLength, scrubber)
        }
        if let output = request.output {
            body["output"] = freeText(output, previewLength: policy.outputPreviewLength, scrubber)
        }
        if let usage = request.usage { body["usage"] = Self.encode(usage) }
        if let cost = request.costUSD { body["cost_usd"] = .number(cost) }
        if let duration = request.durationMS { body["duration_ms"] = .number(duration) }
        if let metadata = request.sessionMetadata { body["session_metadata"] = clean(.object(metadata), scrubber) }
        return EntryContent(
            kind: .agentRequest, tenantID: request.tenantID, userID: top(request.userID), model: top(request.model),
            purposeOfUse: request.purposeOfUse?.code, conversationID: topOptional(request.conversationID),
            traceID: top(request.traceID), timestamp: request.timestamp?.description, keyID: pseudonymizer.keyID,
            body: body
        )
    }

    /// A tool call failed when it has an `error`, or its result carries a non-null `error` or
    /// `success: false`.
    public static func outcome(of call: ToolCall) -> Outcome {
        if call.error != nil { return .failure }
        if let result = call.result {
            if let error = result["error"], error != .null { return .failure }
            if result["success"] == .bool(false) { return .failure }
        }
        return .success
    }

    /// The substrings of `text` that the strictest scrubbing (search terms and messages) would
    /// pseudonymise: names, SSNs, phones, e-mail addresses, dates, long numbers.
    public func identifiers(in text: String) -> [String] {
        let scrubber = TextScrubber(pseudonymizer: pseudonymizer, knownValues: [], commonWords: compiled.commonWords)
        let scalars = Array(text.unicodeScalars)
        return scrubber.findings(in: scalars, names: true).map { String(String.UnicodeScalarView(scalars[$0])) }
    }

    /// Whether values under `key` are secrets or identifiers, which are never stored in clear.
    public func isSensitiveKey(_ key: String) -> Bool {
        switch compiled.classify(key) {
        case .secret, .identifier: true
        case .freeText, .plain: false
        }
    }

    /// Whether `key` holds search terms or messages.
    public func isFreeTextKey(_ key: String) -> Bool {
        compiled.classify(key) == .freeText
    }

    // MARK: Walking values

    private func clean(_ value: JSONValue, _ scrubber: TextScrubber) -> JSONValue {
        switch value {
        case .string(let string): return .string(scrubber.scrub(string, names: false))
        case .array(let elements): return .array(elements.map { clean($0, scrubber) })
        case .object(let members):
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(members.count)
            for (key, member) in members {
                out[memberName(key, scrubber)] = clean(member, under: compiled.classify(key), scrubber)
            }
            return .object(out)
        default: return value
        }
    }

    /// A member name as stored. Names are data too: a map keyed by patient name or e-mail
    /// address (`{"Maria Garcia": {...}}`). A name that reads like a field name (ASCII
    /// letters, digits and `_-.:$@/#[]`, no spaces) is scanned for the values the call gave as
    /// identifiers and for SSN-, phone-, e-mail- and date-like text; any other name is
    /// scanned as strictly as a search term, name-like words included.
    private func memberName(_ key: String, _ scrubber: TextScrubber) -> String {
        let fieldLike = key.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "_-.:$/#[]".utf8.contains(byte)
        }
        return scrubber.scrub(key, names: !fieldLike)
    }

    private func clean(_ value: JSONValue, under keyClass: CompiledPolicy.KeyClass, _ scrubber: TextScrubber) -> JSONValue {
        switch keyClass {
        case .plain: return clean(value, scrubber)
        case .secret: return value == .null ? .null : .string(Self.redacted)
        case .identifier: return pseudonymizeLeaves(value)
        case .freeText:
            switch value {
            case .string(let text): return freeText(text, previewLength: policy.freeTextPreviewLength, scrubber)
            case .array(let elements): return .array(elements.map { clean($0, under: .freeText, scrubber) })
            default: return clean(value, scrubber)
            }
        }
    }

    private func pseudonymizeLeaves(_ value: JSONValue) -> JSONValue {
        switch value {
        case .null, .bool: return value
        case .string(let string): return .string(pseudonymizer.pseudonym(for: string))
        case .number(let number): return .string(pseudonymizer.pseudonym(for: Self.text(of: number)))
        case .array(let elements): return .array(elements.map(pseudonymizeLeaves))
        case .object(let members):
            // Under an identifier key, member names are kept only when they are parts of a
            // name, address or contact point (`given`, `line`, `system`); any other name may be
            // the identifier itself (a map keyed by patient name) and is pseudonymised.
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(members.count)
            for (key, member) in members {
                let kept = Self.structuralMembers.contains(key.lowercased()) || compiled.classify(key) != .plain
                out[kept ? key : pseudonymizer.pseudonym(for: key)] = pseudonymizeLeaves(member)
            }
            return .object(out)
        }
    }

    /// Member names of FHIR HumanName, Address and ContactPoint and of common EHR shapes,
    /// kept under identifier keys.
    static let structuralMembers: Set<String> = [
        "use", "system", "value", "type", "code", "text", "period", "start", "end", "line", "id", "rank", "extension",
        "url", "country", "state", "district", "coding", "display", "version", "label", "kind",
    ]

    private func freeText(_ text: String, previewLength: Int, _ scrubber: TextScrubber) -> JSONValue {
        .object([
            "text_hmac": .string(pseudonymizer.pseudonym(for: text)),
            "preview": .string(Self.preview(scrubber.scrub(Self.head(of: text, previewLength), names: true), length: previewLength)),
        ])
    }

    /// The part of `text` a preview of `length` characters can show, with a margin so that every
    /// pattern starting inside the preview is seen whole by the scrubber (patterns are far
    /// shorter than the margin). Scrubbing a 10 KB note to show 120 characters would be waste.
    static func head(of text: String, _ length: Int) -> String {
        let margin = length + 64
        if text.utf8.count <= margin { return text }
        let scalars = text.unicodeScalars
        guard let cut = scalars.index(scalars.startIndex, offsetBy: margin, limitedBy: scalars.endIndex),
            cut < scalars.endIndex
        else { return text }
        return String(scalars[..<cut])
    }

    /// The first `length` characters of scrubbed text, never ending inside a pseudonym.
    private static let markerBytes = Array(pseudonymPrefix.utf8)

    /// Where the pseudonym that covers position `cut - 1` starts, if one does (ASCII text).
    private static func pseudonymStart(in bytes: [UInt8], before cut: Int) -> Int? {
        guard bytes.contains(UInt8(ascii: ":")) else { return nil }
        var start = cut - 1
        while start >= 0, !isSpaceByte(bytes[start]) {
            if start + markerBytes.count <= bytes.count, bytes[start..<start + markerBytes.count].elementsEqual(markerBytes) {
                return start
            }
            start -= 1
        }
        return nil
    }

    /// Where the pseudonym starting at `start` ends (ASCII text).
    private static func tokenEnd(in bytes: [UInt8], from start: Int) -> Int {
        var end = start
        while end < bytes.count, !isSpaceByte(bytes[end]), bytes[end] != UInt8(ascii: ","), bytes[end] != UInt8(ascii: ";") {
            end += 1
        }
        return end
    }

    private static func isSpaceByte(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x80 ? (c.value == 0x20 || (c.value >= 0x09 && c.value <= 0x0D)) : c.properties.isWhitespace
    }

    static func preview(_ scrubbed: String, length: Int) -> String {
        // Short texts are their own preview; count bytes first, which is cheap.
        if scrubbed.utf8.count <= length { return scrubbed }
        if scrubbed.utf8.allSatisfy({ $0 < 0x80 }) {
            // ASCII: characters are bytes.
            let bytes = Array(scrubbed.utf8)
            var cut = length
            if let tokenStart = pseudonymStart(in: bytes, before: cut), tokenEnd(in: bytes, from: tokenStart) > cut {
                cut = tokenStart
            }
            return String(decoding: bytes[..<cut], as: UTF8.self) + "…"
        }
        let scalars = Array(scrubbed.unicodeScalars)
        guard scalars.count > length else { return scrubbed }
        var cut = length
        // If the cut falls inside a pseudonym, cut before the pseudonym instead.
        let marker = Array(pseudonymPrefix.unicodeScalars)
        var start = scrubbed.utf8.contains(UInt8(ascii: ":")) ? cut - 1 : -1
        while start >= 0, !Self.isSpace(scalars[start]) {
            if start + marker.count <= scalars.count, scalars[start..<start + marker.count].elementsEqual(marker) {
                var end = start
                while end < scalars.count, !Self.isSpace(scalars[end]), scalars[end] != ",", scalars[end] != ";" {
                    end += 1
                }
                if end > cut { cut = start }
                break
            }
            start -= 1
        }
        return String(String.UnicodeScalarView(scalars[..<cut])) + "…"
    }

    private func summarize(_ result: [String: JSONValue], _ scrubber: TextScrubber) -> JSONValue {
        let size = Self.approximateSize(.object(result))
        guard size > policy.resultSizeLimit else { return clean(.object(result), scrubber) }
        var kept: [String: JSONValue] = [:]
        for (key, value) in result where compiled.isResultIdentifier(key) {
            switch value {
            case .object, .array: continue
            default: kept[key] = clean(value, under: compiled.classify(key), scrubber)
            }
        }
        kept["size_bytes"] = .number(Double(size))
        kept["truncated"] = .bool(true)
        return .object(kept)
    }

    /// Collects the values given under identifier keys (and, with `freeText`, the names and
    /// identifiers found in search terms and messages) for the scrubber to find elsewhere.
    private func collectIdentifierValues(
        _ value: JSONValue, classified keyClass: CompiledPolicy.KeyClass, freeText: Bool = false, into known: inout [String]
    ) {
        switch value {
        case .object(let members):
            for (key, member) in members {
                let memberClass = keyClass == .identifier ? .identifier : compiled.classify(key)
                collectIdentifierValues(member, classified: memberClass, freeText: freeText, into: &known)
            }
        case .array(let elements):
            for element in elements { collectIdentifierValues(element, classified: keyClass, freeText: freeText, into: &known) }
        case .string(let string) where keyClass == .identifier:
            let trimmed = string.trimmingWhitespace
            guard trimmed.count >= 2 else { return }
            known.append(trimmed)
            // Parts of a multi-word name recur on their own ("Mrs Garcia").
            let parts = trimmed.split(separator: " ")
            if parts.count > 1 {
                known.append(contentsOf: parts.filter { $0.count >= 3 }.map(String.init))
            }
        case .number(let number) where keyClass == .identifier:
            known.append(Self.text(of: number))
        case .string(let string) where keyClass == .freeText && freeText:
            // Names and other identifiers given in search terms and messages scrub the rest of
            // the call too (`query: "Maria Garcia"` then `error: "no match for Maria Garcia"`).
            known.append(contentsOf: identifiers(in: Self.head(of: string, 4096)).filter { $0.count >= 2 })
        default:
            return
        }
    }

    // MARK: Helpers

    package static func encode(_ usage: TokenUsage) -> JSONValue {
        var object: [String: JSONValue] = [:]
        if let input = usage.inputTokens { object["input_tokens"] = .number(Double(input)) }
        if let output = usage.outputTokens { object["output_tokens"] = .number(Double(output)) }
        if let cost = usage.costUSD { object["cost_usd"] = .number(cost) }
        return .object(object)
    }

    static func text(of number: Double) -> String {
        if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }

    /// The length of the value's compact JSON, escapes aside: cheap and close enough to decide
    /// whether a result is summarised.
    package static func approximateSize(_ value: JSONValue) -> Int {
        switch value {
        case .null: return 4
        case .bool(let flag): return flag ? 4 : 5
        case .number(let number): return text(of: number).utf8.count
        case .string(let string): return string.utf8.count + 2
        case .array(let elements): return elements.reduce(1 + max(elements.count, 1)) { $0 + approximateSize($1) }
        case .object(let members): return approximateObjectSize(members.lazy.map { ($0.key, $0.value) })
        }
    }

    /// ``approximateSize(_:)`` of an object given as its members.
    package static func approximateObjectSize(_ members: some Collection<(String, JSONValue)>) -> Int {
        members.reduce(1 + max(members.count, 1)) { $0 + $1.0.utf8.count + 3 + approximateSize($1.1) }
    }
}

/// The steps of ``Sanitizer/sanitize(_:)-(ToolCall)`` one object member at a time, for the
/// one-pass preparer, which reads a call's members from its bytes and writes the stored body
/// without building it as a tree. The rules stay here, in one place: the preparer only walks.
extension Sanitizer {
    /// The scrubber of one call, made from the values its identifier fields gave.
    package struct CallScrubber {
        fileprivate let scrubber: TextScrubber
    }

    /// Adds the values a member of `arguments` (`freeText`), `result`, `session_metadata` or
    /// an `error` object gives for the scrubber to find elsewhere in the call.
    package func collectKnownValues(member key: String, _ value: JSONValue, freeText: Bool, into known: inout [String]) {
        collectIdentifierValues(value, classified: compiled.classify(key), freeText: freeText, into: &known)
    }

    /// The scrubber for a call whose identifier fields gave `knownValues`.
    package func callScrubber(knownValues: [String]) -> CallScrubber {
        CallScrubber(scrubber: TextScrubber(pseudonymizer: pseudonymizer, knownValues: knownValues, commonWords: compiled.commonWords))
    }

    /// A member's name as stored.
    package func storedName(_ key: String, _ scrubber: CallScrubber) -> String {
        memberName(key, scrubber.scrubber)
    }

    /// A member's value as stored, by the class of its name.
    package func storedValue(_ value: JSONValue, key: String, _ scrubber: CallScrubber) -> JSONValue {
        clean(value, under: compiled.classify(key), scrubber.scrubber)
    }

    /// A top-level string (user, model, tool, conversation, trace, role) as stored.
    package func storedTopLevel(_ text: String, _ scrubber: CallScrubber) -> String {
        scrubber.scrubber.scrub(text, names: false)
    }
}

extension String {
    var trimmingWhitespace: String {
        // Most values have nothing to trim: check the ends' bytes first.
        if let first = utf8.first, let last = utf8.last, first > 0x20, first < 0x80, last > 0x20, last < 0x80 {
            return self
        }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !Sanitizer.isSpace($0) }),
            let last = scalars.lastIndex(where: { !Sanitizer.isSpace($0) })
        else { return "" }
        return String(scalars[first...last])
    }
}
