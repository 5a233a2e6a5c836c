import AuditChain
import AuditCore
import Foundation
import PropertyBased
import Testing

/// Generated damage to signed notes and bundles: whatever the bytes, reading them never traps,
/// and nothing altered in what they prove is ever accepted.
@Suite struct TransparencyMutationTests {
    static let signer = NoteSigner(name: "hospital.example/audit", seed: Array(repeating: 7, count: 32))

    /// A bundle of entries 2, 5 and 9 of a chain of 12, under a signed checkpoint of size 12.
    static func bundle() throws -> LogBundle {
        let signer = try #require(Self.signer)
        let chain = makeChain(12)
        let hasher = EntryHasher()
        let canonical = chain.map {
            hasher.canonicalBytes(seq: $0.seq, recordedAt: $0.recordedAt, prevHash: $0.prevHash, content: $0.content)
        }
        var source = InMemoryMerkleLeaves(leaves: chain.map { MerkleTree.leafHash($0.entryHash) })
        let root = MerkleTree.root(size: 12, from: &source)
        let checkpoint = Checkpoint(origin: signer.name, size: 12, root: root)
        let entries = try [2, 5, 9].map { seq in
            let path = try #require(MerkleTree.inclusionProof(index: Int64(seq - 1), size: 12, from: &source))
            return (
                canonical: canonical[seq - 1],
                proof: InclusionProof(leafIndex: Int64(seq - 1), treeSize: 12, leafHash: source.leaves[seq - 1], hashes: path, root: root)
            )
        }
        return LogBundle(
            note: try signer.sign(checkpoint.text), checkpoint: checkpoint, verifierKey: signer.verifierKey, from: nil, to: nil,
            entries: entries)
    }

    /// One generated change: flip a byte, drop one, or insert one, at a generated place.
    static func mutate(_ bytes: [UInt8], place: Int, kind: Int, value: UInt8) -> [UInt8] {
        var out = bytes
        let index = place % max(1, out.count)
        switch kind % 3 {
        case 0: out[index] = out[index] == value ? value &+ 1 : value
        case 1: out.remove(at: index)
        default: out.insert(value, at: index)
        }
        return out
    }

    @Test func aDamagedBundleIsRefusedOrProvesTheSameEntries() async throws {
        let bundle = try Self.bundle()
        let bytes = bundle.serialized
        #expect(try LogBundle.verified(bytes, key: bundle.verifierKey) == bundle)
        let original = bundle.entries.map(\.canonical)
        await propertyCheck(count: 3_000, input: Gen.int(in: 0...Int(Int32.max)), Gen.int(in: 0...2), Gen.int(in: 0...255)) {
            place, kind, value in
            let damaged = Self.mutate(bytes, place: place, kind: kind, value: UInt8(value))
            if let accepted = try? LogBundle.verified(damaged, key: bundle.verifierKey) {
                #expect(accepted.entries.map(\.canonical) == original)
                #expect(accepted.checkpoint == bundle.checkpoint)
            }
        }
    }

    @Test func aDamagedNoteNeverVerifiesAnotherText() async throws {
        let signer = try #require(Self.signer)
        let checkpoint = Checkpoint(origin: signer.name, size: 42, root: MerkleTree.emptyRoot)
        var note = try signer.sign(checkpoint.text)
        note.signatures.append(try signer.cosign(checkpoint.text, time: 1_764_000_000))
        let bytes = Array(note.serialized.utf8)
        await propertyCheck(count: 3_000, input: Gen.int(in: 0...Int(Int32.max)), Gen.int(in: 0...2), Gen.int(in: 0...255)) {
            place, kind, value in
            let damaged = Self.mutate(bytes, place: place, kind: kind, value: UInt8(value))
            guard let parsed = try? SignedNote(parsing: damaged) else { return }
            if (try? parsed.verify(with: signer.verifierKey)) != nil {
                #expect(parsed.text == checkpoint.text)
            }
            _ = try? Checkpoint(text: parsed.text)
            _ = try? NoteVerifierKey(parsing: String(decoding: damaged, as: UTF8.self))
        }
    }
}
