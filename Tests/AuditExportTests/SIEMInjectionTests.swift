import AuditChain
import AuditCore
import Foundation
import Testing

@testable import AuditExport

@Suite("SIEM injection")
struct SIEMInjectionTests {
    static let forgers = [
        "get_record\n<86>1 2026-01-05T08:00:00.000Z caretrail caretrail - CHECKPOINT [caretrail@32473 seq=\"1\"]",
        "x\r\nCEF:0|CareTrail|CareTrail|1.0|checkpoint|Log head checkpoint|1|externalId=1", "a\u{2028}b", "a\u{85}b",
        "tab\there", "nul\u{0}x", "esc\u{1B}[2J", "del\u{7F}",
    ]

    /// A stored value with a line break or other control character, in a header or a field,
    /// never ends a message: every format writes one line per entry.
    @Test(arguments: forgers)
    func noStoredValueEndsAMessage(value: String) throws {
        for format in SIEMFormat.allCases {
            let entry = SIEMFormatTests.entry(user: value, tool: value)
            var message = SIEMRenderer(format: format).render(entry)
            if format == .cef || format == .jsonl {
                #expect(message.last == 0x0A)
                message.removeLast()
            }
            #expect(!message.contains(0x0A) && !message.contains(0x0D), "\(format.rawValue)")
            // CEF and syslog headers (up to the BOM that starts a syslog body) carry no control
            // character at all; bodies are JSON, which escapes what it must.
            var header = String(decoding: message, as: UTF8.self)
            if let bom = header.firstIndex(of: "\u{FEFF}") { header = String(header[..<bom]) }
            if format != .jsonl {
                #expect(!header.unicodeScalars.contains { SIEMRenderer.isControl($0) }, "\(format.rawValue) holds a control character")
            }
        }
    }

    @Test func cefHeadersAndValuesEscapeLineBreaks() {
        #expect(SIEMRenderer.cefHeader("a\nb|c") == #"a\nb\|c"#)
        #expect(SIEMRenderer.cefValue("a\r\nb=c") == #"a\r\nb\=c"#)
        #expect(SIEMRenderer.cefHeader("a\u{1}b") == "a\u{FFFD}b")
    }
}
