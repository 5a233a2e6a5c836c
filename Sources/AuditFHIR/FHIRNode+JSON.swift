public import AuditCore

extension FHIRNode {
    /// A parsed FHIR JSON value as a tree (an object with `resourceType` becomes a resource).
    /// Member order is kept as parsed.
    public init(json: JSONValue) {
        switch json {
        case .string(let text): self = .string(text)
        case .number(let number): self = .decimal(number)
        case .bool(let flag): self = .bool(flag)
        case .null: self = .string("")
        case .array(let items): self = .array(items.map(FHIRNode.init(json:)))
        case .object(let members):
            let list = members.keys.sorted().filter { $0 != "resourceType" }.map { Member($0, FHIRNode(json: members[$0] ?? .null)) }
            if let type = members["resourceType"]?.stringValue { self = .resource(type, list) } else { self = .object(list) }
        }
    }
}
