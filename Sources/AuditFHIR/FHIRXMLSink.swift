/// Writes FHIR XML straight into bytes as the mapper goes: the resource as an element in the
/// namespace `http://hl7.org/fhir`, primitives as `value` attributes, an extension's `url` as
/// an attribute, repeating elements repeated. The same bytes as ``FHIRXMLWriter`` writes for
/// the tree, without the tree.
public struct FHIRXMLSink: FHIRSink {
    /// How each resource is framed.
    public enum Framing: Sendable {
        /// The resource alone, without an XML declaration.
        case bare
        /// A Bundle entry, `<entry><fullUrl value=…/><resource>…</resource></entry>` and a newline.
        case bundleEntry
    }

    public var out: [UInt8]
    public var framing: Framing
    /// The open elements' names, for their end tags.
    private var open: [StaticString] = []
    private var resourceType: StaticString = "AuditEvent"
    private let fullURLBase: String

    public init(framing: Framing = .bare, out: [UInt8] = []) {
        self.out = out
        self.framing = framing
        fullURLBase = "\(FHIRVocabulary.base)/AuditEvent/"
        open.reserveCapacity(16)
    }

    private mutating func append(_ name: StaticString) {
        name.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    private mutating func startEntry(id: String?) {
        guard case .bundleEntry = framing else { return }
        out.append(contentsOf: "<entry><fullUrl value=\"".utf8)
        FHIRXMLWriter.escape(id.map { fullURLBase + $0 } ?? FHIRVocabulary.base, into: &out)
        out.append(contentsOf: "\"/><resource>".utf8)
    }

    private mutating func endEntry() {
        guard case .bundleEntry = framing else { return }
        out.append(contentsOf: "</resource></entry>\n".utf8)
    }

    public mutating func beginResource(_ type: StaticString, id: String) {
        startEntry(id: id)
        resourceType = type
        out.append(UInt8(ascii: "<"))
        append(type)
        out.append(contentsOf: " xmlns=\"http://hl7.org/fhir\">".utf8)
    }

    public mutating func endResource() {
        out.append(contentsOf: [UInt8(ascii: "<"), UInt8(ascii: "/")])
        append(resourceType)
        out.append(UInt8(ascii: ">"))
        endEntry()
    }

    public mutating func resource(_ node: FHIRNode) {
        guard case .resource(let type, let members) = node else { return }
        startEntry(id: node.id)
        FHIRXMLWriter.writeResource(type, members, into: &out)
        endEntry()
    }

    public mutating func beginObject(_ name: StaticString) {
        out.append(UInt8(ascii: "<"))
        append(name)
        out.append(UInt8(ascii: ">"))
        open.append(name)
    }

    public mutating func endObject() {
        guard let name = open.popLast() else { return }
        out.append(contentsOf: [UInt8(ascii: "<"), UInt8(ascii: "/")])
        append(name)
        out.append(UInt8(ascii: ">"))
    }

    public mutating func beginArray(_ name: StaticString) {}

    public mutating func endArray() {}

    public mutating func beginExtension(url: FHIRText) {
        out.append(contentsOf: "<extension url=\"".utf8)
        out.append(contentsOf: url.xml)
        out.append(contentsOf: "\">".utf8)
        open.append("extension")
    }

    public mutating func endExtension() { endObject() }

    private mutating func primitiveStart(_ name: StaticString) {
        out.append(UInt8(ascii: "<"))
        append(name)
        out.append(contentsOf: " value=\"".utf8)
    }

    private mutating func primitiveEnd() {
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "/"), UInt8(ascii: ">")])
    }

    public mutating func string(_ name: StaticString, _ value: String) {
        primitiveStart(name)
        FHIRXMLWriter.escape(value, into: &out)
        primitiveEnd()
    }

    public mutating func string(_ name: StaticString, _ value: FHIRText) {
        primitiveStart(name)
        out.append(contentsOf: value.xml)
        primitiveEnd()
    }

    public mutating func string(_ name: StaticString, utf8 value: UnsafeBufferPointer<UInt8>) {
        primitiveStart(name)
        FHIRXMLWriter.escape(bytes: value, into: &out)
        primitiveEnd()
    }

    public mutating func number(_ name: StaticString, _ text: String) {
        primitiveStart(name)
        out.append(contentsOf: text.utf8)
        primitiveEnd()
    }

    public mutating func bool(_ name: StaticString, _ value: Bool) {
        primitiveStart(name)
        out.append(contentsOf: (value ? "true" : "false").utf8)
        primitiveEnd()
    }

    public mutating func constant(_ value: FHIRConstant) {
        out.append(contentsOf: value.xml)
    }
}
