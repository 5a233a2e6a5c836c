public import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    public func forEachCanonical(
        from first: Int64, through last: Int64, _ body: (Int64, ChainHash, UnsafeBufferPointer<UInt8>) throws -> Bool
    ) throws(StoreError) {
        try read { db in
            let statement = try db.makeStatement(sql: "SELECT seq, entry_hash, canonical FROM entry WHERE seq BETWEEN ? AND ? ORDER BY seq")
            let reading = statement.sqliteStatement
            sqlite3_bind_int64(reading, 1, first)
            sqlite3_bind_int64(reading, 2, last)
            let columns = StatementColumns(statement: reading)
            while try StatementColumns.step(reading, db) {
                let seq = columns.int64(0)
                let hash = columns.hash(1)
                let goOn = try columns.withBytes(2) { bytes in
                    try body(seq, hash, bytes ?? UnsafeBufferPointer(start: nil, count: 0))
                }
                if !goOn { break }
            }
            withExtendedLifetime(statement) {}
        }
    }

    /// Seals the retained entries of `ranges` that still hold content, as a purge does (with
    /// `secure_delete`), and appends the archive record. The WAL is not truncated after each
    /// segment, as a purge's is: the content is in the archive, not deleted, and a WAL
    /// truncated each time is grown again block by block (the file system zeroes each new
    /// block). A run truncates it once, at its end.
    public func sealArchived(_ ranges: [ClosedRange<Int64>], record: EncodedEntry) throws(StoreError) -> ChainHead {
        guard !ranges.isEmpty else { throw StoreError(code: .outOfRange, message: "nothing to archive") }
        let limit = try purgeableThrough()
        guard let last = ranges.last?.upperBound, last <= limit, let first = ranges.first?.lowerBound, first >= 1 else {
            throw StoreError(code: .outOfRange, message: "an archive may reach only entries whose postings are written (through \(limit))")
        }
        return try sealingTransaction(what: "archive", truncatingWAL: false) { db in
            var sealed: [ClosedRange<Int64>] = []
            for range in ranges { sealed.append(contentsOf: try Self.retainedRuns(db, range)) }
            for run in sealed { try Self.empty(db, run) }
            if !sealed.isEmpty {
                try Postings.remove(db, sealed: sealed)
                try Postings.setPurgeGeneration(db, try Postings.purgeGeneration(db) + 1)
            }
            return record
        }
    }

    /// `VACUUM`: sealing empties rows in place, leaving their pages allocated and mostly
    /// empty (about 1.4 KB per archived entry on the shared workload); rewriting the file packs
    /// the sealed rows (about 80 bytes each, with the Merkle nodes). Then the WAL, which holds
    /// the rewritten pages, is checkpointed and truncated.
    public func compact() throws(StoreError) {
        do {
            try pool.writeWithoutTransaction { db in
                // The copy `VACUUM` builds (the hot log without the sealed content, small) is
                // kept in memory: as a temporary file, the file system zeroed each block it
                // grew by, which cost more than the copying.
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
                defer { try? db.execute(sql: "PRAGMA temp_store = DEFAULT") }
                try db.execute(sql: "VACUUM")
            }
        } catch {
            throw StoreError(code: .appendFailed, message: "the database could not be compacted: \(Self.reason(error))")
        }
        try checkpoint()
    }

    /// The runs of entries in `range` that hold content of a retained kind.
    private static func retainedRuns(_ db: Database, _ range: ClosedRange<Int64>) throws -> [ClosedRange<Int64>] {
        let statement = try db.makeStatement(sql: "SELECT seq, canonical FROM entry WHERE seq BETWEEN ? AND ? ORDER BY seq")
        let reading = statement.sqliteStatement
        sqlite3_bind_int64(reading, 1, range.lowerBound)
        sqlite3_bind_int64(reading, 2, range.upperBound)
        let columns = StatementColumns(statement: reading)
        let retained = Set(RecordKind.retained.map(\.rawValue))
        var runs: [ClosedRange<Int64>] = []
        var count: Int64 = 0
        while try StatementColumns.step(reading, db) {
            let seq = columns.int64(0)
            count += 1
            let kind = columns.withBytes(1) { bytes -> String? in
                guard let bytes, !bytes.isEmpty else { return nil }
                return CanonicalEntry.text("kind", in: bytes)
            }
            guard let kind, retained.contains(kind) else { continue }
            if let last = runs.last, last.upperBound == seq - 1 {
                runs[runs.count - 1] = last.lowerBound...seq
            } else {
                runs.append(seq...seq)
            }
        }
        withExtendedLifetime(statement) {}
        guard count == Int64(range.count) else {
            throw StoreError(code: .outOfRange, message: "entries \(range.lowerBound)...\(range.upperBound) are not all in the log")
        }
        return runs
    }

    /// The latest chained state of every archive segment: the last `archive` or
    /// `retention_purge` record naming each range wins. `unreadable` is the first archive
    /// record that cannot be read, if any.
    static func archivedSegments(_ db: Database) throws -> (segments: [ArchivedSegment], unreadable: Int64?) {
        let seqs = try Int64.fetchAll(
            db, sql: "SELECT seq FROM entry_kind WHERE kind IN ('archive', 'retention_purge') ORDER BY seq")
        return ArchivedSegment.current(from: try seqs.compactMap { seq in try entry(db, seq: seq) })
    }

    /// The stored hashes of every entry in `range`, sealed or not; `nil` when one is missing.
    static func storedHashes(_ db: Database, _ range: ClosedRange<Int64>) throws -> [ChainHash]? {
        let statement = try db.makeStatement(sql: "SELECT seq, entry_hash FROM entry WHERE seq BETWEEN ? AND ? ORDER BY seq")
        let reading = statement.sqliteStatement
        sqlite3_bind_int64(reading, 1, range.lowerBound)
        sqlite3_bind_int64(reading, 2, range.upperBound)
        let columns = StatementColumns(statement: reading)
        var hashes: [ChainHash] = []
        while try StatementColumns.step(reading, db) {
            guard columns.int64(0) == range.lowerBound + Int64(hashes.count) else { return nil }
            hashes.append(columns.hash(1))
        }
        withExtendedLifetime(statement) {}
        return hashes.count == range.count ? hashes : nil
    }
}
