import AuditChain
import AuditCore
import AuditStorage
import Crypto
import PropertyBased
import Testing

@testable import AuditSQLite

@Suite("Report records read straight from canonical bytes")
struct CanonicalRecordTests {
    static let texts = [
        "", "plain", "quote \" back \\ slash", "tab\tline\n\u{1}", "Zoë-医生", "ETREAT", "E", String(repeating: "y", count: 200),
    ]

    /// An entry of every shape a record distinguishes: kinds, queries naming patients (some
    /// twice), emergency purposes with and without `break_glass`, roles, escapes and nulls.
    static func entry(_ seed: Int) -> StoredEntry {
        func text(_ salt: Int) -> String { texts[(seed / (salt + 1) + salt) % texts.count] }
        var content = mixedEntry(seed % 500, spacingMS: 997)
        content.kind = [.toolCall, .toolCall, .toolCall, .alert, .review, .agentRequest][seed % 6]
        content.userID = text(1)
        content.tenantID = text(2)
        if seed % 4 == 0 { content.timestamp = nil }
        if seed % 5 == 0 { content.conversationID = nil }
        content.purposeOfUse = ["TREAT", "ETREAT", "BTG", nil, "ERTREAT"][seed % 5]
        if seed % 7 == 0 {
            content.action = "E"
            content.patientID = seed % 2 == 0 ? "PAT-1" : nil
            content.patientIDs = CanonicalJSON.string(.array([.string("PAT-1"), .string(text(3)), .string("PAT-1")]))
        }
        var body: [String: JSONValue] = ["trigger": .string(text(4))]
        if seed % 3 != 0 { body["user_role"] = seed % 9 == 1 ? .number(7) : .string(text(5)) }
        switch seed % 4 {
        case 0: body["break_glass"] = .object(["reason": .string(text(6))])
        case 1: body["break_glass"] = .object(["reason": .number(Double(seed % 90))])
        case 2: body["break_glass"] = .null
        default: break
        }
        content.body = CanonicalJSON.string(.object(body))
        let prev = ChainHash(unchecked: Array(SHA256.hash(data: Array(String(seed).utf8))))
        let seq = Int64(seed % 9_000 + 1)
        let hash = EntryHasher().hash(seq: seq, recordedAt: "2026-12-03T10:00:00.123Z", prevHash: prev, content: content)
        return StoredEntry(seq: seq, recordedAt: "2026-12-03T10:00:00.123Z", prevHash: prev, entryHash: hash, content: content)
    }

    @Test func theRecordIsByteForByteTheOneTheDecodedEntryMakes() async {
        await propertyCheck(count: 1_000, input: Gen.int(in: 0...1_000_000)) { seed in
            let stored = Self.entry(seed)
            let bytes = EntryHasher().canonicalBytes(
                seq: stored.seq, recordedAt: stored.recordedAt, prevHash: stored.prevHash, content: stored.content)
            var read = CanonicalRecord()
            bytes.withUnsafeBufferPointer { read.read($0) }
            #expect(read.seq == stored.seq && read.prevHash == stored.prevHash)
            var patients = Set<String>()
            if let patient = stored.content.patientID { patients.insert(patient) }
            if stored.content.action == .execute { patients.formUnion(stored.content.patientIDList) }
            #expect(Set(read.patients) == patients && read.patients.count == patients.count)
            var expected: [UInt8] = []
            if !patients.isEmpty { AccessRecord.append(AccessRow(reporting: stored), to: &expected) }
            #expect(read.record == expected, "seed \(seed)")
        }
    }
}
