import PropertyBased
import Testing

@testable import AuditCore

@Suite("Text scrubbed over its bytes or its scalars")
struct TextScrubberTests {
    /// Pieces that make or break every pattern: dates, SSNs, phones, e-mail addresses, long
    /// numbers, capitalised names, common words, separators and joiners.
    static let pieces = [
        "1994-04-10", "10/04/94", "04.10.1994", "572-55-3753", "572 55 3753", "+1 (555) 123-4567", "555.123.4567",
        "+44 20 7946 0958", "maria.garcia@example.org", "a@b.co", "@", "x@", "123456789012", "2026", "PAT-004943",
        "Maria Garcia", "O'Neil-Smith", "Olga", "garcia", "Find", "Dr", "the", " ", "  ", "-", ".", "/", ",", ";", "(",
        ")", "+", "_", "'", "usr-0202", "10.0.202.3", "ClinicalAgent/1.4", "x", "Zz9",
    ]

    static func text(_ picks: [Int]) -> String { picks.map { pieces[$0 % pieces.count] }.joined() }

    static let scrubber = TextScrubber(
        pseudonymizer: TestPseudonymizer(), knownValues: ["Olga Garcia", "Olga", "Garcia", "1994-04-10"],
        commonWords: Set(SanitizerPolicy.default.commonCapitalisedWords)
    )

    @Test func asciiTextGivesTheSameFindingsThroughItsBytes() async {
        let pick = Gen.int(in: 0...1_000)
        await propertyCheck(count: 2_000, input: pick, pick, pick, pick, pick, pick) { a, b, c, d, e, f in
            let text = Self.text([a, b, c, d, e, f])
            for names in [false, true] {
                let scalars = Self.scrubber.findings(in: Array(text.unicodeScalars), names: names)
                var utf8 = text
                let bytes = utf8.withUTF8 { Self.scrubber.findings(in: ASCIIText(bytes: $0), names: names) }
                #expect(bytes == scalars)
                // And the scrubbed text is the text with each finding replaced.
                var expected = ""
                var position = text.startIndex
                let offsets = text.utf8
                for span in scalars {
                    let lower = offsets.index(offsets.startIndex, offsetBy: span.lowerBound)
                    let upper = offsets.index(offsets.startIndex, offsetBy: span.upperBound)
                    expected += text[position..<lower] + TestPseudonymizer().pseudonym(for: String(text[lower..<upper]))
                    position = upper
                }
                expected += text[position...]
                #expect(Self.scrubber.scrub(text, names: names) == expected)
            }
        }
    }

    @Test func textThatIsNotASCIIIsStillScrubbed() {
        let scrubbed = Self.scrubber.scrub("Zoë called about olga garcia, 572-55-3753", names: false)
        #expect(!scrubbed.contains("olga garcia") && !scrubbed.contains("572-55-3753"))
        #expect(scrubbed.hasPrefix("Zoë called about hmac-sha256:"))
    }
}
