/// A SHA-256 digest in the chain: an entry's hash or the link to its predecessor.
///
/// Held inline as four words, so a verifier streaming millions of links allocates nothing.
public struct ChainHash: Sendable, Hashable, CustomStringConvertible {
    private var words: SIMD4<UInt64>

    /// The `prev_hash` of the first entry: 32 zero bytes.
    public static let genesis = ChainHash(words: .zero)

    private init(words: SIMD4<UInt64>) {
        self.words = words
    }

    /// Wraps 32 bytes; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self = bytes.withUnsafeBufferPointer { ChainHash(digest: $0) }
    }

    /// Wraps bytes already known to be 32 long (a digest); other lengths give a value that
    /// never equals a real digest.
    public init(unchecked bytes: [UInt8]) {
        self = bytes.withUnsafeBufferPointer { ChainHash(unchecked: $0) }
    }

    /// Wraps bytes already known to be 32 long, straight from a buffer (SQLite's, a digest's).
    public init(unchecked bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 32 else {
            self.words = SIMD4(UInt64.max, 0, 0, UInt64(bytes.count))
            return
        }
        self = ChainHash(digest: bytes)
    }

    private init(digest: UnsafeBufferPointer<UInt8>) {
        let raw = UnsafeRawBufferPointer(digest)
        words = SIMD4(
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        )
    }

    /// Reads 64 hex digits (either case) from bytes, without making a string.
    public init?(hexBytes utf8: UnsafeBufferPointer<UInt8>) {
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in 0..<32 {
            guard let high = Self.nibble(utf8[2 * index]), let low = Self.nibble(utf8[2 * index + 1]) else { return nil }
            bytes[index] = high << 4 | low
        }
        self.init(unchecked: bytes)
    }

    /// Reads 64 hex digits (either case).
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = Self.nibble(utf8[index]), let low = Self.nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.init(unchecked: bytes)
    }

    /// The 32 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        for index in 0..<32 {
            out.append(UInt8(truncatingIfNeeded: words[index / 8] >> UInt64(56 - 8 * (index % 8))))
        }
        return out
    }

    /// Writes the 32 bytes at `offset` of `buffer`, which must have room for them.
    func store(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        for lane in 0..<4 { buffer.storeBytes(of: words[lane].bigEndian, toByteOffset: offset + 8 * lane, as: UInt64.self) }
    }

    /// Lower-case hex, as the canonical entry and every output writes it.
    public var hex: String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        Self.appendHex(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { appendHex($0, to: &out) }
    }

    static func appendHex(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
