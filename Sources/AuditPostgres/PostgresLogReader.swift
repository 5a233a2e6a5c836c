import AuditChain
import AuditCore
import AuditStorage
import Logging
import NIOCore
import PostgresNIO

/// A ``LogReader`` over one PostgreSQL transaction: inside an append (holding the log's
/// advisory lock), or a repeatable-read snapshot.
struct PostgresLogReader: LogReader {
    let connection: PostgresConnection
    let logger: Logger
    /// Inside an append: rows appended and not yet sent, sent before any read.
    var pending: PendingRows? = nil

    func entries(from first: Int64, through last: Int64) throws -> [StoredEntry] {
        try pending?.flush()
        return try PostgresStore.entries(connection, logger, from: first, through: last, limit: Int(Int32.max))
    }

    func head() throws -> ChainHead? {
        try pending?.flush()
        return try PostgresStore.head(connection, logger)
    }

    func latest(_ kind: RecordKind, atOrBefore seq: Int64) throws -> StoredEntry? {
        try pending?.flush()
        return try PostgresStore.entries(connection, logger, kind: kind, atOrBefore: seq, newestFirst: true).first
    }

    /// The first `seq` in `1...last` whose `recorded_at` is at or after `time` (`last + 1` when
    /// none is): `recorded_at` rises with `seq`, and the spine indexes both, so this is the
    /// first row of one index range. Written as `min(seq)`, PostgreSQL walked the primary key
    /// from the first entry instead, reading every entry before the time (1.7 s for the last
    /// hour of a log of ten million).
    func firstSeq(recordedAtOrAfter time: String, through last: Int64) throws -> Int64 {
        try pending?.flush()
        let rows = try connection.rows(
            "SELECT seq FROM caretrail_chain WHERE recorded_at >= \(time) AND seq <= \(last) ORDER BY recorded_at, seq LIMIT 1", logger)
        return try rows.first?.decode(Int64.self) ?? last + 1
    }

    /// The sequence numbers of the entries recorded while events of `(after, through]` could
    /// still arrive on time: from `after - skew` to a minute past `through`, before `seq`.
    func recordedRange(eventAfter after: Timestamp, through: Timestamp, before seq: Int64, skewMS: Int64) throws -> ClosedRange<Int64>? {
        try pending?.flush()
        let last = seq - 1
        guard last >= 1 else { return nil }
        let end = (through.adding(milliseconds: 61_000) ?? .maximum).description
        let first = try connection.rows("SELECT recorded_at FROM caretrail_chain WHERE seq = 1", logger).first?.decode(String.self)
        // A window that closed before the log began (a backfill into a new log): nothing on time.
        if let first, end <= first { return nil }
        let low = try firstSeq(recordedAtOrAfter: (after.adding(milliseconds: -skewMS) ?? .minimum).description, through: last)
        let high = min(last, try firstSeq(recordedAtOrAfter: end, through: last) - 1)
        return low <= high ? low...high : nil
    }

    func entries(
        patient: String, eventAfter after: Timestamp, through: Timestamp, before seq: Int64, recorded: ClosedRange<Int64>?
    ) throws -> [StoredEntry] {
        try history(.patient, patient, after: after, through: through, before: seq)
    }

    func entries(
        user: String, eventAfter after: Timestamp, through: Timestamp, before seq: Int64, recorded: ClosedRange<Int64>?
    ) throws -> [StoredEntry] {
        try history(.user, user, after: after, through: through, before: seq)
    }

    /// The entries filed under a key before `seq` whose event time is in `(after, through]`:
    /// the keys carry each entry's event time, so only those entries are read.
    private func history(_ kind: EntryKeys.Kind, _ key: String, after: Timestamp, through: Timestamp, before seq: Int64) throws
        -> [StoredEntry]
    {
        try pending?.flush()
        return try PostgresStore.decode(
            connection.rows(
                """
                SELECT e.seq, c.entry_hash, e.canonical FROM caretrail_key k JOIN caretrail_entry e ON e.seq = k.seq \
                JOIN caretrail_chain c ON c.seq = k.seq \
                WHERE k.kind = \(Int16(kind.rawValue)) AND k.key = \(key) AND k.seq < \(seq) \
                AND k.event_time > \(after.description) AND k.event_time <= \(through.description) ORDER BY k.seq
                """, logger))
    }

    func mayHoldToolCalls(before seq: Int64) throws -> Bool {
        try pending?.flush()
        return try connection.rows("SELECT EXISTS (SELECT 1 FROM caretrail_call WHERE seq < \(seq))", logger).first?.decode(Bool.self)
            ?? true
    }
}
