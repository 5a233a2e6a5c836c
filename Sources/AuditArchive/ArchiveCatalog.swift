import AuditChain
public import AuditStorage

/// The archive's list of current segments, signed with the log's checkpoint key: what
/// `verify-archive` trusts when it has no database. A segment replaced by an earlier
/// generation, dropped or swapped no longer matches the signed list.
///
/// The note's text is a header line, the log's origin, then one line per segment:
/// `<first> <last> <generation> <manifest SHA-256> <root>`.
public struct ArchiveCatalog: Sendable, Equatable {
    public static let objectName = "catalog.note"
    static let header = "caretrail archive catalog v1"

    public var origin: String
    public var segments: [ArchivedSegment]

    public init(origin: String, segments: [ArchivedSegment]) {
        self.origin = origin
        self.segments = segments.sorted { $0.first < $1.first }
    }

    /// The text that is signed.
    public var text: String {
        var lines = [Self.header, origin]
        for segment in segments {
            lines.append("\(segment.first) \(segment.last) \(segment.generation) \(segment.manifestSHA256) \(segment.root.base64)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The catalog of a note's text; `nil` when malformed.
    public init?(text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard text.hasSuffix("\n"), lines.count >= 3, lines[0] == Self.header, !lines[1].isEmpty else { return nil }
        var segments: [ArchivedSegment] = []
        for line in lines.dropFirst(2).dropLast() {
            let fields = line.split(separator: " ")
            guard fields.count == 5, let first = Int64(fields[0]), let last = Int64(fields[1]), let generation = Int(fields[2]),
                SegmentName.isPlausible(first: first, last: last, generation: generation), fields[3].utf8.count == 64,
                let root = ChainHash(base64: String(fields[4]))
            else { return nil }
            segments.append(
                ArchivedSegment(first: first, last: last, root: root, generation: generation, manifestSHA256: String(fields[3])))
        }
        self.init(origin: String(lines[1]), segments: segments)
    }
}
