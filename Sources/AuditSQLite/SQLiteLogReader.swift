import AuditChain
import AuditCore
import AuditStorage
import GRDB

/// A ``LogReader`` over one SQLite transaction: inside an append, or a read snapshot.
struct SQLiteLogReader: LogReader {
    let db: Database

    /// The entries with `seq` from `first` through `last`, in order.
    public func entries(from first: Int64, through last: Int64) throws -> [StoredEntry] {
        try SQLiteStore.fetchEntries(db, where: "seq BETWEEN ? AND ?", arguments: [first, last])
    }

    /// The sequence numbers of the entries recorded while events of `(after, through]` could
    /// still arrive on time: from `after - skew` to a minute past `through`, before `seq`.
    /// `nil` when there are none.
    public func recordedRange(eventAfter after: Timestamp, through: Timestamp, before seq: Int64, skewMS: Int64) throws -> ClosedRange<
        Int64
    >? {
        let last = seq - 1
        guard last >= 1 else { return nil }
        let firstRecorded = try String.fetchOne(db.cachedStatement(sql: "SELECT recorded_at FROM entry WHERE seq = 1"))
        let end = (through.adding(milliseconds: 61_000) ?? .maximum).description
        // A window that closed before the log began (a backfill into a new log): nothing on time.
        if let firstRecorded, end <= firstRecorded { return nil }
        let low = try firstSeq(recordedAtOrAfter: (after.adding(milliseconds: -skewMS) ?? .minimum).description, through: last)
        let high = min(last, try firstSeq(recordedAtOrAfter: end, through: last) - 1)
        return low <= high ? low...high : nil
    }

    /// The entries before `seq` that accessed `patient` (directly, or as a query whose result
    /// named it) with event time (`timestamp`, else `recorded_at`) in `(after, through]`, in
    /// sequence order. `recorded` is ``recordedRange(eventAfter:through:before:skewMS:)``.
    ///
    /// Entries recorded within a minute of their event time are found through the sequence
    /// buckets of `recorded`; later ones through the late-entry indexes; queries' patients
    /// through their patient and event time.
    public func entries(
        patient: String, eventAfter after: Timestamp, through: Timestamp, before seq: Int64, recorded: ClosedRange<Int64>?
    ) throws -> [StoredEntry] {
        var found: [Int64: StoredEntry] = [:]
        for entry in try SQLiteStore.fetchEntries(
            db,
            where: "seq IN (SELECT seq FROM entry_patient WHERE patient_id = ? AND at > ? AND at <= ?) AND seq < ?",
            arguments: [patient, after.description, through.description, seq]
        ) {
            found[entry.seq] = entry
        }
        try history(
            bucketWhere: "(seq >> 12) = ? AND patient_id = ?", bucketArguments: { [$0, patient] },
            lateWhere: "patient_id = ? AND patient_id IS NOT NULL", key: patient,
            after: after, through: through, before: seq, recorded: recorded, into: &found
        )
        return Self.inWindow(found, after: after, through: through)
    }

    /// The entries before `seq` of `user` with event time in `(after, through]`; see
    /// ``entries(patient:eventAfter:through:before:recorded:)``.
    public func entries(
        user: String, eventAfter after: Timestamp, through: Timestamp, before seq: Int64, recorded: ClosedRange<Int64>?
    ) throws -> [StoredEntry] {
        var found: [Int64: StoredEntry] = [:]
        try history(
            bucketWhere: "(seq >> 12) = ? AND user_id = ?", bucketArguments: { [$0, user] },
            lateWhere: "user_id = ?", key: user, after: after, through: through, before: seq, recorded: recorded, into: &found
        )
        return Self.inWindow(found, after: after, through: through)
    }

    private static func inWindow(_ found: [Int64: StoredEntry], after: Timestamp, through: Timestamp) -> [StoredEntry] {
        let (low, high) = (after.description, through.description)
        return found.values.filter {
            let time = $0.content.timestamp ?? $0.recordedAt
            return time > low && time <= high
        }.sorted { $0.seq < $1.seq }
    }

    private func history(
        bucketWhere: String, bucketArguments: (Int64) -> StatementArguments, lateWhere: String, key: String,
        after: Timestamp, through: Timestamp, before seq: Int64, recorded: ClosedRange<Int64>?,
        into found: inout [Int64: StoredEntry]
    ) throws {
        if let recorded {
            for bucket in (recorded.lowerBound >> 12)...(recorded.upperBound >> 12) {
                var arguments = bucketArguments(bucket)
                arguments += [recorded.lowerBound, recorded.upperBound]
                for entry in try SQLiteStore.fetchEntries(db, where: "\(bucketWhere) AND seq BETWEEN ? AND ?", arguments: arguments) {
                    found[entry.seq] = entry
                }
            }
        }
        // Late: through the partial indexes, whose condition the query repeats word for word.
        for entry in try SQLiteStore.fetchEntries(
            db,
            where: "\(lateWhere) AND coalesce(timestamp, recorded_at) > ? AND coalesce(timestamp, recorded_at) <= ? "
                + "AND julianday(recorded_at) - julianday(timestamp) > 0.0007 AND seq < ?",
            arguments: [key, after.description, through.description, seq]
        ) {
            found[entry.seq] = entry
        }
    }

    /// The first `seq` in `1...last` whose `recorded_at` is at or after `time` (`last + 1` when
    /// none is). `recorded_at` rises with `seq` (the log's own clock), so this is a binary search.
    public func firstSeq(recordedAtOrAfter time: String, through last: Int64) throws -> Int64 {
        var low: Int64 = 1
        var high = last + 1
        while low < high {
            let middle = low + (high - low) / 2
            let recordedAt = try String.fetchOne(
                db.cachedStatement(sql: "SELECT recorded_at FROM entry WHERE seq = ?"), arguments: [middle]
            )
            if let recordedAt, recordedAt < time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The chain's head in this transaction.
    public func head() throws -> ChainHead? {
        try SQLiteStore.head(db)
    }

    /// The last entry of `kind` at or before `seq`, if any.
    public func latest(_ kind: RecordKind, atOrBefore seq: Int64) throws -> StoredEntry? {
        try SQLiteStore.fetchEntries(
            db, where: "\(SQLiteStore.kindFilter(kind)) AND seq <= ?", arguments: [seq], limit: 1, order: "seq DESC"
        ).first
    }
}
