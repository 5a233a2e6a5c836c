public import AuditCore

/// What the reader and the writers need of the FHIR R4 structure definitions: each element's
/// children in specification order, whether they repeat, and their types. AuditEvent comes
/// from the official StructureDefinition (``auditEventR4``); the datatypes it uses, and
/// Bundle, are listed here.
public enum FHIRSchema {
    struct Element {
        var name: String
        var repeats: Bool
        var types: [String]
    }

    /// The datatypes AuditEvent and Bundle use: members after `id` and `extension`.
    static let datatypes: [String: [(String, Bool, [String])]] = [
        "Coding": [
            ("system", false, ["uri"]), ("version", false, ["string"]), ("code", false, ["code"]), ("display", false, ["string"]),
            ("userSelected", false, ["boolean"]),
        ],
        "CodeableConcept": [("coding", true, ["Coding"]), ("text", false, ["string"])],
        "Reference": [
            ("reference", false, ["string"]), ("type", false, ["uri"]), ("identifier", false, ["Identifier"]),
            ("display", false, ["string"]),
        ],
        "Identifier": [
            ("use", false, ["code"]), ("type", false, ["CodeableConcept"]), ("system", false, ["uri"]), ("value", false, ["string"]),
            ("period", false, ["Period"]), ("assigner", false, ["Reference"]),
        ],
        "Period": [("start", false, ["dateTime"]), ("end", false, ["dateTime"])],
        "Meta": [
            ("versionId", false, ["id"]), ("lastUpdated", false, ["instant"]), ("source", false, ["uri"]), ("profile", true, ["canonical"]),
            ("security", true, ["Coding"]), ("tag", true, ["Coding"]),
        ],
        "Narrative": [("status", false, ["code"]), ("div", false, ["xhtml"])],
        "Extension": [
            ("url", false, ["uri"]),
            (
                "value[x]", false,
                [
                    "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant", "integer", "markdown",
                    "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid", "Coding", "CodeableConcept", "Identifier",
                    "Period", "Reference",
                ]
            ),
        ],
        "Bundle": [
            ("identifier", false, ["Identifier"]), ("type", false, ["code"]), ("timestamp", false, ["instant"]),
            ("total", false, ["unsignedInt"]), ("link", true, ["Bundle.link"]), ("entry", true, ["Bundle.entry"]),
            ("signature", false, ["Signature"]),
        ],
        "Bundle.link": [("relation", false, ["string"]), ("url", false, ["uri"])],
        "Bundle.entry": [("link", true, ["Bundle.link"]), ("fullUrl", false, ["uri"]), ("resource", false, ["Resource"])],
        // An AuditEvent may contain the OperationOutcome of a failed request (as the official example does).
        "OperationOutcome": [("issue", true, ["OperationOutcome.issue"])],
        "OperationOutcome.issue": [
            ("severity", false, ["code"]), ("code", false, ["code"]), ("details", false, ["CodeableConcept"]),
            ("diagnostics", false, ["string"]), ("location", true, ["string"]), ("expression", true, ["string"]),
        ],
    ]

    /// What every resource starts with (Bundle), and every domain resource (OperationOutcome).
    static let resourceHead: [(String, Bool, [String])] = [
        ("id", false, ["string"]), ("meta", false, ["Meta"]), ("implicitRules", false, ["uri"]), ("language", false, ["code"]),
    ]
    static let domainResourceHead =
        resourceHead + [
            ("text", false, ["Narrative"]), ("contained", true, ["Resource"]), ("extension", true, ["Extension"]),
            ("modifierExtension", true, ["Extension"]),
        ]
    static let backboneHead: [(String, Bool, [String])] = [
        ("id", false, ["string"]), ("extension", true, ["Extension"]), ("modifierExtension", true, ["Extension"]),
    ]

    /// The children of `context` (an AuditEvent path such as `AuditEvent.agent`, or a
    /// datatype name), in order.
    static func children(of context: String) -> [Element] {
        if let members = datatypes[context] {
            let head: [(String, Bool, [String])]
            switch context {
            case "Bundle": head = resourceHead
            case "OperationOutcome": head = domainResourceHead
            case "OperationOutcome.issue", "Bundle.entry", "Bundle.link": head = backboneHead
            default: head = [("id", false, ["string"]), ("extension", true, ["Extension"])]
            }
            return (head + members).map { Element(name: $0.0, repeats: $0.1, types: $0.2) }
        }
        return auditEventChildren[context] ?? []
    }

    private static let auditEventChildren: [String: [Element]] = {
        var result: [String: [Element]] = [:]
        for (path, repeats, types) in auditEventR4 {
            guard let dot = path.lastIndex(of: ".") else { continue }
            let parent = String(path[..<dot])
            result[parent, default: []].append(Element(name: String(path[path.index(after: dot)...]), repeats: repeats, types: types))
        }
        return result
    }()

    /// The element of `context` that a member called `name` is (choice elements by prefix),
    /// with the type its name picks.
    static func element(_ name: String, in context: String) -> (element: Element, type: String)? {
        for element in children(of: context) {
            if element.name == name { return (element, element.types.first ?? "string") }
            if element.name.hasSuffix("[x]") {
                let prefix = String(element.name.dropLast(3))
                guard name.hasPrefix(prefix), name.count > prefix.count else { continue }
                let suffix = String(name.dropFirst(prefix.count))
                if let type = element.types.first(where: { $0.lowercased() == suffix.lowercased() }) { return (element, type) }
            }
        }
        return nil
    }

    /// The context the children of an element of `type` (found at `path`) are read in.
    static func childContext(type: String, path: String) -> String {
        type == "BackboneElement" ? path : type
    }

    static let numberTypes: Set<String> = ["integer", "unsignedInt", "positiveInt", "decimal"]

    static func isPrimitive(_ type: String) -> Bool {
        guard let first = type.first else { return true }
        return first.isLowercase || type == "String"
    }

    /// A JSON value in specification order, as a node for the writers. Members the schema does
    /// not know are kept, after the known ones, in name order.
    public static func node(_ value: JSONValue, context: String = "AuditEvent") -> FHIRNode {
        switch value {
        case .object(let members):
            let resourceType = members["resourceType"]?.stringValue
            let context = resourceType ?? context
            var ordered: [FHIRNode.Member] = []
            var used: Set<String> = ["resourceType"]
            for element in children(of: context) {
                let names =
                    element.name.hasSuffix("[x]")
                    ? members.keys.filter { $0.hasPrefix(String(element.name.dropLast(3))) }.sorted()
                    : (members[element.name] != nil ? [element.name] : [])
                for name in names {
                    guard let member = members[name], let (_, type) = self.element(name, in: context) else { continue }
                    used.insert(name)
                    ordered.append(FHIRNode.Member(name, convert(member, type: type, path: context + "." + element.name)))
                }
            }
            for name in members.keys.sorted() where !used.contains(name) {
                ordered.append(FHIRNode.Member(name, FHIRNode(json: members[name] ?? .null)))
            }
            if let resourceType { return .resource(resourceType, ordered) }
            return .object(ordered)
        default:
            return FHIRNode(json: value)
        }
    }

    /// The path of the first member that the AuditEvent definition (and the datatypes it
    /// uses) does not define, or `nil` when every member is known. Extensions carry any
    /// `value[x]`; `_name` members (extensions of primitives) are allowed beside a known
    /// primitive. Names are quoted only when they are plain identifiers.
    public static func unknownElement(in value: JSONValue, context: String = "AuditEvent", path: String = "AuditEvent") -> String? {
        switch value {
        case .array(let items):
            for item in items { if let problem = unknownElement(in: item, context: context, path: path) { return problem } }
            return nil
        case .object(let members):
            let resourceType = members["resourceType"]?.stringValue
            if let resourceType, resourceType != "AuditEvent", datatypes[resourceType] == nil {
                return "\(path): resource type not allowed here"
            }
            let context = resourceType ?? context
            for name in members.keys.sorted() where name != "resourceType" {
                let base = name.hasPrefix("_") ? String(name.dropFirst()) : name
                guard let (element, type) = element(base, in: context) else {
                    let plain = FHIRXMLWriter.isElementName(name) && name.utf8.count <= 64
                    return plain ? "\(path).\(name): not an element of \(context)" : "\(path): a member whose name is not an element name"
                }
                guard let member = members[name] else { continue }
                if name.hasPrefix("_") { continue }
                if !isPrimitive(type) || type == "Resource" {
                    let child = type == "Resource" ? "AuditEvent" : childContext(type: type, path: context + "." + element.name)
                    if let problem = unknownElement(in: member, context: child, path: path + "." + name) { return problem }
                }
            }
            return nil
        default:
            return nil
        }
    }

    private static func convert(_ value: JSONValue, type: String, path: String) -> FHIRNode {
        switch value {
        case .array(let items): return .array(items.map { convert($0, type: type, path: path) })
        case .object: return node(value, context: type == "Resource" ? "AuditEvent" : childContext(type: type, path: path))
        case .string(let text) where type == "xhtml": return .xhtml(text)
        default: return FHIRNode(json: value)
        }
    }
}
