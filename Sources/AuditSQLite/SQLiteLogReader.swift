import AuditChain
import AuditCore
import AuditStorage
import GRDB
import GRDBSQLite

/// A ``LogReader`` over one SQLite transaction: inside an append, or a read snapshot.
struct SQLiteLogReader: LogReader {
    let db: Database
    let tail: TailIndex

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
        let firstRecorded = try recordedAt(1)
        let end = (through.adding(milliseconds: 61_000) ?? .maximum).description
        // A window that closed before the log began (a backfill into a new log): nothing on time.
        if let firstRecorded, end <= firstRecorded { return nil }
        let low = try firstSeq(recordedAtOrAfter: (after.adding(milliseconds: -skewMS) ?? .minimum).description, through: last)
        let high = min(last, try firstSeq(recordedAtOrAfter: end, through: last) - 1)
        return low <= high ? low...high : nil
    }

    /// The entries before `seq` that accessed `patient` (directly, or as a query whose result
    /// named it) with event time (`timestamp`, else `recorded_at`) in `(after, through]`, in
    /// sequence order: through the patient's posting lists, whose records carry each access's
    /// event time, so only the entries in the window are read.
    public func entries(
        patient: String, eventAfter after: Timestamp, through: Timestamp, before seq: Int64, recorded: ClosedRange<Int64>?
    ) throws -> [StoredEntry] {
        try history(.patient, key: patient, after: after, through: through, before: seq)
    }

    /// The entries before `seq` of `user` with event time in `(after, through]`; see
    /// ``entries(patient:eventAfter:through:before:recorded:)``.
    public func entries(
        user: String, eventAfter after: Timestamp, through: Timestamp, before seq: Int64, recorded: ClosedRange<Int64>?
    ) throws -> [StoredEntry] {
        try history(.user, key: user, after: after, through: through, before: seq)
    }

    private func history(_ kind: Postings.Kind, key: String, after: Timestamp, through: Timestamp, before seq: Int64) throws
        -> [StoredEntry]
    {
        let (low, high) = (after.description, through.description)
        let (lowMS, highMS) = (after.millisecondsSinceEpoch, through.millisecondsSinceEpoch)
        // Complete blocks whose event times miss the window are skipped unread; a patient's
        // postings carry each access's report row, a user's and the tail index each entry's
        // event time, so only the entries in the window are read.
        let shift = Int64(try Postings.blockShift(db))
        let compacted = try Postings.compactedThrough(db)
        let overlapping = try Postings.blocks(db, eventAfter: low, through: high)
        var found: [StoredEntry] = []
        try Postings.visit(db, tail: tail, kind: kind, keys: [key], last: seq - 1, rows: true, blocks: overlapping) { foundSeq, posted in
            switch posted {
            case .access(let row): if row.time <= low || row.time > high { return }
            case .time(let time): if time <= lowMS || time > highMS { return }
            case .unknown: if foundSeq <= compacted, !overlapping.contains((foundSeq - 1) >> shift) { return }
            }
            guard let entry = try SQLiteStore.entry(db, seq: foundSeq) else { return }
            let time = entry.content.timestamp ?? entry.recordedAt
            if time > low && time <= high { found.append(entry) }
        }
        return found
    }

    /// Whether the log may hold a tool call before `seq`: read from the kinds of the first few
    /// entries (a new log's configuration and keys), else assumed.
    public func mayHoldToolCalls(before seq: Int64) throws -> Bool {
        guard seq > 1 else { return false }
        guard seq - 1 <= Self.entriesReadForKinds else { return true }
        let statement = try db.cachedStatement(sql: "SELECT canonical FROM entry WHERE seq < ? ORDER BY seq").sqliteStatement
        sqlite3_reset(statement)
        defer { sqlite3_reset(statement) }
        sqlite3_bind_int64(statement, 1, seq)
        let columns = StatementColumns(statement: statement)
        while try StatementColumns.step(statement, db) {
            // A sealed entry (no bytes) may have been a tool call.
            let kind = columns.withBytes(0) { bytes -> String? in
                guard let bytes, !bytes.isEmpty else { return RecordKind.toolCall.rawValue }
                return CanonicalEntry.text("kind", in: bytes)
            }
            if kind == RecordKind.toolCall.rawValue { return true }
        }
        return false
    }

    /// How many entries ``mayHoldToolCalls(before:)`` reads before it assumes.
    static let entriesReadForKinds: Int64 = 64

    /// The `recorded_at` of the entry at `seq`, read from its canonical bytes alone; `""` for
    /// a sealed entry, whose content a retention run deleted: it is older than anything kept.
    private func recordedAt(_ seq: Int64) throws -> String? {
        let statement = try db.cachedStatement(sql: "SELECT canonical FROM entry WHERE seq = ?").sqliteStatement
        sqlite3_reset(statement)
        defer { sqlite3_reset(statement) }
        sqlite3_bind_int64(statement, 1, seq)
        guard try StatementColumns.step(statement, db) else { return nil }
        return StatementColumns(statement: statement).withBytes(0) { bytes in
            guard let bytes, !bytes.isEmpty else { return "" }
            return CanonicalEntry.text("recorded_at", in: bytes)
        }
    }

    /// The first `seq` in `1...last` whose `recorded_at` is at or after `time` (`last + 1` when
    /// none is). `recorded_at` rises with `seq` (the log's own clock), so this is a binary search.
    public func firstSeq(recordedAtOrAfter time: String, through last: Int64) throws -> Int64 {
        var low: Int64 = 1
        var high = last + 1
        while low < high {
            let middle = low + (high - low) / 2
            if let recordedAt = try recordedAt(middle), recordedAt < time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The chain's head in this transaction.
    public func head() throws -> ChainHead? {
        try SQLiteStore.head(db)
    }

    /// The last entry of `kind` at or before `seq`, if any.
    public func latest(_ kind: RecordKind, atOrBefore seq: Int64) throws -> StoredEntry? {
        try SQLiteStore.entries(db, kind: kind, atOrBefore: seq, limit: 1).first
    }
}
