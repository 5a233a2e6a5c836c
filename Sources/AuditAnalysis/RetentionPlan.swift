public import AuditChain
public import AuditCore
public import AuditStorage

/// What a retention run deletes: every entry of a retained kind (``RecordKind/retained``)
/// whose category's period has ended at `now`, counted from its `recorded_at`, and that no
/// legal hold keeps. The plan is read through the storage protocols; the store carries it out.
///
/// An entry's category is the one recorded in its body when it was written; an entry written
/// before the log recorded categories is classed by its tool name under the policy in force.
/// An entry whose recorded category the policy no longer names is kept: a category removed
/// from the policy never makes its entries expire sooner.
public struct RetentionPlan: Sendable, Hashable {
    /// Entries deleted, by category name.
    public var deleted: [String: Int]
    /// Entries whose period has ended but that a legal hold keeps.
    public var held: Int
    /// The sequence numbers to delete, as ascending, disjoint, non-adjacent ranges.
    public var ranges: [ClosedRange<Int64>]
    /// The sequence number of the configuration entry whose policy was applied (0: defaults).
    public var policyVersion: Int64
    /// The time the periods were judged at (the log's clock).
    public var now: Timestamp

    /// How many entries the plan deletes.
    public var count: Int { deleted.values.reduce(0, +) }

    /// An empty plan, judging periods at `now` under the policy of configuration entry
    /// `policyVersion`.
    public init(policyVersion: Int64, now: Timestamp) {
        self.init(deleted: [:], held: 0, ranges: [], policyVersion: policyVersion, now: now)
    }

    init(deleted: [String: Int], held: Int, ranges: [ClosedRange<Int64>], policyVersion: Int64, now: Timestamp) {
        self.deleted = deleted
        self.held = held
        self.ranges = ranges
        self.policyVersion = policyVersion
        self.now = now
    }

    /// Plans a run over the entries up to `through`.
    public static func make(
        reading store: any EntryReading, policy: RetentionPolicy, policyVersion: Int64, holds: LegalHolds, now: Timestamp,
        through: Int64
    ) throws(StoreError) -> RetentionPlan {
        var plan = RetentionPlan(policyVersion: policyVersion, now: now)
        try plan.consider(reading: store, through: through, policy: policy, holds: holds)
        return plan
    }

    /// Considers every entry of the hot log up to `through` that is old enough to have
    /// expired, in order (entries whose content is elsewhere are passed over).
    ///
    /// No entry recorded after ``oldestExpiring(policy:)`` can have expired, and `recorded_at`
    /// rises with `seq`, so a binary search finds the last entry worth reading: a log whose
    /// entries are all younger than the shortest period is planned without reading any.
    public mutating func consider(reading store: any EntryReading, through: Int64, policy: RetentionPolicy, holds: LegalHolds)
        throws(StoreError)
    {
        guard through >= 1 else { return }
        let after = (oldestExpiring(policy: policy).adding(milliseconds: 1) ?? now).description
        let last = try store.withLogReader { reader in try reader.firstSeq(recordedAtOrAfter: after, through: through) } - 1
        var next: Int64 = 1
        while next <= last {
            let chunk = try store.entries(from: next, through: last, limit: 10_000)
            guard let last = chunk.last else { break }
            for entry in chunk { consider(entry, policy: policy, holds: holds) }
            next = last.seq + 1
        }
    }

    /// The latest `recorded_at` an entry can have and be expired at ``now``: the shortest
    /// period of the policy before it. Entries of a category the policy no longer names never
    /// expire, so they do not lower it.
    public func oldestExpiring(policy: RetentionPolicy) -> Timestamp {
        let days = (policy.categories.map(\.retentionDays) + [policy.default.retentionDays]).min() ?? policy.default.retentionDays
        return now.adding(milliseconds: -Int64(days) * 86_400_000) ?? .minimum
    }

    /// Adds `entry` to the plan when its period has ended and no hold keeps it (counting it as
    /// held when one does). Entries must come in ascending order of sequence number; entries
    /// without content, and the log's own records, are passed over. Returns whether the entry
    /// is to be deleted.
    @discardableResult
    public mutating func consider(_ entry: StoredEntry, policy: RetentionPolicy, holds: LegalHolds) -> Bool {
        let day: Int64 = 86_400_000
        guard RecordKind.retained.contains(entry.content.kind),
            let category = Self.category(of: entry, policy: policy),
            let recorded = Timestamp(rfc3339: entry.recordedAt),
            let ends = recorded.adding(milliseconds: Int64(category.retentionDays) * day), !(now < ends)
        else { return false }
        if holds.holds(entry) {
            held += 1
            return false
        }
        deleted[category.name, default: 0] += 1
        if let lastRange = ranges.last, lastRange.upperBound == entry.seq - 1 {
            ranges[ranges.count - 1] = lastRange.lowerBound...entry.seq
        } else {
            ranges.append(entry.seq...entry.seq)
        }
        return true
    }

    /// The category an entry is kept under: the one its body records, else its tool's; `nil`
    /// when the recorded one is no longer in the policy.
    static func category(of entry: StoredEntry, policy: RetentionPolicy) -> RetentionPolicy.Category? {
        if let recorded = recordedCategory(inBody: entry.content.body) { return policy.category(named: recorded) }
        return policy.category(forTool: entry.content.toolName)
    }

    /// The category recorded as a top-level member of a canonical body, if any.
    public static func recordedCategory(inBody body: String) -> String? {
        var body = body
        return body.withUTF8 { CanonicalEntry.text(RetentionPolicy.bodyMember, in: $0) }
    }

    /// The JSON form `caretrail retention run --format json` prints (with the archive count).
    public func summary(archived: Int) -> JSONValue {
        .object([
            "deleted": .object(deleted.mapValues { .number(Double($0)) }), "held": .number(Double(held)),
            "archived": .number(Double(archived)),
        ])
    }
}
