/// The names of a segment's objects: `segment-<first>-<last>.g<generation>.<part>`, with the
/// sequence numbers written in twelve digits so that names sort in chain order.
public struct SegmentName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The parts a segment is written in.
    public enum Part: String, Sendable, CaseIterable {
        /// The entries' canonical bytes, in deflate frames.
        case data
        /// Patients, users and traces to the entries that name them.
        case index
        /// What the segment holds and how to check it.
        case manifest = "manifest.json"
    }

    public var first: Int64
    public var last: Int64
    public var generation: Int

    public init(first: Int64, last: Int64, generation: Int) {
        self.first = first
        self.last = last
        self.generation = generation
    }

    public var range: ClosedRange<Int64> { first...last }

    /// The object name of one part.
    public func object(_ part: Part) -> String { "\(self).\(part.rawValue)" }

    public var description: String { "segment-\(Self.digits(first))-\(Self.digits(last)).g\(generation)" }

    /// The most entries one segment may cover, as `caretrail archive --segment-entries` allows.
    public static let maximumEntries: Int64 = 1_048_576
    /// The highest generation a segment may reach: one per retention run that rewrites it.
    public static let maximumGeneration = 1_000_000

    /// Whether a range and generation read from outside (an object name, a manifest, the
    /// catalog) are within what the archive writes, so that no arithmetic on them overflows.
    public static func isPlausible(first: Int64, last: Int64, generation: Int) -> Bool {
        first >= 1 && first <= last && last < 1 << 53 && last - first < maximumEntries
            && (1...maximumGeneration).contains(generation)
    }

    /// Reads an object name; `nil` when it is not a segment's.
    public init?(object name: String) {
        guard name.hasPrefix("segment-") else { return nil }
        let parts = name.dropFirst("segment-".count).split(separator: ".", maxSplits: 2)
        guard parts.count == 3, Part(rawValue: String(parts[2])) != nil, parts[1].hasPrefix("g"),
            let generation = Int(parts[1].dropFirst())
        else { return nil }
        let bounds = parts[0].split(separator: "-")
        guard bounds.count == 2, bounds.allSatisfy({ $0.count == 12 }), let first = Int64(bounds[0]), let last = Int64(bounds[1]),
            Self.isPlausible(first: first, last: last, generation: generation)
        else { return nil }
        self.init(first: first, last: last, generation: generation)
    }

    /// The part an object name holds; `nil` when it is not a segment's.
    public static func part(ofObject name: String) -> Part? {
        guard SegmentName(object: name) != nil, let dot = name.split(separator: ".", maxSplits: 2).last else { return nil }
        return Part(rawValue: String(dot))
    }

    public static func < (lhs: SegmentName, rhs: SegmentName) -> Bool {
        (lhs.first, lhs.last, lhs.generation) < (rhs.first, rhs.last, rhs.generation)
    }

    private static func digits(_ value: Int64) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 12 - text.count)) + text
    }
}
