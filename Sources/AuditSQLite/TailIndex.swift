import AuditChain
import AuditCore
import AuditStorage
import Foundation
import GRDB

/// The keys of the entries whose block has no postings yet, held in memory, so that appends
/// write an entry's canonical bytes and nothing else.
///
/// Complete blocks are found through their posting lists (see ``Postings``). The block still
/// filling (at most 2^`blockShift` entries) is indexed here: a lookup first reads the
/// entries appended since the last one, by any process, from its own read transaction (each
/// is decoded once, in a few microseconds), then answers from memory. Entries never change
/// once written, so what was read stays true; readers of older snapshots filter by their own
/// head. When a block gets its postings, its entries leave the index.
final class TailIndex: @unchecked Sendable {
    private let lock = NSLock()
    /// Entries up to `base` are not held (they have postings).
    private var base: Int64 = 0
    /// Entries `base + 1 ... covered` are held, under every key but the pseudonyms in their bodies.
    private var covered: Int64 = 0
    /// Entries `base + 1 ... scanned` also have their bodies read: their pseudonyms and their
    /// tool counters are held (pseudonym searches and tool statistics ask for them, which
    /// detection, reading the log inside every append, does not).
    private var scanned: Int64 = 0
    private var lists: [Postings.Kind: [String: [Int64]]] = [:]
    /// Each held entry's event time, in milliseconds since the epoch.
    private var times: [Int64: Int64] = [:]
    /// The tool counters of the entries held, per block.
    private var counters: [Int64: ToolDayCounters] = [:]
    private let blockShift: Int64

    init(blockShift: Int) {
        self.blockShift = Int64(blockShift)
    }

    /// Forgets everything held. A write transaction reads its own entries before they are
    /// committed (detection, inside an append): when it rolls back, wholly or to a savepoint,
    /// those sequence numbers will be given to other entries, so what was read of them goes.
    func reset() {
        lock.lock()
        defer { lock.unlock() }
        (base, covered, scanned, lists, times, counters) = (0, 0, 0, [:], [:], [:])
    }

    /// The entries `after + 1 ... last` filed under one of `keys`, in order. `after` is the
    /// end of what has postings in the caller's snapshot, `last` its head.
    func seqs(_ db: Database, kind: Postings.Kind, keys: [String], after: Int64, last: Int64) throws -> [Int64] {
        try postings(db, kind: kind, keys: keys, after: after, last: last).map(\.seq)
    }

    /// ``seqs(_:kind:keys:after:last:)`` with each entry's event time (milliseconds since the epoch).
    func postings(_ db: Database, kind: Postings.Kind, keys: [String], after: Int64, last: Int64) throws -> [(seq: Int64, time: Int64)] {
        guard after < last else { return [] }
        lock.lock()
        defer { lock.unlock() }
        // A snapshot older than what the index has already let go of: read its range directly.
        if after < base { return try Self.scan(db, kind: kind, keys: keys, after: after, last: last) }
        try catchUp(db, after: after, through: last, bodies: kind == .token)
        var result: [Int64] = []
        for key in keys {
            for seq in lists[kind]?[key] ?? [] where seq > after && seq <= last { result.append(seq) }
        }
        if keys.count > 1 {
            result.sort()
            var unique: [Int64] = []
            for seq in result where unique.last != seq { unique.append(seq) }
            result = unique
        }
        return result.map { ($0, times[$0] ?? 0) }
    }

    /// The tool counters of the entries after `after` through `last`, whole blocks as held.
    func toolCounters(_ db: Database, after: Int64, last: Int64) throws -> [ToolDayCounters] {
        guard after < last else { return [] }
        lock.lock()
        defer { lock.unlock() }
        if after < base {
            var counters = ToolDayCounters()
            try SQLiteStore.forEachEntry(db, from: after + 1, through: last) { entry in
                EntryKeys(entry).count(entry, into: &counters)
            }
            return [counters]
        }
        try catchUp(db, after: after, through: last, bodies: true)
        // Blocks are whole: entries past the caller's head are counted only if it is the newest reader.
        return counters.keys.sorted().compactMap { counters[$0] }
    }

    /// Drops what has postings in this snapshot, and reads the entries up to `through` (with
    /// `bodies`, their bodies too).
    private func catchUp(_ db: Database, after: Int64, through: Int64, bodies: Bool) throws {
        if after > base {
            if after >= covered {
                lists = [:]
                counters = [:]
                times = [:]
                covered = after
            } else {
                for (kind, keys) in lists {
                    lists[kind] = keys.compactMapValues { seqs in
                        let kept = seqs.filter { $0 > after }
                        return kept.isEmpty ? nil : kept
                    }
                }
                counters = counters.filter { ($0.key + 1) << blockShift > after }
                times = times.filter { $0.key > after }
            }
            scanned = max(scanned, after)
            base = after
        }
        if covered < through {
            try SQLiteStore.forEachEntry(db, from: covered + 1, through: through) { entry in
                for (kind, key) in EntryKeys(entry, scanningBody: false).keys {
                    lists[kind, default: [:]][key, default: []].append(entry.seq)
                }
                times[entry.seq] = Self.eventTime(entry)
            }
            covered = through
        }
        if bodies, scanned < through {
            try SQLiteStore.forEachEntry(db, from: scanned + 1, through: through) { entry in
                let keys = EntryKeys(entry)
                for (kind, key) in keys.keys where kind == .token { lists[kind, default: [:]][key, default: []].append(entry.seq) }
                // Block b holds the entries (b << shift) + 1 ... (b + 1) << shift, as in the posting lists.
                keys.count(entry, into: &counters[(entry.seq - 1) >> blockShift, default: ToolDayCounters()])
            }
            scanned = through
        }
    }

    /// The entries `after + 1 ... last` filed under one of `keys`, read from the log.
    private static func scan(_ db: Database, kind: Postings.Kind, keys: [String], after: Int64, last: Int64) throws -> [(
        seq: Int64, time: Int64
    )] {
        let wanted = Set(keys)
        var result: [(seq: Int64, time: Int64)] = []
        try SQLiteStore.forEachEntry(db, from: after + 1, through: last) { entry in
            if EntryKeys(entry).keys.contains(where: { $0.0 == kind && wanted.contains($0.1) }) {
                result.append((entry.seq, eventTime(entry)))
            }
        }
        return result
    }

    /// An entry's event time (`timestamp`, else `recorded_at`) in milliseconds since the epoch.
    static func eventTime(_ entry: StoredEntry) -> Int64 {
        Timestamp(rfc3339: entry.content.timestamp ?? entry.recordedAt)?.millisecondsSinceEpoch ?? 0
    }
}
