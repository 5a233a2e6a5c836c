import AuditChain
import AuditCore

/// Prints JSON for people and scripts alike: members sorted as in the canonical form,
/// two-space indentation, numbers and strings exactly as RFC 8785 writes them.
enum JSONOutput {
    static func pretty(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        write(value, indent: 0, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func compact(_ value: JSONValue) -> String {
        CanonicalJSON.string(value)
    }

    private static func write(_ value: JSONValue, indent: Int, into out: inout [UInt8]) {
        let pad = [UInt8](repeating: 0x20, count: (indent + 1) * 2)
        let closePad = [UInt8](repeating: 0x20, count: indent * 2)
        switch value {
        case .array(let elements) where !elements.isEmpty:
            out.append(contentsOf: Array("[\n".utf8))
            for (index, element) in elements.enumerated() {
                out.append(contentsOf: pad)
                write(element, indent: indent + 1, into: &out)
                out.append(contentsOf: Array((index < elements.count - 1 ? ",\n" : "\n").utf8))
            }
            out.append(contentsOf: closePad)
            out.append(UInt8(ascii: "]"))
        case .object(let members) where !members.isEmpty:
            out.append(contentsOf: Array("{\n".utf8))
            let keys = members.keys.sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
            for (index, key) in keys.enumerated() {
                out.append(contentsOf: pad)
                CanonicalJSON.writeString(key, into: &out)
                out.append(contentsOf: Array(": ".utf8))
                write(members[key] ?? .null, indent: indent + 1, into: &out)
                out.append(contentsOf: Array((index < keys.count - 1 ? ",\n" : "\n").utf8))
            }
            out.append(contentsOf: closePad)
            out.append(UInt8(ascii: "}"))
        default:
            CanonicalJSON.write(value, into: &out)
        }
    }
}
