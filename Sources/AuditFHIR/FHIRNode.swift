/// A FHIR resource or element as an ordered tree, written as FHIR JSON or FHIR XML.
///
/// Members keep the order the specification gives for each element, which FHIR XML requires
/// (and FHIR JSON allows). A member that may repeat is an ``array`` even with one item, so the
/// JSON form has an array wherever the specification says so.
public indirect enum FHIRNode: Sendable, Hashable {
    /// A string-like primitive (string, code, uri, id, dateTime, instant, base64Binary…).
    case string(String)
    /// A number primitive (integer, decimal…), written without quotes in JSON.
    case number(String)
    case bool(Bool)
    /// A complex element: its members in specification order.
    case object([Member])
    /// A repeating element.
    case array([FHIRNode])
    /// A resource: its type and members (JSON `resourceType`; XML root element).
    case resource(String, [Member])
    /// A narrative's XHTML `div`: a JSON string, written as markup in XML.
    case xhtml(String)

    public struct Member: Sendable, Hashable {
        public var name: String
        public var value: FHIRNode

        public init(_ name: String, _ value: FHIRNode) {
            self.name = name
            self.value = value
        }
    }

    /// An integer primitive.
    public static func integer<T: BinaryInteger>(_ value: T) -> FHIRNode { .number(String(value)) }

    /// A decimal primitive, written as the shortest text that reads back as the same double.
    public static func decimal(_ value: Double) -> FHIRNode { .number(decimalText(value)) }

    /// The text of a decimal: the shortest that reads back as the same double.
    static func decimalText(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        if value.rounded() == value, abs(value) < 1e15, let integer = Int64(exactly: value) { return String(integer) }
        return "\(value)"
    }

    /// A resource's `id`, if it has one.
    public var id: String? {
        if case .string(let id)? = self["id"] { return id }
        return nil
    }

    /// The member named `name`, if any.
    public subscript(name: String) -> FHIRNode? {
        switch self {
        case .object(let members), .resource(_, let members): members.first { $0.name == name }?.value
        default: nil
        }
    }
}

/// Builds member lists, skipping absent values, in the order they are added.
public struct FHIRMembers: Sendable {
    public private(set) var members: [FHIRNode.Member] = []

    public init() {}

    public mutating func add(_ name: String, _ value: FHIRNode?) {
        guard let value else { return }
        if case .array(let items) = value, items.isEmpty { return }
        if case .object(let items) = value, items.isEmpty { return }
        members.append(FHIRNode.Member(name, value))
    }

    public mutating func add(_ name: String, string value: String?) {
        add(name, value.map(FHIRNode.string))
    }
}
