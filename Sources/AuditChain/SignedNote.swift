import Foundation

/// A text signed by one or more keys, in the C2SP signed-note format that Go's checksum
/// database, Sigstore and Certificate Transparency's tiled logs use for checkpoints.
///
/// The text ends in a newline; a blank line follows, then one line per signature: an em dash
/// (U+2014), a space, the key name, a space, and the base64 of the 4-byte key hash followed
/// by the signature. Each signature covers the text, final newline included.
public struct SignedNote: Sendable, Equatable {
    /// The signed text, ending in a newline.
    public var text: String
    public var signatures: [Signature]

    /// One signature line.
    public struct Signature: Sendable, Equatable {
        public var keyName: String
        /// The key hash that names which of `keyName`'s keys signed (big-endian).
        public var keyHash: UInt32
        /// The signature bytes after the key hash (for Ed25519, 64 bytes; for a
        /// cosignature, a timestamp and 64 bytes).
        public var bytes: [UInt8]

        public init(keyName: String, keyHash: UInt32, bytes: [UInt8]) {
            self.keyName = keyName
            self.keyHash = keyHash
            self.bytes = bytes
        }

        /// The line as the note carries it, with its newline.
        public var line: String {
            var raw = withUnsafeBytes(of: keyHash.bigEndian) { [UInt8]($0) }
            raw.append(contentsOf: bytes)
            return "\u{2014} \(keyName) \(Data(raw).base64EncodedString())\n"
        }
    }

    /// Why a note was refused.
    public enum Failure: String, Sendable, Error, Equatable {
        /// Not the format: no blank line before the signatures, a line that is not a
        /// signature, a control character, bad base64, a note too large.
        case malformed = "malformed_note"
        /// No signature by the key that was asked for.
        case unsignedByKey = "no_signature_by_key"
        /// A signature by that key that does not verify.
        case badSignature = "bad_signature"
    }

    /// The largest note read: checkpoints are a few hundred bytes.
    public static let maximumSize = 1 << 16
    /// The most signature lines read, as Go's implementation.
    public static let maximumSignatures = 100

    public init(text: String, signatures: [Signature] = []) {
        self.text = text
        self.signatures = signatures
    }

    /// The note's bytes: text, blank line, signature lines.
    public var serialized: String {
        text + "\n" + signatures.map(\.line).joined()
    }

    /// Parses a note strictly: valid UTF-8, no control character but newline, a text that
    /// ends in a newline, then a blank line and at least one well-formed signature line.
    public init(parsing bytes: [UInt8]) throws(Failure) {
        guard bytes.count <= Self.maximumSize, let whole = String(validating: bytes, as: UTF8.self) else { throw .malformed }
        guard !whole.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) else { throw .malformed }
        // The signatures follow the last blank line.
        guard let split = whole.range(of: "\n\n", options: .backwards) else { throw .malformed }
        let text = String(whole[whole.startIndex..<whole.index(after: split.lowerBound)])
        let block = whole[split.upperBound...]
        guard block.hasSuffix("\n") else { throw .malformed }
        var signatures: [Signature] = []
        for line in block.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            guard signatures.count < Self.maximumSignatures else { throw .malformed }
            signatures.append(try Self.signature(line))
        }
        guard !signatures.isEmpty else { throw .malformed }
        self.init(text: text, signatures: signatures)
    }

    private static func signature(_ line: Substring) throws(Failure) -> Signature {
        guard line.hasPrefix("\u{2014} ") else { throw .malformed }
        let rest = line.dropFirst(2)
        let parts = rest.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, NoteVerifierKey.isValidName(parts[0]),
            let raw = Data(base64Encoded: String(parts[1])), raw.count > 4
        else { throw .malformed }
        let bytes = [UInt8](raw)
        let hash = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return Signature(keyName: String(parts[0]), keyHash: hash, bytes: Array(bytes[4...]))
    }

    /// Checks the note's signature by `key`: the first line with the key's name and hash
    /// decides, as in Go's implementation.
    public func verify(with key: NoteVerifierKey) throws(Failure) {
        guard let signature = signatures.first(where: { $0.keyName == key.name && $0.keyHash == key.keyHash }) else {
            throw .unsignedByKey
        }
        guard key.isValidSignature(signature.bytes, for: Array(text.utf8)) else { throw .badSignature }
    }
}
