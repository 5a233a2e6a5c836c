import AuditChain
public import AuditStorage
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// What `caretrail init` adds to a log made by an earlier CareTrail: the report records and the
/// counters of tool statistics it did not keep.
extension PostgresStore {
    /// How many entries one step of ``fillAccessRecords()`` looks at.
    static let fillStep: Int64 = 10_000

    /// Writes the report records that entries written before the log kept them lack, a range
    /// of sequence numbers per transaction, while servers may go on appending; returns how many
    /// were written. Reports are right without them (an entry without a record is read whole),
    /// only slower.
    public func fillAccessRecords() throws(StoreError) -> Int {
        let last = try head()?.seq ?? 0
        var written = 0
        var first: Int64 = 1
        while first <= last {
            let through = min(last, first + Self.fillStep - 1)
            written += try fillAccessRecords(from: first, through: through)
            first = through + 1
        }
        return written
    }

    private func fillAccessRecords(from first: Int64, through last: Int64) throws(StoreError) -> Int {
        try withConnection { connection, logger in
            let entries = try Self.decode(
                connection.rows(
                    """
                    SELECT e.seq, c.entry_hash, e.canonical FROM caretrail_entry e JOIN caretrail_chain c ON c.seq = e.seq \
                    WHERE e.seq IN (SELECT k.seq FROM caretrail_key k WHERE k.seq BETWEEN \(first) AND \(last) \
                    AND k.kind = \(Int16(EntryKeys.Kind.patient.rawValue)) \
                    AND NOT EXISTS (SELECT 1 FROM caretrail_access a WHERE a.patient = k.key AND a.seq = k.seq)) \
                    ORDER BY e.seq
                    """, logger))
            guard !entries.isEmpty else { return 0 }
            var columns = ContentColumns()
            for entry in entries { columns.addAccesses(of: entry, keys: EntryKeys(entry, scanningBody: false)) }
            try connection.run(
                """
                INSERT INTO caretrail_access (patient, seq, record) \
                SELECT * FROM unnest(\(columns.accessPatients)::text[], \(columns.accessSeqs)::bigint[], \
                \(columns.accessRecords)::bytea[]) ON CONFLICT DO NOTHING
                """, logger)
            return columns.accessSeqs.count
        }
    }
}

extension PostgresStore {
    /// Counts the tool calls of a log made before the counters per tool and day were kept
    /// into them, from `caretrail_call`, when the counters are empty and there are calls; run
    /// by ``install()`` under the append lock, so that no commit falls between. The duration
    /// buckets are computed as ``ToolStatistics/bucket(_:)`` computes them (`numeric` rounds
    /// half away from zero, as Swift's `rounded()` does).
    static func fillToolCounters(_ connection: PostgresConnection, _ logger: Logger) throws {
        let needed =
            try connection.rows(
                "SELECT NOT EXISTS (SELECT 1 FROM caretrail_tool_day) AND EXISTS (SELECT 1 FROM caretrail_call)", logger
            ).first?.decode(Bool.self) ?? false
        guard needed else { return }
        let bucket =
            "CASE WHEN duration_ms > 0 THEN round((ln(duration_ms) * \(ToolStatistics.bucketsPerE))::numeric)::bigint "
            + "ELSE \(ToolStatistics.zeroBucket) END"
        for statement in [
            """
            INSERT INTO caretrail_tool_day (tool_name, day, calls, failures, timed, duration_sum) \
            SELECT tool_name, day, count(*), count(*) FILTER (WHERE failed), count(duration_ms), coalesce(sum(duration_ms), 0) \
            FROM caretrail_call GROUP BY tool_name, day
            """,
            """
            INSERT INTO caretrail_tool_day_duration (tool_name, day, bucket, calls) \
            SELECT tool_name, day, \(bucket), count(*) FROM caretrail_call WHERE duration_ms IS NOT NULL GROUP BY 1, 2, 3
            """,
            "INSERT INTO caretrail_tool_day_user (tool_name, day, user_id) SELECT DISTINCT tool_name, day, user_id FROM caretrail_call",
        ] {
            try connection.run(PostgresQuery(unsafeSQL: statement), logger)
        }
    }
}
