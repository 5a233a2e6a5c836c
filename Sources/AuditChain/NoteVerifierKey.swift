import Crypto
import Foundation

/// An Ed25519 public key in the signed-note verifier-key form,
/// `<name>+<key hash, 8 hex digits>+<base64(0x01 ‖ public key)>`: the one line an auditor
/// needs to check a checkpoint or a bundle.
public struct NoteVerifierKey: Sendable, Equatable, CustomStringConvertible {
    /// The signature type byte of Ed25519 in signed notes.
    static let ed25519Type: UInt8 = 0x01
    /// The signature type byte of a timestamped Ed25519 cosignature (C2SP tlog-cosignature).
    static let cosignatureType: UInt8 = 0x04

    public let name: String
    public let keyHash: UInt32
    /// The 32 bytes of the Ed25519 public key.
    public let publicKey: [UInt8]

    /// Why a verifier key was refused.
    public enum Failure: String, Sendable, Error, Equatable {
        case malformed = "malformed_key"
        /// The key hash does not match the name and key.
        case keyHashMismatch = "key_hash_mismatch"
        /// Not an Ed25519 key.
        case unknownAlgorithm = "unknown_algorithm"
    }

    public init(name: String, publicKey: [UInt8]) {
        self.name = name
        self.publicKey = publicKey
        self.keyHash = Self.keyHash(name: name, type: Self.ed25519Type, publicKey: publicKey)
    }

    /// Parses the verifier-key line (surrounding whitespace ignored).
    public init(parsing line: String) throws(Failure) {
        // The name and hash hold no plus sign; the base64 key may.
        let parts = line.trimmingCharacters(in: .whitespacesAndNewlines).split(
            separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, Self.isValidName(parts[0]), parts[1].count == 8, let hash = UInt32(parts[1], radix: 16),
            let raw = Data(base64Encoded: String(parts[2]))
        else { throw .malformed }
        let bytes = [UInt8](raw)
        guard bytes.first == Self.ed25519Type else { throw .unknownAlgorithm }
        guard bytes.count == 33 else { throw .malformed }
        self.init(name: String(parts[0]), publicKey: Array(bytes[1...]))
        guard keyHash == hash else { throw .keyHashMismatch }
    }

    /// The line to publish.
    public var description: String {
        "\(name)+\(Self.hex(keyHash))+\(Data([Self.ed25519Type] + publicKey).base64EncodedString())"
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == 64, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    /// A key name: not empty, no space, no plus sign, no control character.
    static func isValidName(_ name: Substring) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0 == "+" || $0.properties.isWhitespace || $0.value < 0x20 }
    }

    /// The first four bytes of SHA-256(name ‖ 0x0A ‖ type ‖ public key), big-endian.
    static func keyHash(name: String, type: UInt8, publicKey: [UInt8]) -> UInt32 {
        var input = Array(name.utf8)
        input.append(0x0A)
        input.append(type)
        input.append(contentsOf: publicKey)
        return SHA256.hash(data: input).prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// An Ed25519 private key that signs notes under a name.
public struct NoteSigner: Sendable {
    public let name: String
    /// The key's 32-byte seed, kept rather than swift-crypto's key (which is not `Sendable`).
    public let seed: [UInt8]
    public let verifierKey: NoteVerifierKey

    /// A signer from the key's 32-byte seed; `nil` for another length or a bad name.
    public init?(name: String, seed: [UInt8]) {
        guard seed.count == 32, NoteVerifierKey.isValidName(Substring(name)),
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        else { return nil }
        self.name = name
        self.seed = seed
        self.verifierKey = NoteVerifierKey(name: name, publicKey: [UInt8](key.publicKey.rawRepresentation))
    }

    private var key: Curve25519.Signing.PrivateKey {
        get throws { try Curve25519.Signing.PrivateKey(rawRepresentation: seed) }
    }

    /// A new random key.
    public static func generate(name: String) -> NoteSigner? {
        NoteSigner(name: name, seed: [UInt8](Curve25519.Signing.PrivateKey().rawRepresentation))
    }

    /// Signs `text` (which must end in a newline and hold no blank line) as a note.
    public func sign(_ text: String) throws -> SignedNote {
        let signature = try key.signature(for: Array(text.utf8))
        return SignedNote(
            text: text, signatures: [SignedNote.Signature(keyName: name, keyHash: verifierKey.keyHash, bytes: [UInt8](signature))])
    }

    /// A timestamped cosignature of a checkpoint (C2SP tlog-cosignature/v1): signs
    /// `cosignature/v1\ntime <seconds>\n` followed by the checkpoint's text, and carries the
    /// time (8 bytes, big-endian) before the signature, so a reader learns how fresh the
    /// checkpoint is.
    public func cosign(_ text: String, time seconds: UInt64) throws -> SignedNote.Signature {
        let message = Array("cosignature/v1\ntime \(seconds)\n\(text)".utf8)
        let signature = try key.signature(for: message)
        let hash = NoteVerifierKey.keyHash(name: name, type: NoteVerifierKey.cosignatureType, publicKey: verifierKey.publicKey)
        let bytes = withUnsafeBytes(of: seconds.bigEndian) { [UInt8]($0) } + [UInt8](signature)
        return SignedNote.Signature(keyName: name, keyHash: hash, bytes: bytes)
    }
}
