import AuditChain
import AuditCore

/// A stored entry's body as the mapper reads it: the small members parsed, `arguments` and
/// `result` kept as the canonical JSON bytes they are stored as (written out again unchanged,
/// never parsed, unless a failure's error text is needed from the result).
struct EntryBody {
    /// Every member but `arguments` and `result`.
    private(set) var members: [String: JSONValue] = [:]
    /// The canonical JSON of `arguments`, if present.
    private(set) var arguments: [UInt8]?
    /// The canonical JSON of `result`, if present.
    private(set) var result: [UInt8]?

    init(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            guard let index = JSONObjectIndex(bytes) else { return }
            for (name, range) in index.members {
                let value = UnsafeBufferPointer(rebasing: bytes[range])
                switch name {
                case "arguments": arguments = Array(value)
                case "result": result = Array(value)
                default: members[name] = try? JSONParser.parse(value)
                }
            }
        }
    }

    subscript(name: String) -> JSONValue? { members[name] }

    /// The members with `result` parsed too: what error texts are found in.
    var withResult: [String: JSONValue] {
        var all = members
        if let result { all["result"] = try? JSONParser.parse(result) }
        return all
    }
}
