import AuditChain
import AuditCore

/// A stored entry's body as the mapper reads it: where each member is, found without parsing;
/// a member is parsed when asked for, and `arguments` and `result` are handed out as the
/// canonical JSON bytes they are stored as, to be written out again unchanged.
struct EntryBody {
    private let bytes: [UInt8]
    /// Each member's name and value, as byte ranges of `bytes`.
    private var members: [(name: Range<Int>, value: Range<Int>)] = []

    init(_ text: String) {
        bytes = Array(text.utf8)
        var members: [(name: Range<Int>, value: Range<Int>)] = []
        members.reserveCapacity(12)
        _ = bytes.withUnsafeBufferPointer { buffer in
            // Stored bodies are canonical JSON: names carry no escapes.
            JSONObjectIndex.forEachMember(in: buffer) { name, _, value in members.append((name, value)) }
        }
        self.members = members
    }

    private func range(of name: StaticString) -> Range<Int>? {
        name.withUTF8Buffer { wanted in
            members.first { member in
                member.name.count == wanted.count && bytes[member.name].elementsEqual(wanted)
            }?.value
        }
    }

    /// The member `name`, parsed.
    subscript(name: StaticString) -> JSONValue? {
        guard let range = range(of: name) else { return nil }
        return bytes.withUnsafeBufferPointer { try? JSONParser.parse(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    /// The canonical JSON of `arguments`, if present.
    var arguments: ArraySlice<UInt8>? { range(of: "arguments").map { bytes[$0] } }

    /// The canonical JSON of `result`, if present.
    var result: ArraySlice<UInt8>? { range(of: "result").map { bytes[$0] } }

    /// Every member, parsed: what error texts are looked for in.
    var parsed: [String: JSONValue] {
        if case .object(let members)? = try? JSONParser.parse(bytes) { return members }
        return [:]
    }
}
