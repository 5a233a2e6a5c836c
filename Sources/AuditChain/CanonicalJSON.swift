public import AuditCore

/// The JSON Canonicalization Scheme (RFC 8785): the one byte sequence of a JSON value that
/// every party hashes.
///
/// Object members sorted by their names' UTF-16 code units, no whitespace, strings with the
/// minimal escapes, numbers in ECMAScript's shortest round-trip form.
public enum CanonicalJSON {
    /// The canonical bytes of `value`.
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return out
    }

    /// The canonical text of `value`.
    public static func string(_ value: JSONValue) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    /// Appends the canonical bytes of `value` to `out`.
    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(true): out.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case .bool(false): out.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .number(let number): writeNumber(number, into: &out)
        case .string(let string): writeString(string, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            // The members are sorted as they are, not looked up by name again: hashing each
            // name once more cost more than writing it.
            for (key, value) in sortedMembers(members) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The members in RFC 8785 order of their names: by UTF-16 code units. ASCII names (the
    /// usual case) compare the same in UTF-8 and UTF-16; UTF-8 is faster.
    static func sortedMembers(_ members: [String: JSONValue]) -> [(key: String, value: JSONValue)] {
        var sorted = Array(members)
        if members.keys.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) {
            sorted.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        } else {
            sorted.sort { $0.key.utf16.lexicographicallyPrecedes($1.key.utf16) }
        }
        return sorted
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `string` as a JSON string with RFC 8785's escapes.
    public static func writeString(_ string: String, into out: inout [UInt8]) {
        var string = string
        string.withUTF8 { writeString(bytes: $0, into: &out) }
    }

    /// Appends UTF-8 `bytes` as a JSON string with RFC 8785's escapes.
    public static func writeString(bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escape at all: copy them whole.
        if !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out.append(contentsOf: bytes)
            out.append(UInt8(ascii: "\""))
            return
        }
        // Otherwise copy the runs between escapes whole.
        var start = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
            if index > start { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index])) }
            start = index + 1
            out.append(0x5C)
            switch byte {
            case 0x22, 0x5C: out.append(byte)
            case 0x08: out.append(UInt8(ascii: "b"))
            case 0x09: out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(UInt8(ascii: "n"))
            case 0x0C: out.append(UInt8(ascii: "f"))
            case 0x0D: out.append(UInt8(ascii: "r"))
            default:
                out.append(UInt8(ascii: "u"))
                out.append(0x30)
                out.append(0x30)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            }
        }
        if bytes.count > start { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count])) }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `number` as ECMAScript's `Number.prototype.toString` writes it (RFC 8785 §3.2.2.3).
    /// JSON has no NaN or infinity: a value built in code with one is written as `null`, as
    /// ECMAScript's `JSON.stringify` does, rather than stopping the agent that recorded it.
    public static func writeNumber(_ number: Double, into out: inout [UInt8]) {
        guard number.isFinite else {
            out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            return
        }
        if number == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        if number < 0 { out.append(UInt8(ascii: "-")) }
        let magnitude = number.magnitude
        // Integers that a double holds exactly: the common case, written directly.
        if magnitude < 1e15, magnitude.rounded(.towardZero) == magnitude {
            out.append(contentsOf: String(UInt64(magnitude)).utf8)
            return
        }
        // Swift's description is the shortest round-trip decimal; re-lay it out ECMAScript's way.
        let (digits, pointPosition) = shortestDigits(magnitude)
        let k = digits.count
        let n = pointPosition
        if k <= n && n <= 21 {
            out.append(contentsOf: digits)
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: n - k))
        } else if 0 < n && n <= 21 {
            out.append(contentsOf: digits[0..<n])
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[n...])
        } else if -6 < n && n <= 0 {
            out.append(contentsOf: [UInt8(ascii: "0"), UInt8(ascii: ".")])
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -n))
            out.append(contentsOf: digits)
        } else {
            out.append(digits[0])
            if k > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: digits[1...])
            }
            out.append(UInt8(ascii: "e"))
            let exponent = n - 1
            out.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            out.append(contentsOf: String(abs(exponent)).utf8)
        }
    }

    /// The shortest round-trip decimal digits of a positive double (no leading or trailing
    /// zeros) and the position of the decimal point relative to them: value = 0.d₁d₂… × 10ⁿ.
    static func shortestDigits(_ value: Double) -> (digits: [UInt8], pointPosition: Int) {
        let text = Array(value.description.utf8)  // e.g. "1.2345e-07", "123.45", "1e+21"
        var mantissa = text[...]
        var exponent = 0
        if let e = text.firstIndex(of: UInt8(ascii: "e")) {
            mantissa = text[..<e]
            var rest = text[(e + 1)...]
            var sign = 1
            if rest.first == UInt8(ascii: "+") { rest = rest.dropFirst() }
            if rest.first == UInt8(ascii: "-") {
                sign = -1
                rest = rest.dropFirst()
            }
            exponent = sign * (Int(String(decoding: rest, as: UTF8.self)) ?? 0)
        }
        var digits: [UInt8] = []
        var integerDigits = 0
        var seenPoint = false
        for byte in mantissa {
            if byte == UInt8(ascii: ".") {
                seenPoint = true
                continue
            }
            digits.append(byte)
            if !seenPoint { integerDigits += 1 }
        }
        var point = integerDigits + exponent
        while digits.first == UInt8(ascii: "0") {
            digits.removeFirst()
            point -= 1
        }
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        return (digits, point)
    }
}
