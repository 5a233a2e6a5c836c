import AuditChain
import AuditCore
import AuditStorage
import Foundation
import GRDB
import GRDBSQLite

/// Posting lists: each key's sequence numbers, in two tiers, so a lookup costs a few seeks
/// however long the log is, and appends never write to random places in a large tree.
///
/// - While a block of 2^`blockShift` entries fills, its entries are found through the
///   ``TailIndex``, in memory: appends write nothing but the entries.
/// - Once the block is complete, its postings are written after the append that completed it
///   (``SQLiteStore/compactPostingsNow()``), one row per key in `posting`, whose key `block`
///   leads: the rows go to the end of the tree, sequentially.
/// - Once 2^`spanShift` blocks (a span) have postings, they are merged into one row per key in
///   `posting_span`, whose key `(kind, key, span)` puts all of a key's spans side by side,
///   and the blocks' rows are removed. The merge writes one row per key per million entries,
///   in key order; a lookup reads one contiguous range of the tree per key.
///
/// A patient's rows also carry an ``AccessRecord`` per entry, so that a report reads its rows
/// from those few ranges rather than from the entries themselves. At ten million entries a
/// lookup reads one range of about 150 span rows (one per 65,536 entries) and at most 15 block
/// rows, where a seek per block of 4,096 entries would mean 2,400.
enum Postings {
    /// What a posting list is keyed by.
    typealias Kind = EntryKeys.Kind

    /// The key of every failure's posting.
    static let failureKey = EntryKeys.failureKey

    /// A number kept in `meta` under `key`, or `fallback` when there is none.
    private static func metaNumber(_ db: Database, _ key: String, fallback: Int64) throws -> Int64 {
        let statement = try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = ?")
        return try String.fetchOne(statement, arguments: [key]).flatMap { Int64($0) } ?? fallback
    }

    private static func setMetaNumber(_ db: Database, _ key: String, _ value: Int64) throws {
        try db.execute(
            sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            arguments: [key, String(value)]
        )
    }

    /// A shift read from `meta`, within 0...30: a damaged file must not make a block, span or
    /// epoch of no entries (a division by zero) or of more than a billion.
    private static func shift(_ stored: Int64) -> Int {
        Int(min(max(stored, 0), 30))
    }

    /// The block size of this log (meta `posting_block_shift`).
    static func blockShift(_ db: Database) throws -> Int {
        shift(try metaNumber(db, "posting_block_shift", fallback: 16))
    }

    /// How many retention runs have removed entries from the postings (meta `purge_generation`).
    static func purgeGeneration(_ db: Database) throws -> Int64 {
        try metaNumber(db, "purge_generation", fallback: 0)
    }

    static func setPurgeGeneration(_ db: Database, _ value: Int64) throws {
        try setMetaNumber(db, "purge_generation", value)
    }

    /// The last sequence number whose block has postings (0 for none).
    static func compactedThrough(_ db: Database) throws -> Int64 {
        try metaNumber(db, "postings_through", fallback: 0)
    }

    static func setCompactedThrough(_ db: Database, _ through: Int64) throws {
        try setMetaNumber(db, "postings_through", through)
    }

    /// Blocks per span, as 2^shift (meta `posting_span_shift`, fixed when the log was created).
    static func spanShift(_ db: Database) throws -> Int {
        shift(try metaNumber(db, "posting_span_shift", fallback: 4))
    }

    /// Spans per epoch, as 2^shift (meta `posting_epoch_shift`, fixed when the log was created).
    static func epochShift(_ db: Database) throws -> Int {
        shift(try metaNumber(db, "posting_epoch_shift", fallback: 4))
    }

    /// The last sequence number whose epoch has postings in `posting_epoch` (0 for none). The
    /// postings of the spans before it are no longer in `posting_span`.
    static func epochsThrough(_ db: Database) throws -> Int64 {
        try metaNumber(db, "epochs_through", fallback: 0)
    }

    static func setEpochsThrough(_ db: Database, _ through: Int64) throws {
        try setMetaNumber(db, "epochs_through", through)
    }

    /// The last sequence number whose span has postings in `posting_span` (0 for none). The
    /// postings of the blocks before it are no longer in `posting`.
    static func spannedThrough(_ db: Database) throws -> Int64 {
        try metaNumber(db, "spans_through", fallback: 0)
    }

    static func setSpannedThrough(_ db: Database, _ through: Int64) throws {
        try setMetaNumber(db, "spans_through", through)
    }

    /// One complete block's posting lists, report records and tool counters, collected from its entries.
    struct Block {
        var number: Int64
        var lists: [Kind: [String: [Int64]]] = [:]
        /// The ``AccessRecord`` of each entry about a patient, by sequence number.
        var records: [Int64: Data] = [:]
        var counters = ToolDayCounters()
        /// Each entry's event time, in milliseconds since the epoch: a user's postings carry them.
        var times: [Int64: Int64] = [:]
        /// The earliest and latest event time of its entries.
        var firstAt: String?
        var lastAt: String?

        /// Adds the postings, record, counts and time of one of the block's entries, in order;
        /// `record` is scratch space.
        mutating func add(_ entry: StoredEntry, record: inout [UInt8]) {
            let keys = EntryKeys(entry)
            for (kind, key) in keys.keys { lists[kind, default: [:]][key, default: []].append(entry.seq) }
            // Entries about a patient, and queries, whose patients are in their result, get a record.
            if entry.content.patientID != nil || entry.content.action == .execute {
                record.removeAll(keepingCapacity: true)
                AccessRecord.append(AccessRow(reporting: entry), to: &record)
                records[entry.seq] = Data(record)
            }
            keys.count(entry, into: &counters)
            let time = entry.content.timestamp ?? entry.recordedAt
            times[entry.seq] = Timestamp(rfc3339: time)?.millisecondsSinceEpoch ?? 0
            if firstAt.map({ time < $0 }) ?? true { firstAt = time }
            if lastAt.map({ time > $0 }) ?? true { lastAt = time }
        }

        /// Writes the block's event-time bounds (`OR REPLACE`: a compaction done again).
        func writeTimes(_ db: Database) throws {
            guard let firstAt, let lastAt else { return }
            try db.execute(
                sql: "INSERT OR REPLACE INTO block_time (block, first_at, last_at) VALUES (?, ?, ?)", arguments: [number, firstAt, lastAt])
        }

        /// The block's posting rows in key order (kind, then key), each key's sequence numbers sorted
        /// and once each (a query naming its patient twice, or a patient both read and named);
        /// a patient's rows carry the records of its entries, in the same order.
        func rows() -> [Posting] {
            var rows: [Posting] = []
            for kind in Kind.allCases {
                guard let keys = lists[kind] else { continue }
                for key in keys.keys.sorted() {
                    var seqs = keys[key] ?? []
                    seqs.sort()
                    var unique: [Int64] = []
                    unique.reserveCapacity(seqs.count)
                    for seq in seqs where unique.last != seq { unique.append(seq) }
                    var packed: Data?
                    if kind == .user {
                        var data = Data(capacity: unique.count * 8)
                        for seq in unique {
                            withUnsafeBytes(of: (times[seq] ?? 0).littleEndian) { data.append(contentsOf: $0) }
                        }
                        packed = data
                    } else if kind == .patient {
                        var data = Data()
                        for seq in unique {
                            guard let record = records[seq] else {
                                data.removeAll()
                                break
                            }
                            data.append(record)
                        }
                        packed = data.isEmpty ? nil : data
                    }
                    rows.append(Posting(kind: kind, key: key, seqs: encode(unique), records: packed))
                }
            }
            return rows
        }
    }

    /// Reads the entries `low...high` (one complete block) and collects their postings; writes nothing.
    static func collect(_ db: Database, block number: Int64, from low: Int64, through high: Int64) throws -> Block {
        var block = Block(number: number)
        var record: [UInt8] = []
        try SQLiteStore.forEachEntry(db, from: low, through: high) { entry in block.add(entry, record: &record) }
        return block
    }

    /// The complete blocks whose entries' event times overlap `(after, through]`.
    static func blocks(_ db: Database, eventAfter after: String, through: String) throws -> Set<Int64> {
        // (`after` and `through` compare as the normalised RFC 3339 text they are stored as.)
        Set(
            try Int64.fetchAll(
                db.cachedStatement(sql: "SELECT block FROM block_time WHERE last_at > ? AND first_at <= ?"), arguments: [after, through]))
    }

    /// One row of `posting` (a key's sequence numbers in a block) or of `posting_span` (in a span).
    struct Posting {
        var kind: Kind
        var key: String
        var seqs: Data
        /// A patient's ``AccessRecord``s, one per sequence number, in order; `nil` for other kinds.
        var records: Data?
    }

    /// The next `limit` keys (after `after`, in kind and key order) of the blocks `blocks`,
    /// each with its blocks' rows joined in block order: sequence numbers, and records when
    /// every block has them. `more` is `false` when no key is left.
    static func mergedRows(
        _ db: Database, blocks: Range<Int64>, after: (kind: Int64, key: String)?, limit: Int
    ) throws -> (rows: [Posting], more: Bool) {
        let sql =
            after == nil
            ? "SELECT kind, key, seqs, records FROM posting WHERE block = ?1 ORDER BY kind, key"
            : "SELECT kind, key, seqs, records FROM posting WHERE block = ?1 AND (kind, key) > (?2, ?3) ORDER BY kind, key"
        // One cursor per block, each at its next row.
        struct Head {
            var kind: Int64
            var key: String
            var seqs: Data
            var records: Data?
        }
        var statements: [SQLiteStatement] = []
        var owners: [Statement] = []
        defer { for statement in statements { sqlite3_reset(statement) } }
        var heads: [Head?] = []
        func advance(_ index: Int) throws {
            let statement = statements[index]
            guard try StatementColumns.step(statement, db) else {
                heads[index] = nil
                return
            }
            let columns = StatementColumns(statement: statement)
            heads[index] = Head(
                kind: columns.int64(0), key: columns.string(1),
                seqs: columns.withBytes(2) { $0.map { Data(buffer: $0) } ?? Data() },
                records: columns.withBytes(3) { $0.map { Data(buffer: $0) } }
            )
        }
        for block in blocks {
            let statement = try db.makeStatement(sql: sql)
            owners.append(statement)
            let raw = statement.sqliteStatement
            sqlite3_bind_int64(raw, 1, block)
            if let after {
                sqlite3_bind_int64(raw, 2, after.kind)
                bindText(raw, 3, after.key)
            }
            statements.append(raw)
            heads.append(nil)
            try advance(statements.count - 1)
        }
        var rows: [Posting] = []
        while rows.count < limit {
            // The smallest key among the heads; blocks holding it are joined in block order.
            // Keys compare as SQLite orders them: by their UTF-8 bytes (Swift's `<` and `==`
            // on strings follow Unicode equivalence instead).
            var smallest: Head?
            for case let head? in heads {
                if let current = smallest,
                    current.kind < head.kind || (current.kind == head.kind && !head.key.utf8.lexicographicallyPrecedes(current.key.utf8))
                {
                    continue
                }
                smallest = head
            }
            guard let smallest, let kind = Kind(rawValue: smallest.kind) else { return (rows, false) }
            var seqs = Data()
            var records: Data? = kind == .patient || kind == .user ? Data() : nil
            for index in heads.indices {
                guard let head = heads[index], head.kind == smallest.kind, head.key.utf8.elementsEqual(smallest.key.utf8) else { continue }
                seqs.append(head.seqs)
                if let part = head.records { records?.append(part) } else { records = nil }
                try advance(index)
            }
            rows.append(Posting(kind: kind, key: smallest.key, seqs: seqs, records: records))
        }
        return (rows, heads.contains { $0 != nil })
    }

    /// Inserts posting rows of one block. `OR REPLACE`: a compaction cut short by a crash
    /// leaves some rows of its block, which the next one writes again, identical.
    static func insert(_ db: Database, block: Int64, _ rows: ArraySlice<Posting>) throws {
        try insert(
            db, sql: "INSERT OR REPLACE INTO posting (block, kind, key, seqs, records) VALUES (?1, ?2, ?3, ?4, ?5)", number: block, rows)
    }

    /// Inserts posting rows of one epoch, in the same way as ``insert(_:block:_:)``.
    static func insert(_ db: Database, epoch: Int64, _ rows: ArraySlice<Posting>) throws {
        try insert(
            db, sql: "INSERT OR REPLACE INTO posting_epoch (epoch, kind, key, seqs, records) VALUES (?1, ?2, ?3, ?4, ?5)", number: epoch,
            rows)
    }

    /// The next `limit` keys (after `after`) of the spans `spans`, each with its spans' rows
    /// joined in span order, read in one pass over `posting_span` in key order.
    static func mergedSpanRows(
        _ db: Database, spans: Range<Int64>, after: (kind: Int64, key: String)?, limit: Int
    ) throws -> (rows: [Posting], more: Bool) {
        let sql =
            after == nil
            ? "SELECT kind, key, seqs, records FROM posting_span WHERE span >= ?1 AND span < ?2 ORDER BY kind, key, span"
            : "SELECT kind, key, seqs, records FROM posting_span WHERE span >= ?1 AND span < ?2 AND (kind, key) > (?3, ?4) ORDER BY kind, key, span"
        let prepared = try db.makeStatement(sql: sql)
        let statement = prepared.sqliteStatement
        defer { withExtendedLifetime(prepared) {} }
        sqlite3_bind_int64(statement, 1, spans.lowerBound)
        sqlite3_bind_int64(statement, 2, spans.upperBound)
        if let after {
            sqlite3_bind_int64(statement, 3, after.kind)
            bindText(statement, 4, after.key)
        }
        let columns = StatementColumns(statement: statement)
        var rows: [Posting] = []
        var current: Posting?
        while try StatementColumns.step(statement, db) {
            guard let kind = Kind(rawValue: columns.int64(0)) else { continue }
            let key = columns.string(1)
            let seqs = columns.withBytes(2) { $0.map { Data(buffer: $0) } ?? Data() }
            let records = columns.withBytes(3) { $0.map { Data(buffer: $0) } }
            if var group = current, group.kind == kind, group.key.utf8.elementsEqual(key.utf8) {
                group.seqs.append(seqs)
                if let records { group.records?.append(records) } else { group.records = nil }
                current = group
                continue
            }
            if let group = current {
                rows.append(group)
                if rows.count == limit { return (rows, true) }
            }
            current = Posting(kind: kind, key: key, seqs: seqs, records: records)
        }
        if let group = current { rows.append(group) }
        return (rows, false)
    }

    /// Inserts posting rows of one span, in the same way as ``insert(_:block:_:)``.
    static func insert(_ db: Database, span: Int64, _ rows: ArraySlice<Posting>) throws {
        try insert(
            db, sql: "INSERT OR REPLACE INTO posting_span (span, kind, key, seqs, records) VALUES (?1, ?2, ?3, ?4, ?5)", number: span, rows)
    }

    private static func insert(_ db: Database, sql: String, number: Int64, _ rows: ArraySlice<Posting>) throws {
        let statement = try db.cachedStatement(sql: sql).sqliteStatement
        defer { sqlite3_reset(statement) }
        for row in rows {
            sqlite3_reset(statement)
            sqlite3_bind_int64(statement, 1, number)
            sqlite3_bind_int64(statement, 2, row.kind.rawValue)
            bindText(statement, 3, row.key)
            row.seqs.withUnsafeBytes { seqs in
                _ = sqlite3_bind_blob(statement, 4, seqs.baseAddress, Int32(seqs.count), sqliteTransient)
            }
            if let records = row.records {
                records.withUnsafeBytes { bytes in
                    _ = sqlite3_bind_blob(statement, 5, bytes.baseAddress, Int32(bytes.count), sqliteTransient)
                }
            } else {
                sqlite3_bind_null(statement, 5)
            }
            let code = sqlite3_step(statement)
            guard code == SQLITE_DONE else {
                throw StoreError(
                    code: .appendFailed, message: "SQLite error \(code): \(String(cString: sqlite3_errmsg(db.sqliteConnection)))")
            }
        }
    }

    static func bindText(_ statement: SQLiteStatement, _ index: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            _ = bytes.withMemoryRebound(to: CChar.self) {
                sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count), sqliteTransient)
            }
        }
    }

    static func encode(_ seqs: [Int64]) -> Data {
        var data = Data(capacity: seqs.count * 8)
        for seq in seqs { withUnsafeBytes(of: seq.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func decode(_ data: Data) -> [Int64] {
        data.withUnsafeBytes { decode(UnsafeRawBufferPointer($0)) }
    }

    static func decode(_ raw: UnsafeRawBufferPointer) -> [Int64] {
        var seqs: [Int64] = []
        seqs.reserveCapacity(raw.count / 8)
        var offset = 0
        while offset + 8 <= raw.count {
            seqs.append(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
            offset += 8
        }
        return seqs
    }

    /// The postings of `keys` keys in the complete blocks from the first to the last, blocks in
    /// order: one statement whose arguments are the first and last block, the kind, then the keys.
    static func blocksSQL(keys: Int) -> String {
        let list = (0..<max(1, keys)).map { _ in "?" }.joined(separator: ", ")
        return """
            WITH RECURSIVE blocks(b) AS (SELECT ? UNION ALL SELECT b + 1 FROM blocks WHERE b < ?)
            SELECT p.seqs, p.records FROM blocks CROSS JOIN posting AS p ON p.block = blocks.b AND p.kind = ? AND p.key IN (\(list))
            """
    }

    /// The postings of `keys` keys in the epochs before a given one, in epoch order. Arguments:
    /// the kind, the end epoch (exclusive), then the keys.
    static func epochsSQL(keys: Int) -> String {
        let list = (0..<max(1, keys)).map { _ in "?" }.joined(separator: ", ")
        return """
            SELECT p.seqs, p.records FROM posting_epoch AS p WHERE p.kind = ?1 AND p.epoch < ?2 AND p.key IN (\(list)) ORDER BY p.epoch
            """
    }

    /// The postings of `keys` keys in one epoch. Arguments: the kind, the epoch, then the keys.
    static func epochSQL(keys: Int) -> String {
        let list = (0..<max(1, keys)).map { _ in "?" }.joined(separator: ", ")
        return "SELECT p.seqs, p.records FROM posting_epoch AS p WHERE p.kind = ?1 AND p.epoch = ?2 AND p.key IN (\(list))"
    }

    /// The postings of `keys` keys in one span. Arguments: the kind, the span, then the keys.
    static func spanSQL(keys: Int) -> String {
        let list = (0..<max(1, keys)).map { _ in "?" }.joined(separator: ", ")
        return "SELECT p.seqs, p.records FROM posting_span AS p WHERE p.kind = ?1 AND p.span = ?2 AND p.key IN (\(list))"
    }

    /// The postings of `keys` keys in one block. Arguments: the block, the kind, then the keys.
    static func blockSQL(keys: Int) -> String {
        let list = (0..<max(1, keys)).map { _ in "?" }.joined(separator: ", ")
        return "SELECT p.seqs, p.records FROM posting AS p WHERE p.block = ?1 AND p.kind = ?2 AND p.key IN (\(list))"
    }

    /// The postings of `keys` keys in a range of spans, in span order: one range of
    /// `posting_span` per key (`kind` and `key` lead its primary key). Arguments: the kind, the
    /// first span, the end span (exclusive), then the keys.
    static func spansSQL(keys: Int) -> String {
        let list = (0..<max(1, keys)).map { _ in "?" }.joined(separator: ", ")
        return """
            SELECT p.seqs, p.records FROM posting_span AS p WHERE p.kind = ?1 AND p.span >= ?2 AND p.span < ?3 AND p.key IN (\(list))
            ORDER BY p.span
            """
    }

    /// What a posting list holds of an entry besides its sequence number: a patient's report
    /// row, or the event time a user's postings and the tail index carry.
    enum Posted {
        /// Nothing: read the entry.
        case unknown
        case access(AccessRow)
        /// The event time, in milliseconds since the epoch.
        case time(Int64)

        var row: AccessRow? {
            if case .access(let row) = self { return row }
            return nil
        }
    }

    /// An entry found through the posting lists: its sequence number and, for a patient whose
    /// postings carry records, its report row (`nil`: read the entry).
    struct Found {
        var seq: Int64
        var row: AccessRow?
    }

    /// The sequence numbers of every entry filed under one of `keys`, up to `last`, in order.
    static func seqs(_ db: Database, tail: TailIndex, kind: Kind, keys: [String], last: Int64) throws -> [Int64] {
        try find(db, tail: tail, kind: kind, keys: keys, last: last, rows: false).map(\.seq)
    }

    /// Every entry filed under one of `keys`, up to `last`, in order, each once: spans of
    /// complete blocks, then complete blocks not yet in a span, then the ``TailIndex`` for the
    /// block still filling. With `rows`, a patient's entries come with the report rows
    /// their records hold.
    static func find(_ db: Database, tail: TailIndex, kind: Kind, keys: [String], last: Int64, rows: Bool) throws -> [Found] {
        var result: [Found] = []
        try visit(db, tail: tail, kind: kind, keys: keys, last: last, rows: rows) { seq, posted in
            result.append(Found(seq: seq, row: posted.row))
        }
        guard keys.count > 1 else { return result }
        // Several keys: each key's entries are in order, not all of them together.
        result.sort { $0.seq < $1.seq }
        var unique: [Found] = []
        unique.reserveCapacity(result.count)
        for found in result where unique.last?.seq != found.seq { unique.append(found) }
        return unique
    }

    /// Calls `body` with every entry filed under `keys` up to `last`, and its report row when
    /// `rows` and the postings hold one, as it is read: for one key, in order and each once
    /// (the tiers hold disjoint ranges; a block's rows and the tail's are sorted and
    /// unique); for several, key by key. A report streams a patient's rows this way instead of
    /// collecting them first.
    ///
    /// With `blocks`, only those complete blocks (and the spans that hold them) are read, with
    /// the tail: a question about a window of time skips the rest of the log unread.
    static func visit(
        _ db: Database, tail: TailIndex, kind: Kind, keys: [String], last: Int64, rows: Bool, blocks only: Set<Int64>? = nil,
        _ body: (Int64, Posted) throws -> Void
    ) throws {
        guard !keys.isEmpty, last > 0 else { return }
        let shift = Int64(try blockShift(db))
        let spanned = try spannedThrough(db)
        let spanBlocks = Int64(1) << Int64(try spanShift(db))
        func read(_ statement: SQLiteStatement) throws {
            let columns = StatementColumns(statement: statement)
            while try StatementColumns.step(statement, db) {
                let seqs = columns.withBytes(0) { bytes in bytes.map { decode(UnsafeRawBufferPointer($0)) } ?? [] }
                guard rows, !columns.isNull(1) else {
                    for seq in seqs where seq <= last { try body(seq, .unknown) }
                    continue
                }
                if kind == .user {
                    let times = columns.withBytes(1) { bytes in bytes.map { decode(UnsafeRawBufferPointer($0)) } ?? [] }
                    for (index, seq) in seqs.enumerated() where seq <= last {
                        try body(seq, index < times.count ? .time(times[index]) : .unknown)
                    }
                    continue
                }
                try columns.withBytes(1) { bytes in
                    var reader = AccessRecord.Reader(UnsafeRawBufferPointer(bytes ?? UnsafeBufferPointer(start: nil, count: 0)))
                    var intact = true
                    for seq in seqs where seq <= last {
                        var posted = Posted.unknown
                        if intact {
                            switch reader.next(seq: seq) {
                            case .row(let decoded)?: posted = .access(decoded)
                            case .entry?: break
                            case nil: intact = false
                            }
                        }
                        try body(seq, posted)
                    }
                }
            }
        }
        func bind(_ statement: SQLiteStatement, from index: Int32) {
            for (offset, key) in keys.enumerated() { bindText(statement, index + Int32(offset), key) }
        }
        // Epochs: every entry up to `epoched`, one range of rows per key.
        let epoched = min(try epochsThrough(db), spanned)
        let epochBlocks = spanBlocks << Int64(try epochShift(db))
        let epochCount = (epoched >> shift) / epochBlocks
        if epochCount > 0, let only {
            let statement = try db.cachedStatement(sql: epochSQL(keys: keys.count)).sqliteStatement
            defer { sqlite3_reset(statement) }
            for epoch in Set(only.map { $0 / epochBlocks }).sorted() where epoch < epochCount {
                sqlite3_reset(statement)
                sqlite3_bind_int64(statement, 1, kind.rawValue)
                sqlite3_bind_int64(statement, 2, epoch)
                bind(statement, from: 3)
                try read(statement)
            }
        } else if epochCount > 0 {
            let statement = try db.cachedStatement(sql: epochsSQL(keys: keys.count)).sqliteStatement
            defer { sqlite3_reset(statement) }
            sqlite3_bind_int64(statement, 1, kind.rawValue)
            sqlite3_bind_int64(statement, 2, epochCount)
            bind(statement, from: 3)
            try read(statement)
        }
        // Spans after the epochs: every entry up to `spanned`, one range of rows per key.
        let firstSpan = epochCount * (epochBlocks / spanBlocks)
        let endSpan = (spanned >> shift) / spanBlocks
        if endSpan > firstSpan, let only {
            let statement = try db.cachedStatement(sql: spanSQL(keys: keys.count)).sqliteStatement
            defer { sqlite3_reset(statement) }
            for span in Set(only.map { $0 / spanBlocks }).sorted() where span >= firstSpan && span < endSpan {
                sqlite3_reset(statement)
                sqlite3_bind_int64(statement, 1, kind.rawValue)
                sqlite3_bind_int64(statement, 2, span)
                bind(statement, from: 3)
                try read(statement)
            }
        } else if endSpan > firstSpan {
            let statement = try db.cachedStatement(sql: spansSQL(keys: keys.count)).sqliteStatement
            defer { sqlite3_reset(statement) }
            sqlite3_bind_int64(statement, 1, kind.rawValue)
            sqlite3_bind_int64(statement, 2, firstSpan)
            sqlite3_bind_int64(statement, 3, endSpan)
            bind(statement, from: 4)
            try read(statement)
        }
        if last > spanned {
            // Blocks answer whole blocks only: up to `last`'s block boundary when `last` is earlier
            // than what has postings (a report at an earlier head); the tail index answers the rest.
            let through = max(spanned, (min(try compactedThrough(db), last) >> shift) << shift)
            if through > spanned, let only {
                let statement = try db.cachedStatement(sql: blockSQL(keys: keys.count)).sqliteStatement
                defer { sqlite3_reset(statement) }
                for block in only.sorted() where block >= spanned >> shift && block < through >> shift {
                    sqlite3_reset(statement)
                    sqlite3_bind_int64(statement, 1, block)
                    sqlite3_bind_int64(statement, 2, kind.rawValue)
                    bind(statement, from: 3)
                    try read(statement)
                }
            } else if through > spanned {
                // One statement seeks every complete block after the spans, in block order.
                let statement = try db.cachedStatement(sql: blocksSQL(keys: keys.count)).sqliteStatement
                defer { sqlite3_reset(statement) }
                sqlite3_bind_int64(statement, 1, spanned >> shift)
                sqlite3_bind_int64(statement, 2, (through >> shift) - 1)
                sqlite3_bind_int64(statement, 3, kind.rawValue)
                bind(statement, from: 4)
                try read(statement)
            }
            for (seq, time) in try tail.postings(db, kind: kind, keys: keys, after: through, last: last) {
                try body(seq, rows ? .time(time) : .unknown)
            }
        }
    }
}

extension EntryKeys {
    /// Adds a tool call to the per-tool, per-day counters.
    func count(_ entry: StoredEntry, into counters: inout ToolDayCounters) {
        let content = entry.content
        guard content.kind == .toolCall, let tool = content.toolName else { return }
        counters.add(
            tool: tool, time: content.timestamp ?? entry.recordedAt, failed: content.outcome == .failure,
            durationMS: scan?.durationMS, user: content.userID)
    }
}
