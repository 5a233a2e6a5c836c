/// Writes FHIR XML: the resource as the root element in the namespace `http://hl7.org/fhir`,
/// primitives as `value` attributes, `url` of extensions as an attribute, members in the
/// order of the tree (the specification's order), nested resources wrapped in their member
/// element (`<resource><AuditEvent xmlns=…>…</AuditEvent></resource>`).
public enum FHIRXMLWriter {
    public static let namespace = "http://hl7.org/fhir"

    public static func write(_ node: FHIRNode, into out: inout [UInt8], declaration: Bool = true) {
        if declaration { out.append(contentsOf: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".utf8) }
        guard case .resource(let type, let members) = node else { return }
        writeResource(type, members, into: &out)
    }

    public static func string(_ node: FHIRNode, declaration: Bool = true) -> String {
        var out: [UInt8] = []
        write(node, into: &out, declaration: declaration)
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `name` may be written as an element name: FHIR's names are ASCII letters and
    /// digits. Anything else (markup smuggled in a member name) is never written.
    static func isElementName(_ name: String) -> Bool {
        guard let first = name.utf8.first, (first | 0x20) >= 0x61, (first | 0x20) <= 0x7A else { return false }
        return name.utf8.allSatisfy { ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func writeResource(_ type: String, _ members: [FHIRNode.Member], into out: inout [UInt8]) {
        guard isElementName(type) else { return }
        out.append(contentsOf: "<\(type) xmlns=\"\(namespace)\">".utf8)
        for member in members { writeMember(member.name, member.value, into: &out) }
        out.append(contentsOf: "</\(type)>".utf8)
    }

    static func writeMember(_ name: String, _ value: FHIRNode, into out: inout [UInt8]) {
        guard isElementName(name) else { return }
        switch value {
        case .string(let text): primitive(name, text, into: &out)
        case .xhtml:
            // Narrative is never written back: imported markup cannot reach an XML page.
            return
        case .number(let text): primitive(name, text, into: &out)
        case .bool(let flag): primitive(name, flag ? "true" : "false", into: &out)
        case .array(let items): for item in items { writeMember(name, item, into: &out) }
        case .resource(let type, let members):
            out.append(contentsOf: "<\(name)>".utf8)
            writeResource(type, members, into: &out)
            out.append(contentsOf: "</\(name)>".utf8)
        case .object(let members):
            out.append(UInt8(ascii: "<"))
            out.append(contentsOf: name.utf8)
            // Extensions carry their url as an attribute, not an element.
            var children = members
            if name == "extension" || name == "modifierExtension", let index = members.firstIndex(where: { $0.name == "url" }),
                case .string(let url) = members[index].value
            {
                out.append(contentsOf: " url=\"".utf8)
                escape(url, into: &out)
                out.append(UInt8(ascii: "\""))
                children.remove(at: index)
            }
            out.append(UInt8(ascii: ">"))
            for member in children { writeMember(member.name, member.value, into: &out) }
            out.append(contentsOf: "</\(name)>".utf8)
        }
    }

    private static func primitive(_ name: String, _ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "<"))
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: " value=\"".utf8)
        escape(value, into: &out)
        out.append(contentsOf: "\"/>".utf8)
    }

    /// Escapes for an attribute value: `&`, `<`, `>`, `"`, and line breaks and tabs as
    /// character references (attribute-value normalisation would turn them into spaces).
    static func escape(_ text: String, into out: inout [UInt8]) {
        var text = text
        text.withUTF8 { escape(bytes: $0, into: &out) }
    }

    /// ``escape(_:into:)`` for UTF-8 bytes: runs that need nothing are copied whole.
    static func escape(bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var start = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            let replacement: StaticString
            switch byte {
            case UInt8(ascii: "&"): replacement = "&amp;"
            case UInt8(ascii: "<"): replacement = "&lt;"
            case UInt8(ascii: ">"): replacement = "&gt;"
            case UInt8(ascii: "\""): replacement = "&quot;"
            case 0x0A: replacement = "&#10;"
            case 0x0D: replacement = "&#13;"
            case 0x09: replacement = "&#9;"
            case 0..<0x20: replacement = ""  // XML 1.0 forbids other control characters outright: dropped
            default: continue
            }
            if index > start { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index])) }
            replacement.withUTF8Buffer { out.append(contentsOf: $0) }
            start = index + 1
        }
        if bytes.count > start { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count])) }
    }
}
