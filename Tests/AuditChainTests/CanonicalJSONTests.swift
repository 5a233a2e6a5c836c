import AuditChain
import AuditCore
import AuditTestSupport
import Foundation
import Testing

@Suite("RFC 8785 canonical JSON")
struct CanonicalJSONTests {
    /// RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
    static let appendixB: [(String, String)] = [
        ("0000000000000000", "0"), ("8000000000000000", "0"), ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"), ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"), ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"), ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"), ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"), ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"), ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"), ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"), ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"), ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"), ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ]

    static func double(hex: String) -> Double {
        Double(bitPattern: UInt64(hex, radix: 16) ?? 0)
    }

    @Test(arguments: appendixB)
    func numbersMatchAppendixB(hex: String, expected: String) {
        #expect(CanonicalJSON.string(.number(Self.double(hex: hex))) == expected)
    }

    @Test func numbersMatchECMAScriptOnThousandsOfDoubles() throws {
        let data = try Data(contentsOf: FixturePath.url("jcs/es6-numbers.json"))
        let fixture = try JSONParser.parse([UInt8](data))
        let cases = fixture["cases"]?.arrayValue ?? []
        #expect(cases.count > 3000)
        var mismatches = 0
        for pair in cases {
            let hex = pair.arrayValue?[0].stringValue ?? ""
            let expected = pair.arrayValue?[1].stringValue ?? ""
            if CanonicalJSON.string(.number(Self.double(hex: hex))) != expected { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    /// RFC 8785 §3.2.2 example input and its canonical form.
    @Test func rfcExampleObjectIsCanonicalised() throws {
        let input = #"""
            {
              "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """#
        let expected =
            #"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        #expect(CanonicalJSON.string(try JSONParser.parse(input)) == expected)
    }

    /// RFC 8785 §3.2.3: members sorted by UTF-16 code units, not by code points or bytes.
    @Test func membersAreSortedByUTF16CodeUnits() throws {
        let input =
            #"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#
        let canonical = CanonicalJSON.string(try JSONParser.parse(input))
        let order = ["Carriage Return", "One", "Control", "Latin Small", "Euro Sign", "Emoji", "Hebrew"]
        let positions = order.map { canonical.range(of: $0)?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil })
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $0! < $1! })
    }

    @Test func nonFiniteNumbersBecomeNullAsInECMAScript() {
        #expect(CanonicalJSON.string([.number(.nan), .number(.infinity), .number(-.infinity)]) == "[null,null,null]")
    }

    @Test func controlCharactersUseShortOrLowerCaseHexEscapes() {
        #expect(CanonicalJSON.string("a\u{08}\u{0C}\u{1F}\u{7F}\u{2028}") == "\"a\\b\\f\\u001f\u{7F}\u{2028}\"")
    }
}
