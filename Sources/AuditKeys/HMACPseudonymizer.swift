public import AuditCore
import Crypto
import Foundation

/// Keyed pseudonyms: `hmac-sha256:<key-id>:<hex>`, the first 128 bits of
/// HMAC-SHA256(key, normalised value) in lower-case hex.
///
/// Values are normalised first (Unicode NFC, lower-cased, whitespace trimmed and collapsed to
/// single spaces) so that `Maria Garcia` and ` maria  garcia` are one person. Nothing else is
/// normalised: `572-55-3753` and `572553753` give different tokens.
public struct HMACPseudonymizer: Pseudonymizer {
    public let keyID: String
    private let box: KeyBox

    /// A pseudonymiser for one key of the ring.
    public init(keyID: String, secret: [UInt8]) {
        self.keyID = keyID
        self.box = KeyBox(key: SymmetricKey(data: secret), keyID: keyID)
    }

    public func pseudonym(for value: String) -> String {
        box.cache.pseudonym(for: value, make: makePseudonym)
    }

    /// The pseudonym of `value`, computed.
    private func makePseudonym(_ value: String) -> String {
        var mac = box.prototype
        if let bytes = Self.normalizedASCII(value) {
            mac.update(data: bytes)
        } else {
            mac.update(data: Array(Self.normalize(value).utf8))
        }
        let code = mac.finalize()
        var out = box.tokenPrefix
        out.reserveCapacity(out.count + 32)
        var count = 0
        for byte in code {
            guard count < 16 else { break }
            out.append(Self.hex[Int(byte >> 4)])
            out.append(Self.hex[Int(byte & 0x0F)])
            count += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// ``normalize(_:)`` of an ASCII value, as bytes, done byte by byte; `nil` for other values.
    static func normalizedASCII(_ value: String) -> [UInt8]? {
        var value = value
        return value.withUTF8 { bytes -> [UInt8]? in
            var failed = false
            let out = [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, count in
                var pendingSpace = false
                count = 0
                for byte in bytes {
                    if byte >= 0x80 {
                        failed = true
                        return
                    }
                    if byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) {
                        pendingSpace = count > 0
                        continue
                    }
                    if pendingSpace {
                        buffer[count] = 0x20
                        count += 1
                        pendingSpace = false
                    }
                    buffer[count] = byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte
                    count += 1
                }
            }
            return failed ? nil : out
        }
    }

    /// NFC, lower-case, trimmed, inner whitespace collapsed.
    public static func normalize(_ value: String) -> String {
        if let bytes = normalizedASCII(value) { return String(decoding: bytes, as: UTF8.self) }
        let lowered = value.precomposedStringWithCanonicalMapping.lowercased()
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in lowered.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace {
                out.append(" ")
                pendingSpace = false
            }
            out.append(scalar)
        }
        return String(out)
    }
}

/// `SymmetricKey` is an immutable value (its bytes are never mutated after creation) that
/// swift-crypto 3 does not mark `Sendable`; sharing it read-only across tasks is safe.
/// It also holds an HMAC already keyed, copied for each token so the key pads are not
/// recomputed every time.
private final class KeyBox: @unchecked Sendable {
    let key: SymmetricKey
    let prototype: HMAC<SHA256>
    /// `hmac-sha256:<key-id>:` as bytes.
    let tokenPrefix: [UInt8]
    /// The pseudonyms this key made recently.
    let cache = PseudonymCache()
    init(key: SymmetricKey, keyID: String) {
        self.key = key
        self.prototype = HMAC<SHA256>(key: key)
        self.tokenPrefix = Array((pseudonymPrefix + keyID + ":").utf8)
    }
}
