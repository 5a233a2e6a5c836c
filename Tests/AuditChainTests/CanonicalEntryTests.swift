import AuditChain
import AuditCore
import Crypto
import Foundation
import PropertyBased
import Testing

@Suite("Entries read back from their canonical bytes")
struct CanonicalEntryTests {
    /// Texts that stress the reader: escapes, control characters, non-ASCII, quotes and
    /// backslashes, and text that looks like the members around it.
    static let texts = [
        "", "plain", "quote \" back \\ slash", "tab\tnew\nline\u{1}\u{1F}", "Zoë-医生-🩺", #"","seq":7,"prev_hash":""#,
        "{\"user_id\":\"x\"}", "\u{7F}\u{2028}", String(repeating: "x", count: 300),
    ]

    static func entry(_ seed: Int) -> (StoredEntry, [UInt8]) {
        func text(_ salt: Int) -> String { texts[(seed / (salt + 1) + salt) % texts.count] }
        func optional(_ salt: Int) -> String? { (seed / (salt + 3)) % 4 == 0 ? nil : text(salt) }
        let body = CanonicalJSON.string(
            .object([
                "note": .string(text(1)), "nested": .object(["list": .array([.number(Double(seed % 1000) / 8), .null, .bool(true)])]),
                text(2): .string(text(3)),
            ]))
        let patients = seed % 3 == 0 ? CanonicalJSON.string(.array([.string(text(4)), .string(text(5))])) : nil
        let content = EncodedEntry(
            kind: RecordKind.allCases[seed % RecordKind.allCases.count], tenantID: text(6), userID: text(7), model: text(8),
            toolName: optional(9), action: seed % 5 == 0 ? nil : ToolAction.allCases[seed % ToolAction.allCases.count],
            patientID: optional(10), patientIDs: patients, purposeOfUse: optional(11), outcome: seed % 2 == 0 ? .success : nil,
            conversationID: optional(12), traceID: optional(13), timestamp: optional(14), keyID: text(15), body: body
        )
        let prev = ChainHash(unchecked: Array(SHA256.hash(data: Array(String(seed).utf8))))
        let seq = Int64(seed % 100_000 + 1)
        let recordedAt = "2026-12-03T10:00:00.\(String(format: "%03d", seed % 1000))Z"
        let hasher = EntryHasher()
        let hash = hasher.hash(seq: seq, recordedAt: recordedAt, prevHash: prev, content: content)
        let bytes = hasher.canonicalBytes(seq: seq, recordedAt: recordedAt, prevHash: prev, content: content)
        return (StoredEntry(seq: seq, recordedAt: recordedAt, prevHash: prev, entryHash: hash, content: content), bytes)
    }

    @Test func everyFieldComesBackExactlyAsItWasHashed() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...1_000_000)) { seed in
            let (stored, bytes) = Self.entry(seed)
            let read = bytes.withUnsafeBufferPointer { CanonicalEntry.decodeLinked($0, seq: stored.seq, entryHash: stored.entryHash) }
            #expect(read.entry == stored)
            #expect(read.linkedSeq == stored.seq)
            #expect(bytes.withUnsafeBufferPointer { CanonicalEntry.hash($0) } == stored.entryHash)
            let link = bytes.withUnsafeBufferPointer { CanonicalEntry.link($0) }
            #expect(link.seq == stored.seq && link.prevHash == stored.prevHash)
            #expect(bytes.withUnsafeBufferPointer { CanonicalEntry.text("recorded_at", in: $0) } == stored.recordedAt)
        }
    }

    /// Read at another sequence number (a row moved), the entry no longer re-hashes.
    @Test func anEntryReadAtAnotherSequenceNumberDoesNotRehash() {
        let (stored, bytes) = Self.entry(42)
        let moved = CanonicalEntry.decode(bytes, seq: stored.seq + 1, entryHash: stored.entryHash)
        var buffer: [UInt8] = []
        #expect(!EntryHasher().isValid(moved, buffer: &buffer))
        #expect(EntryHasher().isValid(CanonicalEntry.decode(bytes, seq: stored.seq, entryHash: stored.entryHash), buffer: &buffer))
    }

    /// Damaged bytes still give an entry, whose hash does not match, rather than a crash.
    @Test(arguments: ["", "{", "not json", #"{"seq":"x","prev_hash":"zz"}"#, "[1,2]", "{\"body\":"])
    func damagedBytesGiveAnEntryThatDoesNotVerify(text: String) {
        let bytes = Array(text.utf8)
        let entry = CanonicalEntry.decode(bytes, seq: 1, entryHash: .genesis)
        var buffer: [UInt8] = []
        #expect(!EntryHasher().isValid(entry, buffer: &buffer))
        #expect(bytes.withUnsafeBufferPointer { CanonicalEntry.link($0) }.seq == nil)
    }
}
