import AuditChain
import AuditCore
@testable import AuditExport
import Foundation
import Testing

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
            let text = String(decoding: message, as: UTF8.self)
            #expect(!message.contains(0x0A) && !message.contains(0x0D), "\(format.rawValue)")
            #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\t" || $0.value == 0x2028 || $0.value == 0x85 || $0.value == 0x7F }
                    || format == .jsonl, "\(format.rawValue) holds a control character")
        }
    }

    @Test func cefHeadersAndValuesEscapeLineBreaks() {
        #expect(SIEMRenderer.cefHeader("a\nb|c") == #"a\nb\|c"#)
        #expect(SIEMRenderer.cefValue("a\r\nb=c") == #"a\r\nb\=c"#)
        #expect(SIEMRenderer.cefHeader("a\u{1}b") == "a\u{FFFD}b")
    }
}
