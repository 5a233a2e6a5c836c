public import AuditChain
public import AuditCore
public import AuditStorage
import Logging
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// Keys and counts are written with each entry, so any entry may be purged.
    public func purgeableThrough() throws(StoreError) -> Int64 {
        try head()?.seq ?? 0
    }

    /// Deletes the content of the entries in `ranges` (their canonical bytes, keys and counts)
    /// and chains the purge record, in one transaction; the spine keeps each entry's sequence
    /// number and hash. Then drops the month partitions left empty.
    ///
    /// The deletes pass the tables' append-only triggers only with `caretrail.retention` set
    /// for the transaction, and only for a role granted `caretrail_retention`.
    public func purge(_ ranges: [ClosedRange<Int64>], record: ([RetentionPurge.SealedRange]) -> EncodedEntry) throws(StoreError)
        -> ChainHead
    {
        try Self.checkAscending(ranges)
        let head = try sealing(ranges) { connection, logger in
            var sealed: [RetentionPurge.SealedRange] = []
            for range in ranges {
                let foreign =
                    try connection.rows(
                        """
                        SELECT count(*)::bigint FROM caretrail_entry WHERE seq BETWEEN \(range.lowerBound) AND \(range.upperBound) \
                        AND kind <> ALL(\(Self.retainedKinds)::text[])
                        """, logger
                    ).first?.decode(Int64.self) ?? 0
                guard foreign == 0 else {
                    throw StoreError(code: .outOfRange, message: "entries \(range) hold records a purge may not delete")
                }
                let hashes = try connection.rows(
                    "SELECT entry_hash FROM caretrail_chain WHERE seq BETWEEN \(range.lowerBound) AND \(range.upperBound) ORDER BY seq",
                    logger
                ).map { ChainHash(unchecked: Array(buffer: try $0.decode(ByteBuffer.self))) }
                guard hashes.count == range.count else {
                    throw StoreError(code: .outOfRange, message: "the log does not hold entries \(range)")
                }
                sealed.append(
                    RetentionPurge.SealedRange(first: range.lowerBound, last: range.upperBound, root: MerkleTree.root(ofEntries: hashes)))
                try Self.deleteContent(connection, logger, range, onlyRetained: false)
            }
            return record(sealed)
        }
        try compact()
        return head
    }

    /// Calls `body` with every entry of `first...last` in order: its sequence number, its hash
    /// and its canonical bytes, empty when its content left the database.
    public func forEachCanonical(
        from first: Int64, through last: Int64, _ body: (Int64, ChainHash, UnsafeBufferPointer<UInt8>) throws -> Bool
    ) throws(StoreError) {
        var next = first
        while next <= last {
            let rows = try withConnection { connection, logger in
                try connection.rows(
                    """
                    SELECT c.seq, c.entry_hash, e.canonical FROM caretrail_chain c LEFT JOIN caretrail_entry e ON e.seq = c.seq \
                    WHERE c.seq BETWEEN \(next) AND \(last) ORDER BY c.seq LIMIT \(Int64(Self.page))
                    """, logger
                ).map { try $0.decode((Int64, ByteBuffer, ByteBuffer?).self) }
            }
            for (seq, hash, canonical) in rows {
                let more: Bool
                do {
                    more = try (canonical ?? ByteBuffer()).withUnsafeReadableBytes { raw in
                        try body(seq, ChainHash(unchecked: Array(buffer: hash)), raw.bindMemory(to: UInt8.self))
                    }
                } catch let error as StoreError {
                    throw error
                } catch {
                    throw StoreError(code: .readFailed, message: "reading the log stopped: \(Self.reason(error))")
                }
                guard more else { return }
            }
            guard let lastRow = rows.last, rows.count == Self.page else { return }
            next = lastRow.0 + 1
        }
    }

    /// Deletes the content of the retained entries in `ranges` (it now lives in the archive
    /// segments `record` names) and appends `record`, in one transaction.
    public func sealArchived(_ ranges: [ClosedRange<Int64>], record: EncodedEntry) throws(StoreError) -> ChainHead {
        try Self.checkAscending(ranges)
        let head = try sealing(ranges) { connection, logger in
            for range in ranges { try Self.deleteContent(connection, logger, range, onlyRetained: true) }
            return record
        }
        try compact()
        return head
    }

    /// Drops the month partitions whose entries have all left the database (autovacuum gives
    /// back the space of deleted rows in the others). Needs `caretrail_retention`.
    public func compact() throws(StoreError) {
        try withConnection { connection, logger in try connection.run("SELECT caretrail_drop_empty_partitions()", logger) }
    }

    /// The kinds whose content retention and archive runs may delete, as stored.
    static let retainedKinds = RecordKind.retained.map(\.rawValue).sorted()

    private static func checkAscending(_ ranges: [ClosedRange<Int64>]) throws(StoreError) {
        guard !ranges.isEmpty else { throw StoreError(code: .outOfRange, message: "nothing to seal") }
        for (index, range) in ranges.enumerated()
        where range.lowerBound < 1 || index > 0 && ranges[index - 1].upperBound >= range.lowerBound {
            throw StoreError(code: .outOfRange, message: "ranges must ascend from 1 without overlapping")
        }
    }

    /// Runs `seal` inside an appending transaction with the retention path open, and appends
    /// the record it returns; returns the head after it.
    private func sealing(_ ranges: [ClosedRange<Int64>], _ seal: (PostgresConnection, Logger) throws -> EncodedEntry) throws(StoreError)
        -> ChainHead
    {
        do {
            return try withConnection { connection, logger in
                try appending(connection, logger) { sink in
                    guard let last = ranges.last?.upperBound, last <= sink.head?.seq ?? 0 else {
                        throw StoreError(code: .outOfRange, message: "the ranges reach past the head")
                    }
                    try connection.run("SET LOCAL caretrail.retention = 'on'", logger)
                    let record = try seal(connection, logger)
                    try connection.run("SET LOCAL caretrail.retention = 'off'", logger)
                    try sink.append([record])
                    // swift-format-ignore: NeverForceUnwrap
                    return sink.head!
                }
            }
        } catch {
            observer?.appendRolledBack()
            if error.code == .outOfRange { throw error }
            throw StoreError(code: .appendFailed, message: "nothing was sealed: \(error.message)")
        }
    }

    /// Deletes the report records, keys, counts and canonical bytes of the entries in `range` (of retained kinds
    /// only, when `onlyRetained`).
    private static func deleteContent(_ connection: PostgresConnection, _ logger: Logger, _ range: ClosedRange<Int64>, onlyRetained: Bool)
        throws
    {
        let kinds = onlyRetained ? retainedKinds : RecordKind.allCases.map(\.rawValue)
        let (first, last) = (range.lowerBound, range.upperBound)
        for table in ["caretrail_access", "caretrail_key", "caretrail_call"] {
            try connection.run(
                """
                DELETE FROM \(unescaped: table) WHERE seq BETWEEN \(first) AND \(last) AND seq IN \
                (SELECT seq FROM caretrail_entry WHERE seq BETWEEN \(first) AND \(last) AND kind = ANY(\(kinds)::text[]))
                """, logger)
        }
        try connection.run(
            "DELETE FROM caretrail_entry WHERE seq BETWEEN \(first) AND \(last) AND kind = ANY(\(kinds)::text[])", logger)
    }
}
