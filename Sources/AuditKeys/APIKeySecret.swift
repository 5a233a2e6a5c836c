import Crypto
import Foundation

/// The secrets of the HTTP server's API keys: `ctk_<id>_<43 characters of base64url>`, 256
/// random bits. Only SHA-256 of the secret is stored; the id inside lets the server find the
/// key without a search.
public enum APIKeySecret {
    /// A new key id and its secret.
    public static func generate() -> (id: String, secret: String) {
        var generator = SystemRandomNumberGenerator()
        let idBytes = (0..<6).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let id = "key-" + idBytes.map { String(format: "%02x", $0) }.joined()
        let secretBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let encoded = Data(secretBytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return (id, "ctk_\(id)_\(encoded)")
    }

    /// SHA-256 of a secret.
    public static func hash(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(secret.utf8)))
    }

    /// The key id a secret names, or `nil` if it is not shaped like one of ours.
    public static func keyID(of secret: String) -> String? {
        // Byte by byte: this runs for every request the server answers.
        let bytes = secret.utf8
        guard bytes.starts(with: "ctk_key-".utf8) else { return nil }
        let start = bytes.index(bytes.startIndex, offsetBy: 4)
        guard let end = bytes[start...].firstIndex(of: UInt8(ascii: "_")), bytes.index(after: end) < bytes.endIndex else { return nil }
        return String(secret[start..<end])
    }

    /// Compares two hashes in time independent of where they differ.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
