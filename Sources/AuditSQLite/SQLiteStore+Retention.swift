public import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    /// The last sequence number a purge may reach: entries whose block has postings, so that
    /// no reader holds them in the in-memory ``TailIndex``.
    public func purgeableThrough() throws(StoreError) -> Int64 {
        compactPostingsNow()
        return try read { db in try Postings.compactedThrough(db) }
    }

    /// Seals the entries in `ranges` and chains the purge record, in one transaction, with
    /// SQLite's `secure_delete` on so that freed bytes are overwritten with zeros; then
    /// truncates the WAL, which held the pages as they were before.
    ///
    /// A sealed entry keeps its row: its sequence number, its hash and empty canonical bytes
    /// (about 45 bytes in the table). Its posting rows lose its sequence number and report
    /// record, its kind-index row goes, and a posting left empty is deleted with its key.
    public func purge(_ ranges: [ClosedRange<Int64>], record: ([RetentionPurge.SealedRange]) -> EncodedEntry) throws(StoreError)
        -> ChainHead
    {
        guard !ranges.isEmpty else { throw StoreError(code: .outOfRange, message: "nothing to purge") }
        for (index, range) in ranges.enumerated() where index > 0 && ranges[index - 1].upperBound >= range.lowerBound {
            throw StoreError(code: .outOfRange, message: "purge ranges must ascend without overlapping")
        }
        let limit = try purgeableThrough()
        guard let first = ranges.first?.lowerBound, first >= 1, let last = ranges.last?.upperBound, last <= limit else {
            throw StoreError(code: .outOfRange, message: "a purge may reach only entries whose postings are written (through \(limit))")
        }
        return try sealingTransaction(what: "purge") { db in
            var sealed: [RetentionPurge.SealedRange] = []
            let archived = try Self.archivedSegments(db).segments.map(\.range)
            for range in ranges {
                sealed.append(try Self.seal(db, range, archived: archived))
            }
            try Postings.remove(db, sealed: ranges)
            try Postings.setPurgeGeneration(db, try Postings.purgeGeneration(db) + 1)
            return record(sealed)
        }
    }

    /// Runs `seal` and appends the record it returns, in one immediate transaction with
    /// SQLite's `secure_delete` on, so that freed bytes are overwritten with zeros; then, with
    /// `truncatingWAL` (a purge), truncates the WAL, which still holds the pages as they were
    /// before, moving the new pages into the database file. An archive run, whose content is
    /// kept in the archive, truncates it once at its end instead.
    func sealingTransaction(what: String, truncatingWAL: Bool = true, _ seal: (Database) throws -> EncodedEntry) throws(StoreError)
        -> ChainHead
    {
        do {
            let head = try pool.writeWithoutTransaction { db -> ChainHead in
                // A statement's journal holds the pages it changes: in memory (statements are
                // kept small, see `empty`), not written to a temporary file on disk, where a
                // purged entry's old content would land and the file system zeroes each block.
                try db.execute(sql: "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY")
                defer { try? db.execute(sql: "PRAGMA secure_delete = OFF; PRAGMA temp_store = DEFAULT") }
                var head: ChainHead?
                try db.inTransaction(.immediate) {
                    let entry = try seal(db)
                    var sink = AppendSink(db: db, store: self, head: try Self.head(db))
                    head = try sink.append([entry]).last
                    return .commit
                }
                guard let head else { throw StoreError(code: .appendFailed, message: "the \(what) record was not appended") }
                return head
            }
            if truncatingWAL { try checkpoint() }
            return head
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .appendFailed, message: "the \(what) was not made: \(Self.reason(error))")
        }
    }

    /// Seals one range: checks that every entry in it is a retained kind with content, or an
    /// entry whose content moved to an `archived` segment, then empties their canonical bytes
    /// and removes their kind-index rows; returns the range's Merkle root.
    private static func seal(_ db: Database, _ range: ClosedRange<Int64>, archived: [ClosedRange<Int64>]) throws
        -> RetentionPurge.SealedRange
    {
        let statement = try db.makeStatement(sql: "SELECT seq, canonical, entry_hash FROM entry WHERE seq BETWEEN ? AND ? ORDER BY seq")
        let reading = statement.sqliteStatement
        sqlite3_bind_int64(reading, 1, range.lowerBound)
        sqlite3_bind_int64(reading, 2, range.upperBound)
        let columns = StatementColumns(statement: reading)
        var hashes: [ChainHash] = []
        hashes.reserveCapacity(Int(range.count))
        let retained = Set(RecordKind.retained.map(\.rawValue))
        while try StatementColumns.step(reading, db) {
            let seq = columns.int64(0)
            let kind = columns.withBytes(1) { bytes -> String? in
                guard let bytes, !bytes.isEmpty else { return nil }
                return CanonicalEntry.text("kind", in: bytes)
            }
            let isArchived = kind == nil && archived.contains { $0.contains(seq) }
            guard isArchived || kind.map(retained.contains) == true, seq == range.lowerBound + Int64(hashes.count) else {
                throw StoreError(code: .outOfRange, message: "entry \(seq) cannot be purged: sealed already, or not a retained kind")
            }
            hashes.append(columns.hash(2))
        }
        withExtendedLifetime(statement) {}
        guard hashes.count == range.count else {
            throw StoreError(code: .outOfRange, message: "entries \(range.lowerBound)...\(range.upperBound) are not all in the log")
        }
        try empty(db, range)
        return RetentionPurge.SealedRange(first: range.lowerBound, last: range.upperBound, root: MerkleTree.root(ofEntries: hashes))
    }

    /// Empties the canonical bytes of the entries in `range` and removes their kind-index
    /// rows, 4,096 entries per statement: each statement's journal (kept in memory by the
    /// sealing transaction) holds the pages it changes, about 6 MB at a time rather than
    /// every page of the range.
    static func empty(_ db: Database, _ range: ClosedRange<Int64>) throws {
        var first = range.lowerBound
        while first <= range.upperBound {
            let last = min(range.upperBound, first + 4_095)
            try db.cachedStatement(sql: "UPDATE entry SET canonical = '' WHERE seq BETWEEN ? AND ?").execute(arguments: [first, last])
            first = last + 1
        }
        try db.execute(sql: "DELETE FROM entry_kind WHERE seq BETWEEN ? AND ?", arguments: [range.lowerBound, range.upperBound])
    }

    /// Every purge record of the chain with `seq > after`, in order.
    static func purgeRecords(_ db: Database, after: Int64) throws -> [(seq: Int64, purge: RetentionPurge?)] {
        let seqs = try Int64.fetchAll(
            db, sql: "SELECT seq FROM entry_kind WHERE kind = 'retention_purge' AND seq > ? ORDER BY seq", arguments: [after])
        return try seqs.map { seq in (seq, try entry(db, seq: seq).flatMap(RetentionPurge.init)) }
    }

    /// What is wrong with the sealed entries: one that no purge record covers, a record that
    /// cannot be read, a recorded range holding content again, or a range whose stored hashes
    /// no longer make its recorded root. `sealed` is every sealed run a full scan found; `nil`
    /// for an incremental pass, which checks only the records after `after`.
    static func sealedProblem(_ db: Database, sealed: [ClosedRange<Int64>]?, after: Int64) throws -> ChainProblem? {
        let records = try purgeRecords(db, after: sealed == nil ? after : 0)
        var covered: [ClosedRange<Int64>] = []
        for (seq, purge) in records {
            guard let purge else {
                return ChainProblem(kind: .purgeMismatch, seq: seq, message: "the retention_purge record cannot be read")
            }
            for range in purge.ranges {
                let run = try sealedHashes(db, range.first...range.last)
                guard let hashes = run else {
                    return ChainProblem(
                        kind: .purgeMismatch, seq: range.first,
                        message: "entries \(range.first)...\(range.last), purged by the record at seq \(seq), are not all sealed")
                }
                guard MerkleTree.root(ofEntries: hashes) == range.root else {
                    return ChainProblem(
                        kind: .purgeMismatch, seq: range.first,
                        message:
                            "the hashes kept of entries \(range.first)...\(range.last) do not make the root the record at seq \(seq) chained"
                    )
                }
                covered.append(range.first...range.last)
            }
        }
        let (segments, unreadable) = try archivedSegments(db)
        if let unreadable {
            return ChainProblem(kind: .purgeMismatch, seq: unreadable, message: "the archive record cannot be read")
        }
        for segment in segments where sealed != nil || segment.last > after {
            guard let hashes = try storedHashes(db, segment.range), MerkleTree.root(ofEntries: hashes) == segment.root else {
                return ChainProblem(
                    kind: .purgeMismatch, seq: segment.first,
                    message:
                        "the hashes kept of entries \(segment.first)...\(segment.last) do not make the root their archive segment chained")
            }
            covered.append(segment.range)
        }
        guard let sealed else { return nil }
        covered.sort { $0.lowerBound < $1.lowerBound }
        for run in sealed {
            var next = run.lowerBound
            for range in covered where range.upperBound >= next && range.lowerBound <= next {
                next = max(next, range.upperBound + 1)
                if next > run.upperBound { break }
            }
            if next <= run.upperBound {
                return ChainProblem(
                    kind: .purgedWithoutRecord, seq: next,
                    message: "entry \(next) has no content and no retention_purge or archive record of the chain accounts for it")
            }
        }
        return nil
    }

    /// The stored hashes of `range` when every entry in it is sealed; `nil` otherwise.
    private static func sealedHashes(_ db: Database, _ range: ClosedRange<Int64>) throws -> [ChainHash]? {
        let statement = try db.makeStatement(
            sql: "SELECT seq, length(canonical), entry_hash FROM entry WHERE seq BETWEEN ? AND ? ORDER BY seq")
        let reading = statement.sqliteStatement
        sqlite3_bind_int64(reading, 1, range.lowerBound)
        sqlite3_bind_int64(reading, 2, range.upperBound)
        let columns = StatementColumns(statement: reading)
        var hashes: [ChainHash] = []
        while try StatementColumns.step(reading, db) {
            guard columns.int64(0) == range.lowerBound + Int64(hashes.count), columns.int64(1) == 0 else { return nil }
            hashes.append(columns.hash(2))
        }
        withExtendedLifetime(statement) {}
        return hashes.count == range.count ? hashes : nil
    }
}

extension Postings {
    /// Removes the sequence numbers in `ranges`, and their report records, from every posting
    /// row of the blocks, spans and epochs that hold them; a row left empty is deleted.
    ///
    /// Rows are read in place (no copy of a row that keeps all its entries), and the edits
    /// are made once the reading statement is done: an archive run empties some 60,000 rows
    /// per segment, and copying each into GRDB's `Row` cost more than SQLite's delete.
    static func remove(_ db: Database, sealed ranges: [ClosedRange<Int64>]) throws {
        let blockShift = try blockShift(db)
        let spanShift = blockShift + (try self.spanShift(db))
        let epochShift = spanShift + (try self.epochShift(db))
        let tables = [("posting", "block", blockShift), ("posting_span", "span", spanShift), ("posting_epoch", "epoch", epochShift)]
        let sealed = SealedRanges(ranges)
        for (table, column, shift) in tables {
            var numbers: Set<Int64> = []
            for range in ranges {
                for number in ((range.lowerBound - 1) >> Int64(shift))...((range.upperBound - 1) >> Int64(shift)) { numbers.insert(number) }
            }
            for number in numbers.sorted() {
                let edits = try edits(db, table: table, column: column, number: number, sealed: sealed)
                for edit in edits {
                    if let kept = edit.kept {
                        // Statements are cached: a span's rows are thousands of keys.
                        try db.cachedStatement(
                            sql: "UPDATE \(table) SET seqs = ?, records = ? WHERE \(column) = ? AND kind = ? AND key = ?"
                        )
                        .execute(arguments: [encode(kept.seqs), kept.records, number, edit.kind, edit.key])
                    } else {
                        try db.cachedStatement(sql: "DELETE FROM \(table) WHERE \(column) = ? AND kind = ? AND key = ?")
                            .execute(arguments: [number, edit.kind, edit.key])
                    }
                }
            }
        }
    }

    /// A posting row that loses sequence numbers: what is kept of it, `nil` when nothing is.
    private struct Edit {
        var kind: Int64
        var key: String
        var kept: (seqs: [Int64], records: Data?)?
    }

    /// The edits that remove the sealed entries from the rows of one block, span or epoch.
    private static func edits(_ db: Database, table: String, column: String, number: Int64, sealed: SealedRanges) throws
        -> [Edit]
    {
        let statement = try db.cachedStatement(sql: "SELECT kind, key, seqs, records FROM \(table) WHERE \(column) = ?")
        let reading = statement.sqliteStatement
        sqlite3_reset(reading)
        sqlite3_bind_int64(reading, 1, number)
        defer { sqlite3_reset(reading) }
        let columns = StatementColumns(statement: reading)
        var edits: [Edit] = []
        while try StatementColumns.step(reading, db) {
            let touched = columns.withBytes(2) { bytes in
                guard let bytes else { return false }
                let raw = UnsafeRawBufferPointer(bytes)
                return stride(from: 0, to: raw.count - 7, by: 8).contains {
                    sealed.contains(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0, as: Int64.self)))
                }
            }
            guard touched else { continue }
            let kind = columns.int64(0)
            let seqs = columns.withBytes(2) { bytes in decode(UnsafeRawBufferPointer(bytes ?? UnsafeBufferPointer(start: nil, count: 0))) }
            let kept = columns.withBytes(3) { records in
                keptPostings(kind: kind, seqs: seqs, records: records.map(UnsafeRawBufferPointer.init), sealed: sealed)
            }
            edits.append(Edit(kind: kind, key: columns.string(1), kept: kept.seqs.isEmpty ? nil : kept))
        }
        return edits
    }

    /// What a row keeps of its sequence numbers and report records once the sealed entries go.
    private static func keptPostings(kind: Int64, seqs: [Int64], records: UnsafeRawBufferPointer?, sealed: SealedRanges)
        -> (seqs: [Int64], records: Data?)
    {
        var keptSeqs: [Int64] = []
        guard let records else { return (seqs.filter { !sealed.contains($0) }, nil) }
        var keptRecords = Data()
        if kind == Kind.patient.rawValue {
            // A patient's rows carry an access record per entry.
            var reader = AccessRecord.Reader(records)
            for seq in seqs {
                guard let bytes = reader.skip() else { break }
                if sealed.contains(seq) { continue }
                keptSeqs.append(seq)
                keptRecords.append(contentsOf: records[bytes])
            }
            return (keptSeqs, keptRecords)
        }
        if kind == Kind.user.rawValue, records.count == seqs.count * 8 {
            // A user's rows carry each entry's event time, 8 bytes.
            for (index, seq) in seqs.enumerated() where !sealed.contains(seq) {
                keptSeqs.append(seq)
                keptRecords.append(contentsOf: records[(index * 8)..<(index * 8 + 8)])
            }
            return (keptSeqs, keptRecords)
        }
        return (seqs.filter { !sealed.contains($0) }, nil)
    }
}

/// Ascending, disjoint ranges of sealed entries, asked whether they hold a sequence number.
struct SealedRanges {
    private let ranges: [ClosedRange<Int64>]

    init(_ ranges: [ClosedRange<Int64>]) {
        self.ranges = ranges
    }

    /// A binary search for the last range starting at or before `seq`.
    func contains(_ seq: Int64) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].lowerBound <= seq { low = middle + 1 } else { high = middle }
        }
        return low > 0 && ranges[low - 1].contains(seq)
    }
}
