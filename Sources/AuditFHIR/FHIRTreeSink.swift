/// Builds ``FHIRNode`` trees from what the mapper writes: for searches that look into an
/// AuditEvent's elements, for imports compared with exports, and for tests.
public struct FHIRTreeSink: FHIRSink {
    /// The resources written so far.
    public private(set) var resources: [FHIRNode] = []

    /// An element being built: its name, whether it is an array, and its members or items.
    private struct Frame {
        var name: String
        var isArray: Bool
        var members: [FHIRNode.Member] = []
        var items: [FHIRNode] = []
    }

    private var frames: [Frame] = []
    private var resourceType = ""

    public init() {}

    private mutating func add(_ name: String, _ value: FHIRNode) {
        guard !frames.isEmpty else { return }
        if frames[frames.count - 1].isArray {
            frames[frames.count - 1].items.append(value)
        } else {
            frames[frames.count - 1].members.append(FHIRNode.Member(name, value))
        }
    }

    public mutating func beginResource(_ type: StaticString, id: String) {
        resourceType = "\(type)"
        frames = [Frame(name: resourceType, isArray: false)]
    }

    public mutating func endResource() {
        guard let frame = frames.popLast() else { return }
        resources.append(.resource(resourceType, frame.members))
    }

    public mutating func resource(_ node: FHIRNode) { resources.append(node) }

    public mutating func beginObject(_ name: StaticString) { frames.append(Frame(name: "\(name)", isArray: false)) }

    public mutating func endObject() {
        guard let frame = frames.popLast() else { return }
        add(frame.name, .object(frame.members))
    }

    public mutating func beginArray(_ name: StaticString) { frames.append(Frame(name: "\(name)", isArray: true)) }

    public mutating func endArray() {
        guard let frame = frames.popLast() else { return }
        add(frame.name, .array(frame.items))
    }

    public mutating func beginExtension(url: FHIRText) {
        frames.append(Frame(name: "extension", isArray: false, members: [FHIRNode.Member("url", .string(url.text))]))
    }

    public mutating func endExtension() { endObject() }

    public mutating func string(_ name: StaticString, _ value: String) { add("\(name)", .string(value)) }

    public mutating func string(_ name: StaticString, _ value: FHIRText) { add("\(name)", .string(value.text)) }

    public mutating func string(_ name: StaticString, utf8 value: UnsafeBufferPointer<UInt8>) {
        add("\(name)", .string(String(decoding: value, as: UTF8.self)))
    }

    public mutating func number(_ name: StaticString, _ text: String) { add("\(name)", .number(text)) }

    public mutating func bool(_ name: StaticString, _ value: Bool) { add("\(name)", .bool(value)) }

    public mutating func constant(_ value: FHIRConstant) { add(value.name, value.node) }
}
