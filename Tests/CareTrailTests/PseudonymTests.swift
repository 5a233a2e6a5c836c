import AuditKeys
import Testing

@Suite("Keyed pseudonyms")
struct PseudonymTests {
    let key = HMACPseudonymizer(keyID: "k1", secret: Array(repeating: 7, count: 32))

    @Test func normalisationMakesSpellingsOfOneValueOneToken() {
        #expect(key.pseudonym(for: "Maria Garcia") == key.pseudonym(for: "  maria \t GARCIA "))
        // Non-ASCII: NFC and NFD spellings, and case, give one token.
        #expect(key.pseudonym(for: "José García") == key.pseudonym(for: "JOSE\u{301}  GARCI\u{301}A"))
        #expect(key.pseudonym(for: "Maria Garcia") != key.pseudonym(for: "Maria Garcias"))
    }

    @Test func tokenNamesItsKeyAndHides128Bits() {
        let token = key.pseudonym(for: "572-55-3753")
        #expect(token.hasPrefix("hmac-sha256:k1:"))
        #expect(token.count == "hmac-sha256:k1:".count + 32)
        #expect(!token.contains("3753"))
        let other = HMACPseudonymizer(keyID: "k1", secret: Array(repeating: 8, count: 32))
        #expect(other.pseudonym(for: "572-55-3753") != token)
    }

    @Test(arguments: [
        ("  Maria \t GARCIA ", "maria garcia"), ("ABC\tdef\n", "abc def"), ("   ", ""),
        (" JOSÉ  García ", "josé garcía"), ("Ａ  b", "ａ b"),
    ])
    func normalisedFormIsLowerCasedAndCollapsed(value: String, expected: String) {
        #expect(HMACPseudonymizer.normalize(value) == expected)
    }
    /// Pseudonyms are remembered for recurring values: a remembered one is the one computed,
    /// from any thread, past a shard's capacity and for values too long to be kept.
    @Test func aRememberedPseudonymIsTheOneComputed() async {
        let values = (0..<20_000).map { index in
            index % 7 == 0 ? "note \(index) " + String(repeating: "x", count: 80) : "PAT-\(index % 9_000) Maria \(index % 13)"
        }
        let fresh = HMACPseudonymizer(keyID: "k1", secret: Array(repeating: 7, count: 32))
        let computed = values.map { fresh.pseudonym(for: $0) }
        let shared = HMACPseudonymizer(keyID: "k1", secret: Array(repeating: 7, count: 32))
        let rounds = await withTaskGroup(of: Bool.self) { group in
            for offset in 0..<4 {
                group.addTask {
                    values.indices.allSatisfy { index in
                        let turned = (index + offset * 5_000) % values.count
                        return shared.pseudonym(for: values[turned]) == computed[turned]
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(rounds == [true, true, true, true])
    }
}
