import AuditChain
import AuditCore
import AuditStorage
import Foundation
import GRDB
import Synchronization

extension SQLiteStore {
    /// Writes the postings of every complete block that has none yet, one block at a time.
    ///
    /// A block's 4,096 entries are read and their postings collected in a read transaction,
    /// beside the appends (WAL readers do not block the writer); only the inserts of the
    /// postings take the write lock. Appends that arrive meanwhile wait for those inserts at
    /// most, instead of for the whole block being read inside an append's transaction, which
    /// took about a second. If another connection wrote the block first, it is not written
    /// again. A failure leaves the block to the next call or the next opening of the log:
    /// postings are derived from the entries, and until a block has them, lookups find its
    /// entries through the ``TailIndex``. When several blocks are pending (a file appended in
    /// one transaction), they are collected on every core at once and written in order.
    func compactPostingsNow() {
        do {
            let generation = try pool.read { db in try Postings.purgeGeneration(db) }
            let changed = compactionGeneration.withLock { current in
                defer { current = generation }
                return current != generation
            }
            // Blocks collected before a purge may hold what it removed.
            if changed { collectedBlocks.forget(before: .max) }
            try compactPendingBlocks()
            try mergePendingSpans()
        } catch {
            // Derived data only: the entries are durable, and lookups do without the postings.
        }
        extendMerkleTree()
    }

    /// ``compactPostingsNow()`` on the low-priority ``BackgroundThread`` (not Swift's
    /// cooperative pool, whose few threads serve requests). At most one runs at a time; a
    /// request made while it runs makes it go round once more.
    func compactPostingsInBackground() {
        guard compaction.request() else { return }
        BackgroundThread.shared.async { [self] in
            while compaction.nextPass() { compactPostingsNow() }
        }
    }

    /// Whether no retention run purged entries since this compaction began: rows it read
    /// before a purge may hold what the purge removed, and are not written.
    func isCurrent(_ db: Database) throws -> Bool {
        try Postings.purgeGeneration(db) == compactionGeneration.withLock { $0 }
    }

    private func compactPendingBlocks() throws {
        defer {
            // Blocks another connection wrote meanwhile are not needed any more.
            if let compacted = try? pool.read({ db in try Postings.compactedThrough(db) }) {
                collectedBlocks.forget(before: compacted >> Int64(postingBlockShift))
            }
        }
        while true {
            if try compactWholeSpan() { continue }
            let pending: (through: Int64, shift: Int64, count: Int64)? = try pool.read { db in
                let shift = Int64(try Postings.blockShift(db))
                let through = try Postings.compactedThrough(db)
                guard let head = try Self.head(db)?.seq, through + (1 << shift) <= head else { return nil }
                return (through, shift, min((head - through) >> shift, Int64(2 * Processors.active)))
            }
            guard let pending else { return }
            let size = Int64(1) << pending.shift
            for (index, item) in try collectBlocks(after: pending.through, count: pending.count, shift: pending.shift).enumerated() {
                let through = pending.through + Int64(index) * size
                guard try write(item.block, rows: item.rows, after: through, size: size) else { return }
            }
        }
    }

    /// Reads, decodes and sorts the postings of the `count` complete blocks after entry
    /// `through`, in parallel, each in a read transaction of its own; in block order.
    private func collectBlocks(
        after through: Int64, count: Int64, shift: Int64
    ) throws -> [(block: Postings.Block, rows: [Postings.Posting])] {
        let size = Int64(1) << shift
        let collected = Slots<(block: Postings.Block, rows: [Postings.Posting])>(count: Int(count))
        let failures = Slots<String>(count: Int(count))
        DispatchQueue.concurrentPerform(iterations: Int(count)) { index in
            let low = through + Int64(index) * size
            do {
                let block =
                    try collectedBlocks.take(low >> shift)
                    ?? pool.read { db in try Postings.collect(db, block: low >> shift, from: low + 1, through: low + size) }
                collected.set(index, (block, block.rows()))
            } catch {
                failures.set(index, Self.reason(error))
            }
        }
        return try collected.values.enumerated().map { index, item in
            guard let item else { throw StoreError(code: .appendFailed, message: failures.values[index] ?? "compaction did not run") }
            return item
        }
    }

    /// When every block of the next span is complete and none has postings yet (a file
    /// appended in one transaction, or a backlog), writes the span's rows straight from the
    /// collected blocks, as a merge of those blocks would have written them, and writes no
    /// block rows at all: each posting is then written once instead of twice and never
    /// deleted. `false` when the next span does not qualify.
    ///
    /// While a span's rows are written (on the writer's queue), the span after it, when it
    /// qualifies too, is collected on the other cores: collecting is most of the work, and
    /// writing is one thread's.
    private func compactWholeSpan() throws -> Bool {
        guard var next = try nextWholeSpan() else { return false }
        var collected = try collectSpan(next)
        while true {
            let following = WholeSpan(through: next.through + next.size, shift: next.shift, blocks: next.blocks, span: next.span + 1)
            let ahead = Slots<SpanRows>(count: 1)
            let collecting =
                try spanIsComplete(following)
                ? ThreadJob.start { [self] in
                    if let rows = try? collectSpan(following) { ahead.set(0, rows) }
                } : nil
            let written = try writeSpan(next, collected)
            collecting?.wait()
            guard written, let rows = ahead.values[0] else { return written }
            (next, collected) = (following, rows)
        }
    }

    /// A span of blocks to compact at once: the entries after `through`, 2^`shift` per block.
    private struct WholeSpan {
        var through: Int64
        var shift: Int64
        var blocks: Int64
        var span: Int64
        var size: Int64 { blocks << shift }
    }

    /// A span's rows, joined from its blocks, and its blocks' counters and times.
    private struct SpanRows {
        var rows: [Postings.Posting]
        var blocks: [Postings.Block]
    }

    /// The next span, when every one of its blocks is complete and none has postings yet.
    private func nextWholeSpan() throws -> WholeSpan? {
        try pool.read { db in
            let shift = Int64(try Postings.blockShift(db))
            let blocks = Int64(1) << Int64(try Postings.spanShift(db))
            let size = blocks << shift
            let through = try Postings.compactedThrough(db)
            guard blocks > 1, through % size == 0, try Postings.spannedThrough(db) == through,
                let head = try Self.head(db)?.seq, through + size <= head
            else { return nil }
            return WholeSpan(through: through, shift: shift, blocks: blocks, span: through / size)
        }
    }

    /// Whether every entry of `span` is in the log.
    private func spanIsComplete(_ span: WholeSpan) throws -> Bool {
        try pool.read { db in (try Self.head(db)?.seq ?? 0) >= span.through + span.size }
    }

    /// Collects the blocks of `span` a few at a time on every core and folds them, in block
    /// order, into the span's rows, keyed by the bytes of each key as SQLite compares them.
    private func collectSpan(_ span: WholeSpan) throws -> SpanRows {
        let size = Int64(1) << span.shift
        /// A key as SQLite tells keys apart: by their UTF-8 bytes (Swift's `==` on strings
        /// follows Unicode equivalence instead).
        struct KeyBytes: Hashable {
            var kind: Postings.Kind
            var key: String
            static func == (a: KeyBytes, b: KeyBytes) -> Bool { a.kind == b.kind && a.key.utf8.elementsEqual(b.key.utf8) }
            func hash(into hasher: inout Hasher) {
                hasher.combine(kind)
                for byte in key.utf8 { hasher.combine(byte) }
            }
        }
        var rows: [Postings.Posting] = []
        var positions: [KeyBytes: Int] = [:]
        var blocks: [Postings.Block] = []
        var first: Int64 = 0
        while first < span.blocks {
            let count = min(span.blocks - first, Int64(2 * Processors.active))
            for item in try collectBlocks(after: span.through + first * size, count: count, shift: span.shift) {
                // Joined as a merge of the blocks' rows joins them: sequence numbers in block
                // order, records only while every block holding the key has them.
                for row in item.rows {
                    let key = KeyBytes(kind: row.kind, key: row.key)
                    if let position = positions[key] {
                        rows[position].seqs.append(row.seqs)
                        if let part = row.records { rows[position].records?.append(part) } else { rows[position].records = nil }
                    } else {
                        positions[key] = rows.count
                        rows.append(row)
                    }
                }
                // Only the counters and the time bounds are written later: keep nothing else.
                var block = item.block
                block.lists = [:]
                block.records = [:]
                block.times = [:]
                blocks.append(block)
            }
            first += count
        }
        rows.sort { $0.kind != $1.kind ? $0.kind.rawValue < $1.kind.rawValue : $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return SpanRows(rows: rows, blocks: blocks)
    }

    /// Writes a span's rows in transactions of ``spanRowsPerTransaction``; the counters and
    /// times of all its blocks, and the marks that they are compacted and spanned, go with the
    /// last. Until then lookups read the span's entries through the ``TailIndex``, as for any
    /// block without postings. A write cut short leaves rows that the next compaction writes
    /// again, identical (`OR REPLACE`); if another connection compacted a block meanwhile, the
    /// marks are left to it (`false`).
    private func writeSpan(_ span: WholeSpan, _ collected: SpanRows) throws -> Bool {
        let rows = collected.rows
        var start = 0
        while true {
            let end = min(rows.count, start + Self.spanRowsPerTransaction)
            let last = end == rows.count
            let written = try writeBeside { db -> Bool in
                guard try self.isCurrent(db), try Postings.compactedThrough(db) == span.through,
                    try Postings.spannedThrough(db) == span.through
                else {
                    return false
                }
                try Postings.insert(db, span: span.span, rows[start..<end])
                if last {
                    for block in collected.blocks {
                        var counters = block.counters
                        try counters.flush(db)
                        try block.writeTimes(db)
                    }
                    try Postings.setCompactedThrough(db, span.through + span.size)
                    try Postings.setSpannedThrough(db, span.through + span.size)
                }
                return true
            }
            if !written || last { return written }
            start = end
        }
    }

    /// Inserts one collected block's rows in chunks of `postingsPerTransaction`, each its own
    /// short transaction, so that appends queued behind one wait milliseconds. The counters
    /// (which add up, so must be written once), the block's times and the mark that the block
    /// is done go with the last chunk. `false` when another connection wrote the block meanwhile.
    private func write(_ block: Postings.Block, rows: [Postings.Posting], after through: Int64, size: Int64) throws -> Bool {
        var start = 0
        while true {
            let end = min(rows.count, start + Self.postingsPerTransaction)
            let last = end == rows.count
            let written = try writeBeside { db -> Bool in
                guard try self.isCurrent(db), try Postings.compactedThrough(db) == through else { return false }
                try Postings.insert(db, block: block.number, rows[start..<end])
                if last {
                    var counters = block.counters
                    try counters.flush(db)
                    try block.writeTimes(db)
                    try Postings.setCompactedThrough(db, through + size)
                }
                return true
            }
            if !written { return false }
            if last { return true }
            start = end
        }
    }

    /// Posting rows inserted or removed per write transaction by a background compaction.
    /// Appends wait behind one transaction at most: 512 rows take 2–3 ms here (4,096 took
    /// 20–25 ms, which showed in the server's p99 latency at 5,000 requests/s).
    static let postingsPerTransaction = 512

    /// Span rows inserted per write transaction: each goes to its key's place in the tree,
    /// so a transaction touches about as many pages as it has rows.
    static let spanRowsPerTransaction = 256

    /// Merges the postings of every complete span of blocks into `posting_span`, then removes
    /// the merged blocks' rows from `posting`.
    ///
    /// Each round reads the next keys of every block of the span, in key order, in a read
    /// transaction, and writes their merged rows in a short write transaction; the mark that
    /// the span is done goes with the last. Lookups use the span only once it is marked, so
    /// until then they read the blocks, which are removed only after it. A merge cut short
    /// by a crash is done again (`INSERT OR REPLACE`, identical rows).
    private func mergePendingSpans() throws {
        while true {
            let pending: (spanned: Int64, span: Int64, firstBlock: Int64, blocks: Int64, size: Int64)? = try pool.read { db in
                let shift = Int64(try Postings.blockShift(db))
                let blocks = Int64(1) << Int64(try Postings.spanShift(db))
                let size = blocks << shift
                let spanned = try Postings.spannedThrough(db)
                guard spanned + size <= (try Postings.compactedThrough(db)) else { return nil }
                return (spanned, spanned / size, spanned >> shift, blocks, size)
            }
            guard let pending else { break }
            try mergeInRounds { db, after in
                try Postings.mergedRows(
                    db, blocks: pending.firstBlock..<(pending.firstBlock + pending.blocks), after: after,
                    limit: Self.spanRowsPerTransaction)
            } write: { db, rows, last in
                guard try self.isCurrent(db), try Postings.spannedThrough(db) == pending.spanned else { return false }
                try Postings.insert(db, span: pending.span, rows[...])
                if last { try Postings.setSpannedThrough(db, pending.spanned + pending.size) }
                return true
            }
        }
        try removeSpannedBlocks()
        try mergePendingEpochs()
    }

    /// One merge, round by round: `read` gives the merged rows of the next keys after `after`
    /// (and whether keys are left) in a read transaction beside the appends; `write` writes
    /// them in a short write transaction, with the merge's mark when they are the `last`, or
    /// returns `false` when another connection did the merge meanwhile, which ends it.
    private func mergeInRounds(
        read: (Database, (kind: Int64, key: String)?) throws -> (rows: [Postings.Posting], more: Bool),
        write: @escaping (Database, [Postings.Posting], _ last: Bool) throws -> Bool
    ) throws {
        var after: (kind: Int64, key: String)?
        while true {
            let (rows, more) = try pool.read { db in try read(db, after) }
            guard try writeBeside({ db in try write(db, rows, !more) }), more else { return }
            if let last = rows.last { after = (last.kind.rawValue, last.key) }
        }
    }

    /// Merges every complete epoch of spans (2^`posting_epoch_shift` of them) into
    /// `posting_epoch`, the same way spans are merged from blocks, then removes the merged
    /// spans' rows. A lookup then reads about ten epoch rows per key at ten million entries
    /// instead of one row per span.
    private func mergePendingEpochs() throws {
        while true {
            let pending: (epoched: Int64, epoch: Int64, firstSpan: Int64, spans: Int64, size: Int64)? = try pool.read { db in
                let shift = Int64(try Postings.blockShift(db))
                let spanSize = (Int64(1) << Int64(try Postings.spanShift(db))) << shift
                let spans = Int64(1) << Int64(try Postings.epochShift(db))
                let size = spans * spanSize
                let epoched = try Postings.epochsThrough(db)
                guard epoched + size <= (try Postings.spannedThrough(db)) else { return nil }
                return (epoched, epoched / size, epoched / spanSize, spans, size)
            }
            guard let pending else { break }
            try mergeInRounds { db, after in
                try Postings.mergedSpanRows(
                    db, spans: pending.firstSpan..<(pending.firstSpan + pending.spans), after: after,
                    limit: Self.spanRowsPerTransaction)
            } write: { db, rows, last in
                guard try self.isCurrent(db), try Postings.epochsThrough(db) == pending.epoched else { return false }
                try Postings.insert(db, epoch: pending.epoch, rows[...])
                if last { try Postings.setEpochsThrough(db, pending.epoched + pending.size) }
                return true
            }
        }
        try removeEpochedSpans()
    }

    /// Removes the rows of `posting_span` of spans already merged into epochs.
    private func removeEpochedSpans() throws {
        while true {
            let removed = try writeBeside { db -> Int in
                let shift = Int64(try Postings.blockShift(db))
                let spanSize = (Int64(1) << Int64(try Postings.spanShift(db))) << shift
                let epochedSpans = try Postings.epochsThrough(db) / spanSize
                guard epochedSpans > 0 else { return 0 }
                try db.execute(
                    sql: """
                        DELETE FROM posting_span WHERE span < ?1 AND (kind, key, span) IN
                            (SELECT kind, key, span FROM posting_span WHERE span < ?1 LIMIT ?2)
                        """,
                    arguments: [epochedSpans, Self.postingsPerTransaction]
                )
                return db.changesCount
            }
            if removed == 0 { return }
        }
    }

    /// Removes the rows of `posting` of blocks already merged into spans,
    /// `postingsPerTransaction` rows per transaction (also what a crash after a merge left).
    private func removeSpannedBlocks() throws {
        // Usually there is nothing to remove: find out without taking the write lock.
        let pending = try pool.read { db -> Bool in
            let spannedBlocks = try Postings.spannedThrough(db) >> Int64(try Postings.blockShift(db))
            return try spannedBlocks > 0
                && Bool.fetchOne(db, sql: "SELECT 1 FROM posting WHERE block < ? LIMIT 1", arguments: [spannedBlocks]) == true
        }
        guard pending else { return }
        while true {
            let removed = try writeBeside { db -> Int in
                let shift = Int64(try Postings.blockShift(db))
                let spannedBlocks = try Postings.spannedThrough(db) >> shift
                guard spannedBlocks > 0 else { return 0 }
                try db.execute(
                    sql: """
                        DELETE FROM posting WHERE block < ?1 AND (block, kind, key) IN
                            (SELECT block, kind, key FROM posting WHERE block < ?1 ORDER BY block, kind, key LIMIT ?2)
                        """,
                    arguments: [spannedBlocks, Self.postingsPerTransaction]
                )
                return db.changesCount
            }
            if removed == 0 { return }
        }
    }
}

/// The state of work a store runs in the background on request (posting compaction, WAL
/// checkpoints): at most one runner; requests made while it runs are not lost.
final class BackgroundPasses: @unchecked Sendable {
    private let lock = NSLock()
    private var running = false
    private var requested = false

    /// Records a request; `true` if the caller must start a runner.
    func request() -> Bool {
        lock.withLock {
            requested = true
            if running { return false }
            running = true
            return true
        }
    }

    /// Asked by the runner before each pass: `true` to make one, `false` when it stops.
    func nextPass() -> Bool {
        lock.withLock {
            if requested {
                requested = false
                return true
            }
            running = false
            return false
        }
    }
}
