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

    /// The range of the member `name` of the object at `range`.
    private func range(of name: StaticString, in range: Range<Int>) -> Range<Int>? {
        var found: Range<Int>?
        name.withUTF8Buffer { wanted in
            bytes.withUnsafeBufferPointer { buffer in
                let object = UnsafeBufferPointer(rebasing: buffer[range])
                JSONObjectIndex.forEachMember(in: object) { member, _, value in
                    if found == nil, member.count == wanted.count, object[member].elementsEqual(wanted) {
                        found = (value.lowerBound + range.lowerBound)..<(value.upperBound + range.lowerBound)
                    }
                }
            }
        }
        return found
    }

    /// The string at `range`: copied straight when it has no escapes, else parsed.
    private func string(at range: Range<Int>) -> String? {
        guard range.count >= 2, bytes[range.lowerBound] == 0x22 else { return nil }
        let inner = (range.lowerBound + 1)..<(range.upperBound - 1)
        if !bytes[inner].contains(0x5C) { return String(decoding: bytes[inner], as: UTF8.self) }
        return value(at: range)?.stringValue
    }

    private func value(at range: Range<Int>) -> JSONValue? {
        bytes.withUnsafeBufferPointer { try? JSONParser.parse(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    /// The member `name` when it is a string.
    func string(_ name: StaticString) -> String? { range(of: name).flatMap(string(at:)) }

    /// The member `name` of the object member `object`, when it is a string.
    func string(_ object: StaticString, _ name: StaticString) -> String? {
        range(of: object).flatMap { range(of: name, in: $0) }.flatMap(string(at:))
    }

    /// The member `name` when it is a number.
    func number(_ name: StaticString) -> Double? { range(of: name).flatMap(value(at:))?.numberValue }

    /// The member `name` of the object member `object`, when it is a number.
    func number(_ object: StaticString, _ name: StaticString) -> Double? {
        range(of: object).flatMap { range(of: name, in: $0) }.flatMap(value(at:))?.numberValue
    }

    /// Whether the member `name` is an object.
    func isObject(_ name: StaticString) -> Bool { range(of: name).map { bytes[$0.lowerBound] == UInt8(ascii: "{") } ?? false }

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
