import AuditChain

/// Writes FHIR JSON straight into bytes as the mapper goes: `resourceType` first, then the
/// members in order, strings escaped as RFC 8785 does. The same bytes as ``FHIRJSONWriter``
/// writes for the tree, without the tree.
public struct FHIRJSONSink: FHIRSink {
    /// How each resource is framed.
    public enum Framing: Sendable {
        /// The resource alone (a syslog message body, a read by id).
        case bare
        /// One resource per line (NDJSON, FHIR bulk data).
        case line
        /// A Bundle entry, `{"fullUrl":…,"resource":…}`; entries after the first in `out`
        /// start with a comma, every one with a newline.
        case bundleEntry
    }

    public var out: [UInt8]
    public var framing: Framing
    /// The base of a Bundle entry's `fullUrl`.
    private let fullURLBase: String
    /// Whether the next member or item needs a comma before it.
    private var needsComma = false
    /// Bit `depth` set: the container at that depth is an array (its items have no names).
    private var arrays: UInt64 = 0
    private var depth = 0

    public init(framing: Framing = .bare, out: [UInt8] = []) {
        self.out = out
        self.framing = framing
        fullURLBase = "\(FHIRVocabulary.base)/AuditEvent/"
    }

    private var inArray: Bool { arrays & (1 << UInt64(depth)) != 0 }

    private mutating func open(_ bracket: UInt8, array: Bool) {
        out.append(bracket)
        depth += 1
        if array { arrays |= 1 << UInt64(depth) } else { arrays &= ~(1 << UInt64(depth)) }
        needsComma = false
    }

    private mutating func close(_ bracket: UInt8) {
        out.append(bracket)
        depth -= 1
        needsComma = true
    }

    /// The comma and, outside arrays, `"name":`.
    private mutating func key(_ name: StaticString) {
        if needsComma { out.append(UInt8(ascii: ",")) }
        needsComma = true
        guard !inArray else { return }
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
    }

    /// A Bundle entry's start, up to its resource: `{"fullUrl":…,"resource":`.
    private mutating func startEntry(id: String?) {
        guard case .bundleEntry = framing else { return }
        if !out.isEmpty { out.append(UInt8(ascii: ",")) }
        out.append(0x0A)
        out.append(contentsOf: "{\"fullUrl\":".utf8)
        CanonicalJSON.writeString(id.map { fullURLBase + $0 } ?? FHIRVocabulary.base, into: &out)
        out.append(contentsOf: ",\"resource\":".utf8)
    }

    /// What follows a resource: a line's newline, a Bundle entry's closing brace.
    private mutating func endEntry() {
        switch framing {
        case .bare: break
        case .line: out.append(0x0A)
        case .bundleEntry: out.append(UInt8(ascii: "}"))
        }
    }

    public mutating func beginResource(_ type: StaticString, id: String) {
        startEntry(id: id)
        depth = 0
        arrays = 0
        open(UInt8(ascii: "{"), array: false)
        out.append(contentsOf: "\"resourceType\":\"".utf8)
        type.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: "\""))
        needsComma = true
    }

    public mutating func endResource() {
        close(UInt8(ascii: "}"))
        endEntry()
    }

    public mutating func resource(_ node: FHIRNode) {
        startEntry(id: node.id)
        FHIRJSONWriter.write(node, into: &out)
        endEntry()
    }

    public mutating func beginObject(_ name: StaticString) {
        key(name)
        open(UInt8(ascii: "{"), array: false)
    }

    public mutating func endObject() { close(UInt8(ascii: "}")) }

    public mutating func beginArray(_ name: StaticString) {
        key(name)
        open(UInt8(ascii: "["), array: true)
    }

    public mutating func endArray() { close(UInt8(ascii: "]")) }

    public mutating func beginExtension(url: FHIRText) {
        key("extension")
        open(UInt8(ascii: "{"), array: false)
        out.append(contentsOf: "\"url\":".utf8)
        out.append(contentsOf: url.json)
        needsComma = true
    }

    public mutating func endExtension() { close(UInt8(ascii: "}")) }

    public mutating func string(_ name: StaticString, _ value: String) {
        key(name)
        CanonicalJSON.writeString(value, into: &out)
    }

    public mutating func string(_ name: StaticString, _ value: FHIRText) {
        key(name)
        out.append(contentsOf: value.json)
    }

    public mutating func string(_ name: StaticString, utf8 value: UnsafeBufferPointer<UInt8>) {
        key(name)
        CanonicalJSON.writeString(bytes: value, into: &out)
    }

    public mutating func number(_ name: StaticString, _ text: String) {
        key(name)
        out.append(contentsOf: text.utf8)
    }

    public mutating func bool(_ name: StaticString, _ value: Bool) {
        key(name)
        out.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func constant(_ value: FHIRConstant) {
        if needsComma { out.append(UInt8(ascii: ",")) }
        needsComma = true
        if !inArray { out.append(contentsOf: value.jsonName) }
        out.append(contentsOf: value.json)
    }
}
