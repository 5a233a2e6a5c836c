import AuditChain
import AuditCore
import AuditExport
import AuditStorage
import AuditTestSupport
import Foundation
import Testing

@Suite("SIEM formats")
struct SIEMFormatTests {
    static func entry(
        seq: Int64 = 7, kind: RecordKind = "tool_call", user: String = "usr-1", tool: String = "get_patient_record",
        body: String = #"{"trigger":"user_request"}"#, outcome: Outcome = "success"
    ) -> StoredEntry {
        StoredEntry(
            seq: seq, recordedAt: "2026-01-05T08:00:00.000Z", prevHash: .genesis,
            entryHash: ChainHash(unchecked: Array(repeating: 0xAB, count: 32)),
            content: EncodedEntry(
                kind: kind, tenantID: "hospital-1", userID: user, model: "gpt-4.1", toolName: tool, action: "R", patientID: "PAT-1",
                patientIDs: nil, purposeOfUse: "TREAT", outcome: outcome, conversationID: "conv-1", traceID: "tr-1",
                timestamp: "2026-01-05T08:00:00.000Z", keyID: "k1", body: body
            )
        )
    }

    @Test func rfc5424HasItsHeaderStructuredDataAndAUTF8Body() throws {
        let message = String(decoding: SIEMRenderer(format: .rfc5424JSON).render(Self.entry(tool: #"a"b]c\d"#)), as: UTF8.self)
        #expect(message.hasPrefix("<86>1 2026-01-05T08:00:00.000Z caretrail caretrail - TOOLCALL [caretrail@32473 seq=\"7\" hash=\"abab"))
        // Quotes, backslashes and brackets in parameter values are escaped.
        #expect(message.contains(#"tool="a\"b\]c\\d""#))
        #expect(message.contains("outcome=\"success\"] \u{FEFF}{"))
        // Severity by kind: alerts critical, failures notice.
        #expect(SIEMRenderer.severity(Self.entry(kind: "alert")) == 2)
        #expect(SIEMRenderer.severity(Self.entry(outcome: "failure")) == 5)
        // Break-the-glass at warning, found by the byte search wherever the keys sit in the body.
        let breakGlass = #"{"break_glass":{"reason":"cardiac arrest in ER"},"severity":"high","trigger":"user_request"}"#
        #expect(SIEMRenderer.severity(Self.entry(body: breakGlass)) == 4)
        #expect(SIEMRenderer.severity(Self.entry(body: #"{"break_glass":null,"severity":"highest"}"#)) == 6)
        #expect(SIEMRenderer.severity(Self.entry(body: #"{"severity":"high"}"#)) == 6)
        #expect(SIEMRenderer.severity(Self.entry(body: #"{"break_glass_x":1,"severity":"high"}"#)) == 6)
        #expect(SIEMRenderer.severity(Self.entry(body: #"{"note":""break_glass"","severity":"hig"}"#)) == 6)
    }

    @Test func anOversizedMessageSaysSoInsteadOfBeingCut() throws {
        let big = #"{"arguments":{"note":""# + String(repeating: "x", count: 5000) + #""}}"#
        let message = String(
            decoding: SIEMRenderer(format: .rfc5424JSON, maximumMessageLength: 1000).render(Self.entry(body: big)), as: UTF8.self)
        #expect(message.utf8.count < 1000)
        #expect(message.contains(#""omitted":"message body of "#))
        #expect(message.contains(#""seq":7"#))
    }

    /// A JSON line is canonical JSON with the documented field names, the stored entry whole
    /// under `caretrail.entry`: the general encoder, given the same object, writes the same bytes.
    @Test func aJSONLineIsTheCanonicalFormOfItsDocumentedFields() throws {
        for entry in [Self.entry(), Self.entry(kind: "alert", tool: #"odd "tool"\n"#, outcome: "failure")] {
            let line = SIEMRenderer(format: .jsonl).render(entry)
            let content = entry.content
            func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
            let expected: JSONValue = .object([
                "@timestamp": text(content.timestamp ?? entry.recordedAt),
                "event": .object([
                    "kind": .string(content.kind.rawValue), "action": text(content.action?.rawValue),
                    "outcome": text(content.outcome?.rawValue),
                    "severity": .number(Double(SIEMRenderer.severity(entry))), "created": .string(entry.recordedAt),
                ]),
                "user": .object(["id": .string(content.userID)]),
                "caretrail": .object([
                    "seq": .number(Double(entry.seq)), "hash": .string(entry.entryHash.hex), "tenant": .string(content.tenantID),
                    "tool": text(content.toolName), "purpose": text(content.purposeOfUse), "patient_id": text(content.patientID),
                    "conversation_id": text(content.conversationID), "trace_id": text(content.traceID), "model": .string(content.model),
                    "entry": try JSONParser.parse(entry.canonicalJSON),
                ]),
            ])
            #expect(line == Array(CanonicalJSON.string(expected).utf8) + [0x0A])
        }
    }

    /// CEF, checked by a parser written from the specification, not from our writer.
    @Test func cefEscapesPipesEqualsBackslashesAndLineBreaks() throws {
        let renderer = SIEMRenderer(format: .cef)
        let line = String(decoding: renderer.render(Self.entry(user: "a=b\\c\nd", tool: "x|y")), as: UTF8.self)
        #expect(line.hasSuffix("\n"))
        #expect(line.split(separator: "\n").count == 1)
        let (header, fields) = try #require(CEF.parse(String(line.dropLast())))
        #expect(header == ["CEF:0", "CareTrail", "CareTrail", "1.0", "x|y", "Tool call R", "2"])
        #expect(fields["suser"] == "a=b\\c\nd")
        #expect(fields["externalId"] == "7")
        #expect(fields["cs2"] == "TREAT")
        #expect(fields["cs4"] == "PAT-1")
    }
}

/// A small CEF reader following the ArcSight specification: seven `|`-separated header
/// fields (with `\|` and `\\`), then `key=value` pairs whose values may hold spaces and
/// `\=`, `\\`, `\n`, `\r`.
enum CEF {
    static func parse(_ line: String) -> (header: [String], fields: [String: String])? {
        var header: [String] = []
        var current = ""
        var index = line.startIndex
        while header.count < 7, index < line.endIndex {
            let character = line[index]
            if character == "\\", let next = line.index(index, offsetBy: 1, limitedBy: line.endIndex), next < line.endIndex {
                current.append(line[next])
                index = line.index(after: next)
                continue
            }
            if character == "|" {
                header.append(current)
                current = ""
            } else {
                current.append(character)
            }
            index = line.index(after: index)
        }
        guard header.count == 7 else { return nil }
        // Extension: a key is a word followed by an unescaped '='; its value runs to the next key.
        let rest = String(line[index...])
        var fields: [String: String] = [:]
        var key: String?
        var value = ""
        var token = ""
        var chars = Array(rest)
        var i = 0
        func finish() {
            if let key { fields[key] = value.trimmingCharacters(in: .whitespaces) }
        }
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count {
                let n = chars[i + 1]
                value.append(n == "n" ? "\n" : n == "r" ? "\r" : n)
                token = ""
                i += 2
                continue
            }
            if c == "=" {
                // The word before '=' is the next key; what came before it belongs to the previous value.
                let trimmed = String(value.dropLast(token.count))
                if key != nil { fields[key ?? ""] = trimmed.trimmingCharacters(in: .whitespaces) }
                key = token
                value = ""
                token = ""
                i += 1
                continue
            }
            value.append(c)
            token = c == " " ? "" : token + String(c)
            i += 1
        }
        finish()
        chars = []
        return (header, fields)
    }
}
