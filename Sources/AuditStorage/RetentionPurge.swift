public import AuditChain
public import AuditCore

/// The record a retention run chains when it deletes entries' content: which ranges went,
/// the RFC 6962 Merkle root of each range's leaves (so that the kept hashes of the deleted
/// entries stay vouched for by the chain), how many of each category, and under which policy.
///
/// Verify reads these records back: every sealed entry must lie in a recorded range, and each
/// range's stored hashes must still make its recorded root.
public struct RetentionPurge: Sendable, Hashable {
    /// One range of deleted entries and the Merkle root of its leaves.
    public struct SealedRange: Sendable, Hashable {
        public var first: Int64
        public var last: Int64
        public var root: ChainHash

        public init(first: Int64, last: Int64, root: ChainHash) {
            self.first = first
            self.last = last
            self.root = root
        }
    }

    public var ranges: [SealedRange]
    /// Entries deleted, by category.
    public var deleted: [String: Int]
    /// Entries past their period that a legal hold kept.
    public var held: Int
    /// The sequence number of the configuration whose policy applied (0: the defaults).
    public var policyVersion: Int64
    /// The log's time the periods were judged at.
    public var judgedAt: String
    /// The archive segments the run rewrote without the deleted entries' content: their new
    /// generations, which replace the earlier ones.
    public var segments: [ArchivedSegment]

    public init(
        ranges: [SealedRange], deleted: [String: Int], held: Int, policyVersion: Int64, judgedAt: String,
        segments: [ArchivedSegment] = []
    ) {
        self.ranges = ranges
        self.deleted = deleted
        self.held = held
        self.policyVersion = policyVersion
        self.judgedAt = judgedAt
        self.segments = segments
    }

    /// The entry that records this purge.
    public func content(keyID: String) -> EntryContent {
        let ranges: [JSONValue] = ranges.map { range in
            .object(["first": .number(Double(range.first)), "last": .number(Double(range.last)), "root": .string(range.root.base64)])
        }
        var purge: [String: JSONValue] = [
            "ranges": .array(ranges), "deleted": .object(deleted.mapValues { .number(Double($0)) }),
            "held": .number(Double(held)), "policy_version": .number(Double(policyVersion)), "judged_at": .string(judgedAt),
        ]
        if !segments.isEmpty { purge["segments"] = .array(segments.map(\.jsonValue)) }
        return EntryContent(
            kind: .retentionPurge, tenantID: "*", userID: "caretrail", model: "caretrail", keyID: keyID,
            body: ["retention_purge": .object(purge)]
        )
    }

    /// Reads a purge record; `nil` when the entry is not one or is malformed.
    public init?(_ entry: StoredEntry) {
        guard entry.content.kind == .retentionPurge, case .object(let body)? = try? JSONParser.parse(entry.content.body),
            case .object(let purge)? = body["retention_purge"], let list = purge["ranges"]?.arrayValue
        else { return nil }
        var ranges: [SealedRange] = []
        for case .object(let range) in list {
            guard let first = range["first"]?.numberValue.flatMap(Int64.init(exactly:)),
                let last = range["last"]?.numberValue.flatMap(Int64.init(exactly:)),
                let root = range["root"]?.stringValue.flatMap(ChainHash.init(base64:)), first >= 1, first <= last
            else { return nil }
            ranges.append(SealedRange(first: first, last: last, root: root))
        }
        guard ranges.count == list.count, let segments = ArchivedSegment.list(purge["segments"]) else { return nil }
        var deleted: [String: Int] = [:]
        if case .object(let counts)? = purge["deleted"] {
            for (name, value) in counts { deleted[name] = value.numberValue.flatMap(Int.init(exactly:)) ?? 0 }
        }
        self.init(
            ranges: ranges, deleted: deleted, held: purge["held"]?.numberValue.flatMap(Int.init(exactly:)) ?? 0,
            policyVersion: purge["policy_version"]?.numberValue.flatMap(Int64.init(exactly:)) ?? 0,
            judgedAt: purge["judged_at"]?.stringValue ?? "", segments: segments)
    }
}

/// Deleting entries' content when their retention period has ended.
public protocol EntryPurging: Sendable {
    /// Seals the entries in `ranges` (ascending, disjoint): deletes their content, and every
    /// posting and report record derived from it, so that no byte of it remains in the
    /// database file or its journal, and keeps each entry's sequence number and hash for the
    /// chain and the Merkle tree. In the same transaction it appends the record `purge`
    /// makes from the ranges' Merkle roots. All of it happens, or none.
    ///
    /// Only entries of retained kinds (``RecordKind/retained``) whose postings are written can
    /// be sealed; anything else fails with `outOfRange` and changes nothing.
    func purge(_ ranges: [ClosedRange<Int64>], record: ([RetentionPurge.SealedRange]) -> EncodedEntry) throws(StoreError)
        -> ChainHead
    /// The last sequence number a purge may reach now (entries whose postings are written).
    func purgeableThrough() throws(StoreError) -> Int64
}

/// Moving entries' content to the cold archive.
public protocol EntryArchiving: Sendable {
    /// Calls `body` with every entry of `first...last` in order: its sequence number, its hash
    /// and its canonical bytes, empty when its content left the hot log. `body` returns
    /// `false` to stop.
    func forEachCanonical(
        from first: Int64, through last: Int64, _ body: (Int64, ChainHash, UnsafeBufferPointer<UInt8>) throws -> Bool
    ) throws(StoreError)
    /// Seals the entries of retained kinds in `ranges` whose content is still in the hot log
    /// (it now lives in the archive segments `record` names), removes their postings, and
    /// appends `record`, in one transaction, with freed bytes overwritten. All of it happens,
    /// or none.
    func sealArchived(_ ranges: [ClosedRange<Int64>], record: EncodedEntry) throws(StoreError) -> ChainHead
    /// Rewrites the hot log's storage so that the space sealed entries no longer use is given
    /// back: sealing empties rows in place, and the pages that held them stay allocated.
    /// Writers wait while it runs.
    func compact() throws(StoreError)
}
