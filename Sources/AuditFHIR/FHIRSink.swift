import AuditChain
import Foundation

/// Receives a FHIR resource element by element, in specification order: the mapper writes an
/// AuditEvent once, and each sink renders it its own way. ``FHIRJSONSink`` and ``FHIRXMLSink``
/// write bytes straight away (an export of millions of entries never builds a tree);
/// ``FHIRTreeSink`` builds the ``FHIRNode`` that searches and tests look into.
///
/// Names are the element names of the specification. An item of a repeating element is
/// written with the element's own name between ``beginArray(_:)`` and ``endArray()``: JSON
/// leaves the name out there, XML repeats the element. Empty objects and arrays are never
/// begun: the caller checks first, as FHIR forbids them.
public protocol FHIRSink {
    /// Starts a resource; `id` is its `id` (the sink may use it for a Bundle entry's `fullUrl`).
    mutating func beginResource(_ type: StaticString, id: String)
    mutating func endResource()
    /// A whole resource given as a tree (an imported AuditEvent written back as it came).
    mutating func resource(_ node: FHIRNode)

    mutating func beginObject(_ name: StaticString)
    mutating func endObject()
    mutating func beginArray(_ name: StaticString)
    mutating func endArray()
    /// An extension: in JSON an object whose `url` comes first, in XML `url` is an attribute.
    mutating func beginExtension(url: FHIRText)
    mutating func endExtension()

    /// A string-like primitive (string, code, uri, dateTime…).
    mutating func string(_ name: StaticString, _ value: String)
    /// A string primitive whose text is known up front, escaped once for every format.
    mutating func string(_ name: StaticString, _ value: FHIRText)
    /// A string primitive given as UTF-8 bytes.
    mutating func string(_ name: StaticString, utf8 value: UnsafeBufferPointer<UInt8>)
    /// A number primitive (integer, decimal), `text` already in FHIR's lexical form.
    mutating func number(_ name: StaticString, _ text: String)
    mutating func bool(_ name: StaticString, _ value: Bool)
    /// An element whose content never changes (a coding, a profile), rendered once.
    mutating func constant(_ value: FHIRConstant)
}

extension FHIRSink {
    mutating func integer(_ name: StaticString, _ value: Int64) { number(name, String(value)) }

    mutating func decimal(_ name: StaticString, _ value: Double) { number(name, FHIRNode.decimalText(value)) }

    /// A string primitive holding `bytes` encoded as base64 (FHIR `base64Binary`).
    mutating func base64(_ name: StaticString, _ bytes: [UInt8]) {
        let encoded = Data(bytes).base64EncodedData()
        encoded.withUnsafeBytes { string(name, utf8: $0.bindMemory(to: UInt8.self)) }
    }
}

/// A text known when the program starts (a code system, an extension URL), escaped once for
/// JSON and for XML.
public final class FHIRText: Sendable {
    public let text: String
    /// The JSON string, quotes included.
    let json: [UInt8]
    /// The XML attribute value, escaped, without quotes.
    let xml: [UInt8]

    public init(_ text: String) {
        self.text = text
        var json: [UInt8] = []
        CanonicalJSON.writeString(text, into: &json)
        self.json = json
        var xml: [UInt8] = []
        FHIRXMLWriter.escape(text, into: &xml)
        self.xml = xml
    }
}

/// An element that never changes, rendered once: its JSON member (`"name":value`, or the bare
/// value inside an array) and its XML element.
public final class FHIRConstant: Sendable {
    public let name: String
    public let node: FHIRNode
    /// The JSON value.
    let json: [UInt8]
    /// The XML element (or elements, for an array).
    let xml: [UInt8]
    /// `"name":`, for a member outside an array.
    let jsonName: [UInt8]

    public init(_ name: String, _ node: FHIRNode) {
        self.name = name
        self.node = node
        var json: [UInt8] = []
        FHIRJSONWriter.write(node, into: &json)
        self.json = json
        var xml: [UInt8] = []
        FHIRXMLWriter.writeMember(name, node, into: &xml)
        self.xml = xml
        var jsonName: [UInt8] = []
        CanonicalJSON.writeString(name, into: &jsonName)
        jsonName.append(UInt8(ascii: ":"))
        self.jsonName = jsonName
    }
}
