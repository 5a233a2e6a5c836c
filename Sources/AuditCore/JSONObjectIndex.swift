import Foundation

/// Where each top-level member of a JSON object sits in its bytes, found without building any
/// value: a reader that needs a few small members of a large stored body parses just those,
/// and copies the big ones (arguments, results) as the bytes they already are.
///
/// The bytes must be valid JSON (a stored body, which the log wrote itself); the index only
/// finds boundaries, it does not validate.
public struct JSONObjectIndex: Sendable {
    /// Each member's name and the byte range of its value, in order.
    public private(set) var members: [(name: String, range: Range<Int>)] = []

    /// Indexes `bytes`; `nil` when they do not hold an object.
    public init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        var members: [(name: String, range: Range<Int>)] = []
        let isObject = Self.forEachMember(in: bytes) { name, escaped, range in
            let text: String
            if escaped,
                case .string(let decoded)? = try? JSONParser.parse(
                    UnsafeBufferPointer(rebasing: bytes[(name.lowerBound - 1)..<(name.upperBound + 1)]))
            {
                text = decoded
            } else {
                text = String(decoding: UnsafeBufferPointer(rebasing: bytes[name]), as: UTF8.self)
            }
            members.append((text, range))
        }
        guard isObject else { return nil }
        self.members = members
    }

    /// Calls `body` with each top-level member of the object in `bytes`: the byte range of its
    /// name (between the quotes, as written), whether the name holds escapes, and the byte
    /// range of its value. Returns `false` when the bytes do not hold an object. Nothing is
    /// allocated: for readers that look for a few names among many members.
    @discardableResult
    public static func forEachMember(
        in bytes: UnsafeBufferPointer<UInt8>, _ body: (_ name: Range<Int>, _ escaped: Bool, _ value: Range<Int>) -> Void
    ) -> Bool {
        scanMembers(in: bytes) { name, escaped, value in
            body(name, escaped, value)
            return true
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// Calls `body` as ``forEachMember(in:_:)`` does, until it returns `false`: a reader that
    /// has found what it looks for does not walk the rest of the object.
    @discardableResult
    public static func scanMembers(
        in bytes: UnsafeBufferPointer<UInt8>, _ body: (_ name: Range<Int>, _ escaped: Bool, _ value: Range<Int>) -> Bool
    ) -> Bool {
        var index = 0
        func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }
        /// Moves past the string starting at `index` (its opening quote); returns whether it had
        /// escapes. Quotes and backslashes are found with `memchr`, which reads many bytes at a
        /// time: stored bodies are long strings, walked once per member looked for.
        func skipString() -> Bool {
            var escaped = false
            index += 1
            guard let base = bytes.baseAddress else { return false }
            let start = index
            while index < bytes.count {
                guard let found = memchr(base + index, 0x22, bytes.count - index) else {
                    index = bytes.count
                    return escaped
                }
                let quote = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
                if !escaped, memchr(base + index, 0x5C, quote - index) != nil { escaped = true }
                // The quote ends the string unless an odd number of backslashes comes before it.
                var backslashes = 0
                while quote - backslashes - 1 >= start, bytes[quote - backslashes - 1] == 0x5C { backslashes += 1 }
                index = quote + 1
                if backslashes % 2 == 0 { return escaped }
            }
            return escaped
        }
        /// Moves past the value starting at `index`.
        func skipValue() {
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case 0x22:
                    _ = skipString()
                    if depth == 0 { return }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return }  // the end of the enclosing object
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return
                    }
                case UInt8(ascii: ","):
                    if depth == 0 { return }
                default: break
                }
                index += 1
            }
        }
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return false }
        index += 1
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == 0x22 else { return true }
            let nameStart = index
            let escaped = skipString()
            let name = (nameStart + 1)..<max(nameStart + 1, index - 1)
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return true }
            index += 1
            skipWhitespace()
            let valueStart = index
            skipValue()
            var valueEnd = index
            while valueEnd > valueStart, Self.isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
            guard body(name, escaped, valueStart..<valueEnd) else { return true }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { return true }
            index += 1
        }
    }

    /// The byte range of the value of the member `name`.
    public func range(of name: String) -> Range<Int>? {
        members.first { $0.name == name }?.range
    }
}
