import AuditChain
import AuditCore
import Foundation
import Testing

/// Builds a valid chain of `count` entries.
func makeChain(_ count: Int) -> [StoredEntry] {
    let hasher = EntryHasher()
    var entries: [StoredEntry] = []
    var prev = ChainHash.genesis
    for seq in 1...Int64(count) {
        var content = sampleContent
        content.userID = "usr-\(seq)"
        let recordedAt = "2026-11-22T10:00:\(String(format: "%02d", seq % 60)).000Z"
        let hash = hasher.hash(seq: seq, recordedAt: recordedAt, prevHash: prev, content: content)
        entries.append(StoredEntry(seq: seq, recordedAt: recordedAt, prevHash: prev, entryHash: hash, content: content))
        prev = hash
    }
    return entries
}

/// The slow reference: a fold that recomputes everything, entry by entry.
func referenceFirstBadSeq(_ entries: [StoredEntry]) -> Int64? {
    let hasher = EntryHasher()
    var expectedSeq: Int64 = 1
    var expectedPrev = ChainHash.genesis
    for entry in entries {
        let recomputed = hasher.hash(seq: entry.seq, recordedAt: entry.recordedAt, prevHash: entry.prevHash, content: entry.content)
        if entry.seq != expectedSeq || recomputed != entry.entryHash || entry.prevHash != expectedPrev { return entry.seq }
        expectedSeq += 1
        expectedPrev = entry.entryHash
    }
    return nil
}

func links(_ entries: [StoredEntry]) -> [ChainLink] {
    var buffer: [UInt8] = []
    return entries.map {
        ChainLink(seq: $0.seq, prevHash: $0.prevHash, entryHash: $0.entryHash, hashIsValid: EntryHasher().isValid($0, buffer: &buffer))
    }
}

func diagnose(_ entries: [StoredEntry]) -> ChainProblem? {
    var verifier = ChainVerifier()
    guard let index = verifier.check(links(entries)) else { return nil }
    return ChainVerifier.diagnose(
        suspect: entries[index], before: index > 0 ? entries[index - 1] : nil,
        after: index + 1 < entries.count ? entries[index + 1] : nil
    )
}

@Suite("Chain verification")
struct ChainVerifierTests {
    @Test func intactChainPasses() {
        let chain = makeChain(20)
        #expect(diagnose(chain) == nil)
        #expect(referenceFirstBadSeq(chain) == nil)
    }

    @Test func verifierAgreesWithTheReferenceOnRandomDamage() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var chain = makeChain(12)
            let victim = Int.random(in: 0..<12, using: &generator)
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: chain[victim].content.model = "tampered"
            case 1: chain.remove(at: victim)
            case 2: chain[victim].prevHash = ChainHash(unchecked: [UInt8](repeating: 7, count: 32))
            default: if victim < 11 { chain.swapAt(victim, victim + 1) }
            }
            var verifier = ChainVerifier()
            let fast = verifier.check(links(chain)).map { chain[$0].seq }
            #expect(fast == referenceFirstBadSeq(chain))
        }
    }

    @Test func editedEntryIsPinpointed() {
        var chain = makeChain(10)
        chain[4].content.userID = "usr-999"
        #expect(diagnose(chain)?.kind == .edited)
        #expect(diagnose(chain)?.seq == 5)
    }

    @Test func gapIsReportedAsDeletion() {
        var chain = makeChain(10)
        chain.remove(at: 6)
        #expect(diagnose(chain) == ChainProblem(kind: .deleted, seq: 7, message: "entry 7 is missing (gap in the sequence)"))
    }

    @Test func firstEntryMustLinkToGenesis() {
        var chain = makeChain(3)
        chain.removeFirst()
        #expect(diagnose(chain)?.kind == .deleted)
        #expect(diagnose(chain)?.seq == 1)
    }
}
