import AuditCore
import Foundation
import GRDB

/// Posting lists: for each block of 2^`blockShift` entries once it is complete, each key's
/// sequence numbers in one row of `posting`, so a lookup costs one seek per block.
///
/// While a block fills, its entries are found through the bucketed indexes on `entry`
/// (`(seq >> 12, key)`), which keep appends cheap; when the block is complete, the append that
/// completes it writes its postings in key order at the end of `posting` (`block` leads the
/// key), which is sequential and cheap too.
///
/// Every 16 complete blocks (meta `posting_run_blocks`) are then merged into a run: one row
/// per key holding its sequence numbers from all 16 blocks, written at the end of
/// `posting_run`, and the blocks' own rows are dropped. A lookup seeks once per run, once per
/// complete block not yet in a run, and probes at most 2^(blockShift − 12) buckets of the
/// block still filling: at ten million entries 9 + 8 + 16 seeks, instead of 170 with blocks
/// alone and 2,400 with buckets alone.
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

    /// How many complete blocks make a run (meta `posting_run_blocks`; 16 when not set).
    static func runBlocks(_ db: Database) throws -> Int64 {
        let statement = try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'posting_run_blocks'")
        return max(1, try String.fetchOne(statement).flatMap { Int64($0) } ?? 16)
    }

    /// How many runs have been written: they hold blocks `0..<runs * runBlocks`.
    static func runCount(_ db: Database) throws -> Int64 {
        let statement = try db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'posting_runs'")
        return try String.fetchOne(statement).flatMap { Int64($0) } ?? 0
    }

    /// Writes the postings of every block completed up to `head`, then merges every 16
    /// complete blocks not yet in a run into one.
    static func compact(_ db: Database, head: Int64) throws {
        let shift = try blockShift(db)
        let size = Int64(1) << Int64(shift)
        var through = try compactedThrough(db)
        if through + size <= head {
            while through + size <= head {
                try writeBlock(db, block: through >> Int64(shift), from: through + 1, through: through + size)
                through += size
            }
            try setMeta(db, "postings_through", through)
        }
        try mergeRuns(db, completeBlocks: through >> Int64(shift))
    }

    /// Merges each 16 complete blocks into a run: their rows read in key order (SQLite sorts
    /// them), each key's sequence numbers concatenated (blocks are disjoint and in order, so
    /// the result stays sorted), one row per key appended to `posting_run`, and the blocks'
    /// rows deleted. It runs in the transaction of the append that completes the 16th block.
    private static func mergeRuns(_ db: Database, completeBlocks: Int64) throws {
        let per = try runBlocks(db)
        var runs = try runCount(db)
        guard (runs + 1) * per <= completeBlocks else { return }
        let insert = try db.cachedStatement(sql: "INSERT INTO posting_run (run, kind, key, seqs) VALUES (?, ?, ?, ?)")
        while (runs + 1) * per <= completeBlocks {
            let first = runs * per
            let last = first + per - 1
            let rows = try Row.fetchCursor(
                db, sql: "SELECT kind, key, seqs FROM posting WHERE block BETWEEN ? AND ? ORDER BY kind, key, block",
                arguments: [first, last]
            )
            var current: (kind: Int64, key: String)?
            var seqs = Data()
            while let row = try rows.next() {
                let kind: Int64 = row[0]
                let key: String = row[1]
                let data: Data = row[2]
                // Keys compare as bytes, as SQLite sorted them (not as Swift's canonical equivalence).
                if let open = current, open.kind == kind, open.key.utf8.elementsEqual(key.utf8) {
                    seqs.append(data)
                    continue
                }
                if let open = current { try insert.execute(arguments: [runs, open.kind, open.key, seqs]) }
                current = (kind, key)
                seqs = data
            }
            if let open = current { try insert.execute(arguments: [runs, open.kind, open.key, seqs]) }
            try db.execute(sql: "DELETE FROM posting WHERE block BETWEEN ? AND ?", arguments: [first, last])
            runs += 1
        }
        try setMeta(db, "posting_runs", runs)
    }

    private static func setMeta(_ db: Database, _ key: String, _ value: Int64) throws {
        try db.execute(
            sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            arguments: [key, String(value)]
        )
    }

    private static func writeBlock(_ db: Database, block: Int64, from low: Int64, through high: Int64) throws {
        var lists: [Kind: [String: [Int64]]] = [:]
        func add(_ kind: Kind, _ key: String?, _ seq: Int64) {
            guard let key else { return }
            lists[kind, default: [:]][key, default: []].append(seq)
        }
        var counters = ToolDayCounters()
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
                counters.add(tool: tool, time: row[7], failed: (row[8] as String?) == "failure", durationMS: scan.durationMS, user: row[2])
            }
        }
        try counters.flush(db)
        let queryPatients = try Row.fetchCursor(
            db, sql: "SELECT seq, patient_id FROM entry_patient WHERE seq BETWEEN ? AND ? ORDER BY seq", arguments: [low, high]
        )
        while let row = try queryPatients.next() { add(.patient, row[1], row[0]) }
        let insert = try db.cachedStatement(sql: "INSERT INTO posting (block, kind, key, seqs) VALUES (?, ?, ?, ?)")
        for kind in Kind.allCases {
            guard let keys = lists[kind] else { continue }
            for key in keys.keys.sorted() {
                // A query naming its patient twice, or a patient both read and named: once each.
                var seqs = keys[key] ?? []
                seqs.sort()
                var unique: [Int64] = []
                unique.reserveCapacity(seqs.count)
                for seq in seqs where unique.last != seq { unique.append(seq) }
                try insert.execute(arguments: [block, kind.rawValue, key, encode(unique)])
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

    /// The postings of `keys` keys in a range of complete blocks (`table` `posting`, column
    /// `block`) or of runs (`posting_run`, `run`), in order: one statement whose arguments are
    /// the first and last block or run, the kind, then the keys.
    static func blocksSQL(keys: Int, table: String = "posting", column: String = "block") -> String {
        let list = (0..<max(1, keys)).map { _ in "?" }.joined(separator: ", ")
        return """
            WITH RECURSIVE blocks(b) AS (SELECT ? UNION ALL SELECT b + 1 FROM blocks WHERE b < ?)
            SELECT p.seqs FROM blocks CROSS JOIN \(table) AS p ON p.\(column) = blocks.b AND p.kind = ? AND p.key IN (\(list))
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
            let completeBlocks = through >> Int64(shift)
            let per = try runBlocks(db)
            // Runs first, then the complete blocks after them; one statement each, in order
            // (`run` and `block` lead their keys). Given an earlier `last`, the last run may
            // reach past it: its surplus is dropped below.
            let runs = min(try runCount(db), (completeBlocks + per - 1) / per)
            var ranges: [(sql: String, first: Int64, last: Int64)] = []
            if runs > 0 { ranges.append((blocksSQL(keys: keys.count, table: "posting_run", column: "run"), 0, runs - 1)) }
            if runs * per < completeBlocks { ranges.append((blocksSQL(keys: keys.count), runs * per, completeBlocks - 1)) }
            for range in ranges {
                let statement = try db.cachedStatement(sql: range.sql)
                let rows = try Row.fetchCursor(
                    statement, arguments: StatementArguments([range.first, range.last, kind.rawValue]) + StatementArguments(keys)
                )
                while let row = try rows.next() {
                    let data: Data = row[0]
                    result.append(contentsOf: decode(data))
                }
            }
            if runs * per > completeBlocks {
                result.removeAll { $0 > through }
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
