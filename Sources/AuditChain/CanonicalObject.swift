public import AuditCore

/// A JSON object written in canonical form (RFC 8785) whose members may be canonical JSON
/// already: stored `body` text is spliced as it is instead of being parsed and written again.
/// Exports of millions of entries spend most of their time there otherwise.
public struct CanonicalObject {
    /// A member's value: one to encode, or bytes that already are canonical JSON.
    public enum Member {
        case value(JSONValue)
        case canonical([UInt8])
        case canonicalText(String)
    }

    private var members: [(name: String, value: Member)] = []

    public init() {}

    /// Adds a member. Names must be distinct.
    public mutating func add(_ name: String, _ value: Member) {
        members.append((name, value))
    }

    /// Adds a string member; `nil` gives a JSON `null`.
    public mutating func add(_ name: String, string: String?) {
        members.append((name, .value(string.map(JSONValue.string) ?? .null)))
    }

    /// Appends the object's canonical bytes to `out`, members sorted as RFC 8785 says.
    public func write(into out: inout [UInt8]) {
        let sorted = members.sorted { $0.name.utf16.lexicographicallyPrecedes($1.name.utf16) }
        out.append(UInt8(ascii: "{"))
        for (index, member) in sorted.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            CanonicalJSON.writeString(member.name, into: &out)
            out.append(UInt8(ascii: ":"))
            switch member.value {
            case .value(let value): CanonicalJSON.write(value, into: &out)
            case .canonical(let bytes): out.append(contentsOf: bytes)
            case .canonicalText(let text): out.append(contentsOf: text.utf8)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The object's canonical bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }
}

extension StoredEntry {
    /// The canonical bytes of ``jsonValue``, written without parsing the stored JSON columns
    /// (which are canonical JSON text already).
    public var canonicalJSON: [UInt8] {
        var object = CanonicalObject()
        object.add("seq", .value(.number(Double(seq))))
        object.add("prev_hash", string: prevHash.hex)
        object.add("entry_hash", string: entryHash.hex)
        let texts = EntryHasher.columnTexts(content, recordedAt: recordedAt)
        for (column, text) in zip(EntryHasher.hashedColumns, texts) {
            switch column.encoding {
            case .text: object.add(column.name, string: text)
            case .json: object.add(column.name, text.map(CanonicalObject.Member.canonicalText) ?? .value(.null))
            case .hash, .integer: continue
            }
        }
        if let display = content.purposeOfUse.flatMap({ PurposeOfUse(code: $0) })?.display {
            object.add("purpose_of_use_display", string: display)
        }
        var out: [UInt8] = []
        out.reserveCapacity(content.body.utf8.count + 700)
        object.write(into: &out)
        return out
    }
}
