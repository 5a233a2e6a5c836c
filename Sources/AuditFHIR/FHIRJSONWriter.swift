import AuditChain
import AuditCore

/// Writes FHIR JSON: `resourceType` first, then the members in order; strings escaped as
/// RFC 8785 does (so output is byte-stable).
public enum FHIRJSONWriter {
    /// The compact form (NDJSON lines, Bundles).
    public static func write(_ node: FHIRNode, into out: inout [UInt8]) {
        switch node {
        case .string(let text), .xhtml(let text): CanonicalJSON.writeString(text, into: &out)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members): writeMembers(members, resourceType: nil, into: &out)
        case .resource(let type, let members): writeMembers(members, resourceType: type, into: &out)
        }
    }

    public static func string(_ node: FHIRNode) -> String {
        var out: [UInt8] = []
        write(node, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func writeMembers(_ members: [FHIRNode.Member], resourceType: String?, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        if let resourceType {
            out.append(contentsOf: "\"resourceType\":".utf8)
            CanonicalJSON.writeString(resourceType, into: &out)
            first = false
        }
        for member in members {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            CanonicalJSON.writeString(member.name, into: &out)
            out.append(UInt8(ascii: ":"))
            write(member.value, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}
