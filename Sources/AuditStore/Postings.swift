import AuditCore
import Foundation
import GRDB
import GRDBSQLite

/// Posting lists: for each block of 2^`blockShift` entries once it is complete, each key's
/// sequence numbers in one row of `posting`, so a lookup costs one seek per block.
///
/// While a block fills, its entries are found through the bucketed indexes on `entry`
/// (`(seq >> 12, key)`), which keep appends cheap; once the block is complete, its postings are
/// written after the append that completed it (``AuditStore/compactPostingsNow()``), in key order
/// at the end of `posting` (`block` leads the key), which is sequential and cheap too. Until then
/// the block is read through the buckets like the one still filling. A lookup seeks once per complete block and
/// probes at most 2^(blockShift − 12) buckets of the block still filling: about 170 seeks at
/// ten million entries instead of 2,400.
enum Postings {
    /// What a posting list is keyed by.
    enum Kind: Int64, CaseIterable {
        /// `entry.patient_id` and every patient of a query's `patient_ids`.
        case patient = 1
        case user = 2
        case conversation = 3
        case trace = 4
        /// A pseudonym found in an entry's body (see ``BodyScan``).
        case token = 5
    }

    /// The block size of this log (meta `posting_block_shift`).
    static func blockShift(_ db: Database) throws -> Int {
        let statement = try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'posting_block_shift'")
        return try String.fetchOne(statement).flatMap { Int($0) } ?? 16
    }

    /// The last sequence number whose block has postings (0 for none).
    static func compactedThrough(_ db: Database) throws -> Int64 {
        let statement = try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'postings_through'")
        return try String.fetchOne(statement).flatMap { Int64($0) } ?? 0
    }

    static func setCompactedThrough(_ db: Database, _ through: Int64) throws {
        try db.execute(
            sql: "INSERT INTO meta (key, value) VALUES ('postings_through', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            arguments: [String(through)]
        )
    }

    /// One complete block's posting lists and tool counters, collected from its entries.
    struct Block {
        var number: Int64
        var lists: [Kind: [String: [Int64]]] = [:]
        var counters = ToolDayCounters()
    /// The block's posting rows in key order (kind, then key), each key's sequence numbers sorted
    /// and once each (a query naming its patient twice, or a patient both read and named).
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
                rows.append(Posting(kind: kind, key: key, seqs: encode(unique)))
            }
        }
        return rows
    }
    }

    /// Reads the entries `low...high` (one complete block) and collects their postings; writes nothing.
    static func collect(_ db: Database, block number: Int64, from low: Int64, through high: Int64) throws -> Block {
        var block = Block(number: number)
        func add(_ kind: Kind, _ key: String?, _ seq: Int64) {
            guard let key else { return }
            block.lists[kind, default: [:]][key, default: []].append(seq)
        }
        let rows = try Row.fetchCursor(
            db, sql: """
                SELECT seq, patient_id, user_id, conversation_id, trace_id, kind, tool_name, coalesce(timestamp, recorded_at),
                    outcome, body FROM entry WHERE seq BETWEEN ? AND ? ORDER BY seq
                """,
            arguments: [low, high]
        )
        while let row = try rows.next() {
            let seq: Int64 = row[0]
            add(.patient, row[1], seq)
            add(.user, row[2], seq)
            add(.conversation, row[3], seq)
            add(.trace, row[4], seq)
            let kind: String = row[5]
            guard kind == "tool_call" || kind == "agent_request" else { continue }
            let scan = BodyScan(row[9])
            for token in scan.tokens { add(.token, token, seq) }
            if kind == "tool_call", let tool: String = row[6] {
                block.counters.add(tool: tool, time: row[7], failed: (row[8] as String?) == "failure", durationMS: scan.durationMS, user: row[2])
            }
        }
        let queryPatients = try Row.fetchCursor(
            db, sql: "SELECT seq, patient_id FROM entry_patient WHERE seq BETWEEN ? AND ? ORDER BY seq", arguments: [low, high]
        )
        while let row = try queryPatients.next() { add(.patient, row[1], row[0]) }
        return block
    }

    /// One row of `posting`: a key's sequence numbers in a block, encoded (``encode(_:)``).
    struct Posting {
        var kind: Kind
        var key: String
        var seqs: Data
    }

    /// Inserts posting rows of one block. `OR REPLACE`: a compaction cut short by a crash
    /// leaves some rows of its block, which the next one writes again, identical.
    static func insert(_ db: Database, block: Int64, _ rows: ArraySlice<Posting>) throws {
        let statement = try db.cachedStatement(sql: "INSERT OR REPLACE INTO posting (block, kind, key, seqs) VALUES (?, ?, ?, ?)").sqliteStatement
        defer { sqlite3_reset(statement) }
        for row in rows {
            sqlite3_reset(statement)
            sqlite3_bind_int64(statement, 1, block)
            sqlite3_bind_int64(statement, 2, row.kind.rawValue)
            var key = row.key
            key.withUTF8 { bytes in
                _ = bytes.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(statement, 3, $0.baseAddress, Int32($0.count), sqliteTransient) }
            }
            row.seqs.withUnsafeBytes { seqs in
                _ = sqlite3_bind_blob(statement, 4, seqs.baseAddress, Int32(seqs.count), sqliteTransient)
            }
            let code = sqlite3_step(statement)
            guard code == SQLITE_DONE else {
                throw StoreError(code: .appendFailed, message: "SQLite error \(code): \(String(cString: sqlite3_errmsg(db.sqliteConnection)))")
            }
        }
    }

    static func encode(_ seqs: [Int64]) -> Data {
        var data = Data(capacity: seqs.count * 8)
        for seq in seqs { withUnsafeBytes(of: seq.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func decode(_ data: Data) -> [Int64] {
        var seqs: [Int64] = []
        seqs.reserveCapacity(data.count / 8)
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset + 8 <= raw.count {
                seqs.append(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
                offset += 8
            }
        }
        return seqs
    }

    /// The probe of the buckets from the first to the last bucket, which are the statement's
    /// first two arguments (so the statement is prepared once and cached).
    static func tailSQL(probe: String) -> String {
        """
        WITH RECURSIVE bucket(b) AS (SELECT ? UNION ALL SELECT b + 1 FROM bucket WHERE b < ?)
        SELECT seq FROM (\(probe)) ORDER BY seq
        """
    }

    /// The postings of `keys` keys in every complete block, blocks in order: one statement whose
    /// arguments are the last complete block, the kind, then the keys.
    static func blocksSQL(keys: Int) -> String {
        let list = (0..<max(1, keys)).map { _ in "?" }.joined(separator: ", ")
        return """
            WITH RECURSIVE blocks(b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM blocks WHERE b < ?)
            SELECT p.seqs FROM blocks CROSS JOIN posting AS p ON p.block = blocks.b AND p.kind = ? AND p.key IN (\(list))
            """
    }

    /// The sequence numbers of every entry filed under one of `keys`, up to `last`, in order:
    /// postings of complete blocks, then the bucketed indexes for the block still filling.
    static func seqs(_ db: Database, kind: Kind, keys: [String], last: Int64) throws -> [Int64] {
        guard !keys.isEmpty, last > 0 else { return [] }
        let shift = try blockShift(db)
        // Postings answer whole blocks only: up to `last`'s block boundary when `last` is earlier
        // than what has postings (a report at an earlier head); the buckets answer the rest.
        let through = (min(try compactedThrough(db), last) >> Int64(shift)) << Int64(shift)
        var result: [Int64] = []
        if through > 0 {
            // One statement seeks every complete block, in block order (`block` leads the key).
            let lastBlock = (through >> Int64(shift)) - 1
            let statement = try db.cachedStatement(sql: blocksSQL(keys: keys.count))
            let rows = try Row.fetchCursor(statement, arguments: StatementArguments([lastBlock, kind.rawValue]) + StatementArguments(keys))
            while let row = try rows.next() {
                let data: Data = row[0]
                result.append(contentsOf: decode(data))
            }
        }
        // The block still filling, through the bucketed indexes on its buckets only.
        let shiftText = String(AuditStore.bucketShift)
        let firstBucket = (through + 1) >> Int64(AuditStore.bucketShift)
        let lastBucket = last >> Int64(AuditStore.bucketShift)
        if firstBucket <= lastBucket {
            let list = keys.map { _ in "?" }.joined(separator: ", ")
            let probe: String
            switch kind {
            case .patient:
                probe = """
                    SELECT e.seq FROM bucket CROSS JOIN entry AS e ON (e.seq >> \(shiftText)) = bucket.b AND e.patient_id IN (\(list))
                    UNION
                    SELECT p.seq FROM bucket CROSS JOIN entry_patient AS p ON (p.seq >> \(shiftText)) = bucket.b AND p.patient_id IN (\(list))
                    """
            case .user: probe = "SELECT e.seq FROM bucket CROSS JOIN entry AS e ON (e.seq >> \(shiftText)) = bucket.b AND e.user_id IN (\(list))"
            case .conversation:
                probe = "SELECT e.seq FROM bucket CROSS JOIN entry AS e ON (e.seq >> \(shiftText)) = bucket.b AND e.conversation_id IN (\(list))"
            case .trace: probe = "SELECT e.seq FROM bucket CROSS JOIN entry AS e ON (e.seq >> \(shiftText)) = bucket.b AND e.trace_id IN (\(list))"
            case .token:
                // Pseudonyms of the block still filling are found by reading its bodies.
                let wanted = Set(keys)
                let rows = try Row.fetchCursor(
                    db.cachedStatement(sql: "SELECT seq, body FROM entry WHERE seq > ? AND seq <= ? AND kind IN ('tool_call', 'agent_request') ORDER BY seq"),
                    arguments: [through, last]
                )
                while let row = try rows.next() {
                    if !wanted.isDisjoint(with: BodyScan(row[1]).tokens) { result.append(row[0]) }
                }
                return unique(result)
            }
            let arguments = StatementArguments([firstBucket, lastBucket]) + StatementArguments(kind == .patient ? keys + keys : keys)
            let tail = try Int64.fetchAll(db.cachedStatement(sql: tailSQL(probe: probe)), arguments: arguments)
            result.append(contentsOf: tail.filter { $0 > through && $0 <= last })
        }
        return keys.count > 1 || kind == .patient ? unique(result) : result
    }

    /// Sorted, each once.
    private static func unique(_ seqs: [Int64]) -> [Int64] {
        var sorted = seqs
        sorted.sort()
        var unique: [Int64] = []
        unique.reserveCapacity(sorted.count)
        for seq in sorted where unique.last != seq { unique.append(seq) }
        return unique
    }
}
