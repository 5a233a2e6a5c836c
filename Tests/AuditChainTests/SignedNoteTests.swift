import AuditChain
import Foundation
import Testing

@Suite struct SignedNoteTests {
    /// The known-answer vector of Go's `golang.org/x/mod/sumdb/note` tests: its private key
    /// (`PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01 ‖ seed)>`), text and signed note.
    static let goSeedBase64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let goVerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let goText = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let goNote =
        goText
        + "\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

    static func goSigner() throws -> NoteSigner {
        let raw = try #require(Data(base64Encoded: goSeedBase64))
        return try #require(NoteSigner(name: "PeterNeumann", seed: Array(raw.dropFirst())))
    }

    @Test func theGoKnownAnswerVectorIsReproduced() throws {
        let signer = try Self.goSigner()
        #expect(signer.verifierKey.description == Self.goVerifierKey)
        let note = try signer.sign(Self.goText)
        // Ed25519 is deterministic in BoringSSL, which swift-crypto uses off Apple platforms;
        // CryptoKit randomises it, so there the note is checked by verifying it.
        #if !canImport(Darwin)
            #expect(note.serialized == Self.goNote)
        #endif
        try note.verify(with: NoteVerifierKey(parsing: Self.goVerifierKey))
        let parsed = try SignedNote(parsing: Array(Self.goNote.utf8))
        #expect(parsed.text == Self.goText)
        try parsed.verify(with: NoteVerifierKey(parsing: Self.goVerifierKey))
    }

    @Test func aVerifierKeyWithAnyCharacterChangedIsRefused() throws {
        let bytes = Array(Self.goVerifierKey.utf8)
        for index in bytes.indices {
            var changed = bytes
            changed[index] &+= 1
            #expect(throws: NoteVerifierKey.Failure.self) { try NoteVerifierKey(parsing: String(decoding: changed, as: UTF8.self)) }
        }
        #expect(throws: NoteVerifierKey.Failure.unknownAlgorithm) {
            try NoteVerifierKey(parsing: "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        }
    }

    @Test func malformedNotesAreRefused() {
        let signature =
            "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        let bad = [
            Self.goText, Self.goText + "\n", Self.goText + "\n" + signature.dropLast(), "\u{01}" + Self.goText + "\n" + signature,
            Self.goText
                + "\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
            Self.goText + "\n" + signature + "Unexpected line.\n", Self.goText + "\n" + String(repeating: signature, count: 101),
        ]
        for note in bad {
            #expect(throws: SignedNote.Failure.malformed) { try SignedNote(parsing: Array(note.utf8)) }
        }
    }

    @Test func aChangedTextOrAnotherKeyIsRefused() throws {
        let signer = try Self.goSigner()
        var note = try signer.sign(Self.goText)
        let key = signer.verifierKey
        let other = try #require(NoteSigner.generate(name: "PeterNeumann"))
        #expect(throws: SignedNote.Failure.unsignedByKey) { try note.verify(with: other.verifierKey) }
        note.text = Self.goText.replacingOccurrences(of: "cryptography", with: "cryptographie")
        #expect(throws: SignedNote.Failure.badSignature) { try note.verify(with: key) }
    }

    @Test func aCheckpointRoundTripsThroughItsSignedNote() throws {
        let root = MerkleTree.leafHash(ChainHash.genesis)
        let checkpoint = Checkpoint(origin: "caretrail.example/log", size: 12345, root: root)
        let signer = try #require(NoteSigner.generate(name: "caretrail.example/log"))
        var note = try signer.sign(checkpoint.text)
        note.signatures.append(try signer.cosign(checkpoint.text, time: 1_764_000_000))
        let parsed = try SignedNote(parsing: Array(note.serialized.utf8))
        try parsed.verify(with: signer.verifierKey)
        #expect(try Checkpoint(text: parsed.text) == checkpoint)
        #expect(parsed.signatures.count == 2)
        for text in ["log\n12\n", "log\n012\nAAAA\n", "log\n-1\n\(Data(root.bytes).base64EncodedString())\n", "\n1\nAAAA\n"] {
            #expect(throws: Checkpoint.Failure.malformed) { try Checkpoint(text: text) }
        }
    }
}
