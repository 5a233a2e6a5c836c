import AuditChain
import AuditCore
import Crypto
import Testing

let sampleContent = EncodedEntry(
    kind: "tool_call", tenantID: "hospital-1", userID: "usr-1", model: "gpt-4.1", toolName: "search_patients",
    action: "E", patientID: nil, patientIDs: #"["PAT-1","PAT-2"]"#, purposeOfUse: "TREAT", outcome: "success",
    conversationID: "conv-1", traceID: "tr-1", timestamp: "2026-01-05T08:00:01.376Z", keyID: "k1",
    body: #"{"arguments":{"q":"x\"y"},"duration_ms":12.5,"trigger":"user_request"}"#
)

/// The slow reference: build the entry as a JSON object of every column and canonicalise it
/// with the general encoder, as a third party would with any RFC 8785 library.
func referenceBytes(seq: Int64, recordedAt: String, prev: ChainHash, _ e: EncodedEntry) throws -> [UInt8] {
    func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
    let object: [String: JSONValue] = [
        "action": text(e.action?.rawValue), "body": try JSONParser.parse(e.body), "conversation_id": text(e.conversationID),
        "key_id": text(e.keyID), "kind": text(e.kind.rawValue), "model": text(e.model), "outcome": text(e.outcome?.rawValue),
        "patient_id": text(e.patientID), "patient_ids": try e.patientIDs.map { try JSONParser.parse($0) } ?? .null,
        "prev_hash": .string(prev.hex), "purpose_of_use": text(e.purposeOfUse), "recorded_at": .string(recordedAt),
        "seq": .number(Double(seq)), "tenant_id": text(e.tenantID), "timestamp": text(e.timestamp),
        "tool_name": text(e.toolName), "trace_id": text(e.traceID), "user_id": text(e.userID),
    ]
    return CanonicalJSON.encode(.object(object))
}

@Suite("Entry hashing recipe")
struct EntryHasherTests {
    let hasher = EntryHasher()
    let prev = ChainHash(hex: String(repeating: "ab", count: 32))!

    @Test func canonicalBytesEqualTheGeneralEncodersOutput() throws {
        let fast = hasher.canonicalBytes(seq: 42, recordedAt: "2026-11-22T10:00:00.000Z", prevHash: prev, content: sampleContent)
        let slow = try referenceBytes(seq: 42, recordedAt: "2026-11-22T10:00:00.000Z", prev: prev, sampleContent)
        #expect(fast == slow)
    }

    @Test func hashIsSHA256OfTheCanonicalBytes() throws {
        let bytes = try referenceBytes(seq: 1, recordedAt: "2026-11-22T10:00:00.000Z", prev: .genesis, sampleContent)
        let expected = ChainHash(unchecked: Array(SHA256.hash(data: bytes)))
        #expect(hasher.hash(seq: 1, recordedAt: "2026-11-22T10:00:00.000Z", prevHash: .genesis, content: sampleContent) == expected)
    }

    @Test func hashedColumnsAreInCanonicalOrder() {
        let names = EntryHasher.hashedColumns.map(\.name)
        #expect(names == names.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) })
        #expect(Set(names).count == names.count)
    }

    @Test func everyColumnChangesTheHash() {
        let base = hasher.hash(seq: 5, recordedAt: "r", prevHash: prev, content: sampleContent)
        var variants: [EncodedEntry] = []
        for index in 0..<15 {
            var e = sampleContent
            switch index {
            case 0: e.kind = "agent_request"
            case 1: e.tenantID = "hospital-2"
            case 2: e.userID = "usr-2"
            case 3: e.model = "m2"
            case 4: e.toolName = nil
            case 5: e.action = "R"
            case 6: e.patientID = "PAT-9"
            case 7: e.patientIDs = #"["PAT-1"]"#
            case 8: e.purposeOfUse = "HPAYMT"
            case 9: e.outcome = "failure"
            case 10: e.conversationID = "conv-2"
            case 11: e.traceID = nil
            case 12: e.timestamp = "2026-01-05T08:00:01.377Z"
            case 13: e.keyID = "k2"
            default: e.body = #"{"trigger":"retry"}"#
            }
            variants.append(e)
        }
        for variant in variants {
            #expect(hasher.hash(seq: 5, recordedAt: "r", prevHash: prev, content: variant) != base)
        }
        #expect(hasher.hash(seq: 6, recordedAt: "r", prevHash: prev, content: sampleContent) != base)
        #expect(hasher.hash(seq: 5, recordedAt: "s", prevHash: prev, content: sampleContent) != base)
        #expect(hasher.hash(seq: 5, recordedAt: "r", prevHash: .genesis, content: sampleContent) != base)
    }

    @Test func headTextRoundTrips() {
        let head = ChainHead(seq: 12, hash: prev)
        #expect(ChainHead(head.description) == head)
        #expect(ChainHead("12:xyz") == nil)
        #expect(ChainHead("0:\(prev.hex)") == nil)
    }
}
