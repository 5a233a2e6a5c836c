public import AuditChain
public import AuditCore
import AuditFHIR
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How entries are written for SIEMs.
///
/// - `rfc5424-fhir` / `rfc5424-json`: RFC 5424 syslog messages (facility 10, security/authorization),
///   `APP-NAME` `caretrail`, `MSGID` by kind, one structured-data element `caretrail@32473`
///   with `seq`, `hash`, `tenant`, `tool`, `purpose`, `outcome`; the body is the FHIR AuditEvent
///   (ATNA/BALP style) or the stored entry as JSON. 32473 is IANA's example enterprise number:
///   a deployment may use its own (`--sd-id`).
/// - `cef`: ArcSight CEF, one line per entry.
/// - `jsonl`: one JSON object per line with Elastic/Splunk friendly names.
public enum SIEMFormat: String, Sendable, CaseIterable {
    case rfc5424FHIR = "rfc5424-fhir"
    case rfc5424JSON = "rfc5424-json"
    case cef
    case jsonl
}

/// Renders entries and checkpoints in a ``SIEMFormat``.
public struct SIEMRenderer: Sendable {
    public var format: SIEMFormat
    /// The host name in syslog headers.
    public var hostname: String
    /// The SD-ID of the structured-data element.
    public var sdID: String
    /// The longest syslog message sent as is (bytes); longer ones have their body replaced by
    /// a summary that says how long it was and names the entry (never cut silently).
    public var maximumMessageLength: Int

    public init(format: SIEMFormat, hostname: String = "caretrail", sdID: String = "caretrail@32473", maximumMessageLength: Int = 65_536) {
        self.format = format
        self.hostname = hostname
        self.sdID = sdID
        self.maximumMessageLength = maximumMessageLength
    }

    /// Syslog severity of an entry: alerts critical (2), break-the-glass accesses warning (4),
    /// failed calls and CareTrail's own records notice (5), the rest informational (6).
    public static func severity(_ entry: StoredEntry) -> Int {
        switch entry.content.kind {
        case .alert: return 2
        case .toolCall:
            if Self.bytes(of: entry.content.body, contain: Self.breakGlassKey)
                && Self.bytes(of: entry.content.body, contain: Self.highSeverity)
            {
                return 4
            }
            return entry.content.outcome == .failure ? 5 : 6
        case .agentRequest, .fhirAuditEvent: return 6
        default: return 5
        }
    }

    private static let breakGlassKey = Array(#""break_glass":"#.utf8)
    private static let highSeverity = Array(#""severity":"high""#.utf8)

    /// Whether `text`'s UTF-8 holds `needle`: a byte search (`memchr` for the first byte, then
    /// `memcmp`), many times faster than Foundation's `String.contains`, which dominated rendering.
    static func bytes(of text: String, contain needle: [UInt8]) -> Bool {
        var text = text
        return text.withUTF8 { haystack in
            needle.withUnsafeBufferPointer { needle in
                guard let base = haystack.baseAddress, let pattern = needle.baseAddress, needle.count > 0, haystack.count >= needle.count
                else {
                    return false
                }
                let last = haystack.count - needle.count
                var start = 0
                while start <= last {
                    guard let found = memchr(base + start, Int32(pattern.pointee), last - start + 1) else { return false }
                    let at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
                    if memcmp(base + at, pattern, needle.count) == 0 { return true }
                    start = at + 1
                }
                return false
            }
        }
    }

    static func messageID(_ kind: RecordKind) -> String {
        switch kind {
        case .toolCall: "TOOLCALL"
        case .agentRequest: "AGENTREQ"
        case .alert: "ALERT"
        case .review: "REVIEW"
        case .config: "CONFIG"
        case .keyEvent: "KEYEVENT"
        case .fhirAuditEvent: "FHIRAUDIT"
        default: "ENTRY"
        }
    }

    /// One entry as the bytes of one message (syslog without framing; CEF and JSON lines with
    /// their newline).
    public func render(_ entry: StoredEntry) -> [UInt8] {
        switch format {
        case .rfc5424FHIR, .rfc5424JSON: return syslog(entry)
        case .cef: return Array((cef(entry) + "\n").utf8)
        case .jsonl:
            var line = jsonLine(entry)
            line.append(0x0A)
            return line
        }
    }

    /// A checkpoint: the current head, so the SIEM keeps an outside copy of it.
    public func checkpoint(_ head: ChainHead, at time: Timestamp) -> [UInt8] {
        switch format {
        case .rfc5424FHIR, .rfc5424JSON:
            let sd = "[\(sdID) seq=\"\(head.seq)\" hash=\"\(head.hash.hex)\"]"
            return Array(
                "<\(10 * 8 + 6)>1 \(time.description) \(hostname) caretrail - CHECKPOINT \(sd) \u{FEFF}caretrail head \(head)".utf8)
        case .cef:
            return Array(
                "CEF:0|CareTrail|CareTrail|1.0|checkpoint|Log head checkpoint|1|rt=\(time.millisecondsSinceEpoch) externalId=\(head.seq) cs3Label=hash cs3=\(head.hash.hex)\n"
                    .utf8)
        case .jsonl:
            return Array(
                (CanonicalJSON.string(
                    .object([
                        "@timestamp": .string(time.description), "event": .object(["kind": "checkpoint"]),
                        "caretrail": .object(["seq": .number(Double(head.seq)), "hash": .string(head.hash.hex)]),
                    ])) + "\n").utf8)
        }
    }

    // MARK: RFC 5424

    private func syslog(_ entry: StoredEntry) -> [UInt8] {
        let content = entry.content
        let hash = entry.entryHash.hex
        var header: [UInt8] = []
        header.reserveCapacity(320)
        header.append(contentsOf: "<\(10 * 8 + Self.severity(entry))>1 ".utf8)
        header.append(contentsOf: entry.recordedAt.utf8)
        header.append(0x20)
        header.append(contentsOf: hostname.utf8)
        header.append(contentsOf: " caretrail - ".utf8)
        header.append(contentsOf: Self.messageID(content.kind).utf8)
        header.append(contentsOf: " [".utf8)
        header.append(contentsOf: sdID.utf8)
        func param(_ name: String, _ value: String) {
            header.append(0x20)
            header.append(contentsOf: name.utf8)
            header.append(contentsOf: "=\"".utf8)
            Self.escapeParam(value, into: &header)
            header.append(0x22)
        }
        param("seq", String(entry.seq))
        param("hash", hash)
        param("tenant", content.tenantID)
        if let tool = content.toolName { param("tool", tool) }
        if let purpose = content.purposeOfUse { param("purpose", purpose) }
        if let outcome = content.outcome { param("outcome", outcome.rawValue) }
        header.append(contentsOf: "] ".utf8)
        header.append(contentsOf: [0xEF, 0xBB, 0xBF])
        var message: [UInt8] = []
        if format == .rfc5424FHIR {
            // The entry's AuditEvent (a query's for its first patient), written straight into the message.
            var sink = FHIRJSONSink(framing: .bare)
            sink.out.reserveCapacity(header.count + 6144)
            sink.out.append(contentsOf: header)
            if Self.mapper.write(entry, firstOnly: true, into: &sink) > 0 { message = sink.out }
        }
        if message.isEmpty { message = header + entry.canonicalJSON }
        if message.count > maximumMessageLength {
            // Never cut silently: say so, and name the entry so the full record can be fetched.
            let body = CanonicalJSON.string(
                .object([
                    "omitted": .string("message body of \(message.count) bytes is over the maximum of \(maximumMessageLength)"),
                    "seq": .number(Double(entry.seq)), "hash": .string(hash), "kind": .string(content.kind.rawValue),
                ]))
            message = header + Array(body.utf8)
        }
        return message
    }

    private static let mapper = AuditEventMapper(version: .r4)

    /// RFC 5424 PARAM-VALUE: `"`, `\` and `]` are escaped with a backslash. A line break or
    /// any other control character would let a value forge a second message in a file or a
    /// stream framed by newlines, so line feed and carriage return are written as the two
    /// characters `\n` and `\r`, and every other control character as U+FFFD.
    static func escapeParam(_ value: String, into out: inout [UInt8]) {
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 >= 0xC2 }) {
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "]") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"", "\\", "]":
                out.append(UInt8(ascii: "\\"))
                out.append(UInt8(scalar.value))
            case "\n": out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case "\r": out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            default:
                if Self.isControl(scalar) {
                    out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                } else {
                    out.append(contentsOf: String(scalar).utf8)
                }
            }
        }
    }

    /// The characters a SIEM field must never carry raw (``ControlCharacters``).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool { ControlCharacters.isControl(scalar) }

    // MARK: CEF

    /// CEF header fields escape `\` and `|`; line feed and carriage return become `\n` and
    /// `\r`, any other control character U+FFFD, so that no value can end the line.
    static func cefHeader(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "|") || $0 < 0x20 || $0 == 0x7F || $0 >= 0xC2 })
        else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\", "|":
                out.append("\\")
                out.append(scalar)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            default: out.append(isControl(scalar) ? "\u{FFFD}" : scalar)
            }
        }
        return String(out)
    }

    /// CEF extension values escape `\`, `=` and line breaks; any other control character
    /// becomes U+FFFD.
    static func cefValue(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "=") || $0 < 0x20 || $0 == 0x7F || $0 >= 0xC2 })
        else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "=": out.append(contentsOf: "\\=".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            default: out.append(isControl(scalar) ? "\u{FFFD}" : scalar)
            }
        }
        return String(out)
    }

    func cef(_ entry: StoredEntry) -> String {
        let content = entry.content
        let severity = [2: 9, 4: 7, 5: 4, 6: 2][Self.severity(entry)] ?? 3
        let signature = content.kind == .toolCall ? (content.toolName ?? "tool_call") : content.kind.rawValue
        let name =
            content.kind == .toolCall
            ? "Tool call \(content.action?.rawValue ?? "R")" : content.kind.rawValue.replacingOccurrences(of: "_", with: " ")
        var ext: [(String, String)] = [
            ("rt", String(Timestamp(rfc3339: content.timestamp ?? entry.recordedAt)?.millisecondsSinceEpoch ?? 0)),
            ("externalId", String(entry.seq)), ("suser", content.userID), ("cs1Label", "tenant"), ("cs1", content.tenantID),
            ("cs3Label", "hash"), ("cs3", entry.entryHash.hex),
        ]
        if let purpose = content.purposeOfUse { ext += [("cs2Label", "purpose"), ("cs2", purpose)] }
        if let patient = content.patientID { ext += [("cs4Label", "patient"), ("cs4", patient)] }
        if let outcome = content.outcome { ext.append(("outcome", outcome.rawValue)) }
        if let action = content.action { ext.append(("act", action.rawValue)) }
        if let conversation = content.conversationID { ext += [("cs5Label", "conversation"), ("cs5", conversation)] }
        if let trace = content.traceID { ext += [("cs6Label", "trace"), ("cs6", trace)] }
        ext.append(("deviceProcessName", content.model))
        return "CEF:0|CareTrail|CareTrail|1.0|\(Self.cefHeader(signature))|\(Self.cefHeader(name))|\(severity)|"
            + ext.map { "\($0.0)=\(Self.cefValue($0.1))" }.joined(separator: " ")
    }

    // MARK: JSON lines

    /// One JSON line (without its newline): ECS-like names, and the stored entry spliced in.
    func jsonLine(_ entry: StoredEntry) -> [UInt8] {
        let content = entry.content
        // Written straight in canonical form (RFC 8785: members sorted by name), as
        // `CanonicalJSON` would write the same object.
        var out: [UInt8] = []
        out.reserveCapacity(content.body.utf8.count + 1200)
        func name(_ text: StaticString) {
            text.withUTF8Buffer { out.append(contentsOf: $0) }
        }
        func string(_ value: String?) {
            if let value { CanonicalJSON.writeString(value, into: &out) } else { name("null") }
        }
        name("{\"@timestamp\":")
        string(content.timestamp ?? entry.recordedAt)
        name(",\"caretrail\":{\"conversation_id\":")
        string(content.conversationID)
        name(",\"entry\":")
        out.append(contentsOf: entry.canonicalJSON)
        name(",\"hash\":\"")
        out.append(contentsOf: entry.entryHash.hex.utf8)
        name("\",\"model\":")
        string(content.model)
        name(",\"patient_id\":")
        string(content.patientID)
        name(",\"purpose\":")
        string(content.purposeOfUse)
        name(",\"seq\":")
        out.append(contentsOf: String(entry.seq).utf8)
        name(",\"tenant\":")
        string(content.tenantID)
        name(",\"tool\":")
        string(content.toolName)
        name(",\"trace_id\":")
        string(content.traceID)
        name("},\"event\":{\"action\":")
        string(content.action?.rawValue)
        name(",\"created\":")
        string(entry.recordedAt)
        name(",\"kind\":")
        string(content.kind.rawValue)
        name(",\"outcome\":")
        string(content.outcome?.rawValue)
        name(",\"severity\":")
        out.append(contentsOf: String(Self.severity(entry)).utf8)
        name("},\"user\":{\"id\":")
        string(content.userID)
        name("}}")
        return out
    }
}
