import AuditChain
import AuditCore

/// What a store derives from an entry's canonical `body` for its search and statistics
/// tables, found in one pass over the bytes without building a JSON tree.
package struct BodyScan {
    /// Pseudonyms (`hmac-sha256:<key>:<hex>`) inside the members that describe the access:
    /// `arguments`, `result`, `error`, `break_glass`, and an agent request's `input`/`output`.
    /// Tokens in `session_metadata` (the same user agent on every call) are left out.
    package var tokens: [String] = []
    /// The top-level `duration_ms`.
    package var durationMS: Double?

    static let searchedMembers: Set<String> = ["arguments", "result", "error", "break_glass", "input", "output"]
    static let prefix = Array("hmac-sha256:".utf8)

    package init(_ body: String) {
        var body = body
        body.withUTF8 { scan($0) }
    }

    private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>) {
        Self.forEachMember(bytes) { name, value in
            let key = String(decoding: name, as: UTF8.self)
            if Self.searchedMembers.contains(key) {
                collectTokens(value)
            } else if key == "duration_ms" {
                durationMS = Double(String(decoding: value, as: UTF8.self))
            }
            return true
        }
    }

    /// The string value of the top-level member `key` of a canonical JSON object, unescaped;
    /// `nil` when it is absent or not a string. Reports read `user_role` this way: SQLite's
    /// `json_extract` parses the whole body into a tree first, which costs several times more.
    package static func topLevelString(_ key: String, in bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let wanted = Array(key.utf8)
        var found: String?
        forEachMember(bytes) { name, value in
            guard name.elementsEqual(wanted) else { return true }
            if value.first == UInt8(ascii: "\""), case .string(let text)? = try? JSONParser.parse(value) { found = text }
            return false
        }
        return found
    }

    /// Whether the object has a top-level `break_glass` member, and the text of its `reason`
    /// when that is a string or a number.
    package static func breakGlass(in bytes: UnsafeBufferPointer<UInt8>) -> (present: Bool, reason: String?) {
        let wanted = Array("break_glass".utf8)
        var result: (Bool, String?) = (false, nil)
        forEachMember(bytes) { name, value in
            guard name.elementsEqual(wanted) else { return true }
            result.0 = true
            if case .object(let members)? = try? JSONParser.parse(value) {
                switch members["reason"] {
                case .string(let text)?: result.1 = text
                case .number(let number)?: result.1 = CanonicalJSON.string(.number(number))
                default: break
                }
            }
            return false
        }
        return result
    }

    /// Calls `body` with the name (unescaped bytes as stored) and the value bytes of each
    /// top-level member of a canonical JSON object, in order, until it returns `false`.
    private static func forEachMember(
        _ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> Bool
    ) {
        let count = bytes.count
        guard count > 1, bytes[0] == UInt8(ascii: "{") else { return }
        var index = 1
        while index < count {
            // A member: "key":value
            guard bytes[index] == UInt8(ascii: "\"") else { return }
            let keyStart = index + 1
            index = skipString(bytes, from: index)
            let name = UnsafeBufferPointer(rebasing: bytes[keyStart..<max(keyStart, index - 1)])
            guard index < count, bytes[index] == UInt8(ascii: ":") else { return }
            index += 1
            let valueStart = index
            index = skipValue(bytes, from: index)
            guard body(name, UnsafeBufferPointer(rebasing: bytes[valueStart..<index])) else { return }
            guard index < count, bytes[index] == UInt8(ascii: ",") else { return }
            index += 1
        }
    }

    private mutating func collectTokens(_ bytes: UnsafeBufferPointer<UInt8>) {
        let prefix = Self.prefix
        var index = 0
        while index + prefix.count < bytes.count {
            if bytes[index] == prefix[0], bytes[index + 1] == prefix[1] {
                var match = true
                for offset in 2..<prefix.count where bytes[index + offset] != prefix[offset] {
                    match = false
                    break
                }
                if match {
                    var end = index + prefix.count
                    while end < bytes.count, Self.isTokenByte(bytes[end]) { end += 1 }
                    let token = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<end]), as: UTF8.self)
                    if !tokens.contains(token) { tokens.append(token) }
                    index = end
                    continue
                }
            }
            index += 1
        }
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
            || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }

    /// The index after the string starting at `start` (a quote).
    private static func skipString(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        var index = start + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index + 1
            default: index += 1
            }
        }
        return index
    }

    /// The index after the JSON value starting at `start` (canonical JSON: no whitespace).
    private static func skipValue(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard start < bytes.count else { return start }
        switch bytes[start] {
        case UInt8(ascii: "\""): return skipString(bytes, from: start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var index = start
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    index = skipString(bytes, from: index)
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return index + 1 }
                default: break
                }
                index += 1
            }
            return index
        default:
            var index = start
            while index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: "}") { index += 1 }
            return index
        }
    }
}
