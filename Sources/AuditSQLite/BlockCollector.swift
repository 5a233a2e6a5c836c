import AuditChain
import Synchronization

/// The postings of the blocks that one transaction appends whole, collected from its entries as
/// they are appended, so that the compaction after its commit need not read and decode them
/// again (a file ingested as one transaction: 48 blocks for 200,000 calls).
///
/// It sees every entry of the transaction in sequence order, alerts included. A block the
/// transaction began part-way is left to the compaction's reading. It holds at most ``limit``
/// blocks, about 1.5 MB each; past that the rest are read back as usual.
struct BlockCollector {
    let shift: Int64
    let limit: Int
    /// The blocks complete in this transaction, by number.
    private(set) var complete: [Int64: Postings.Block] = [:]
    private var current: Postings.Block?
    private var added: Int64 = 0
    private var record: [UInt8] = []

    init(shift: Int, limit: Int = 64) {
        self.shift = Int64(shift)
        self.limit = limit
    }

    /// Adds the next entries of the transaction.
    mutating func add(_ entries: [StoredEntry]) {
        for entry in entries { add(entry) }
    }

    private mutating func add(_ entry: StoredEntry) {
        guard complete.count < limit else { return }
        let size = Int64(1) << shift
        let number = (entry.seq - 1) >> shift
        if current?.number != number {
            // A block is collected only from its first entry on.
            current = (entry.seq - 1) % size == 0 ? Postings.Block(number: number) : nil
            added = 0
        }
        guard var block = current else { return }
        current = nil
        block.add(entry, record: &record)
        added += 1
        if added == size { complete[number] = block } else { current = block }
    }
}

/// Blocks collected by committed transactions, waiting for the compaction that writes them.
final class CollectedBlocks: Sendable {
    private let blocks = Mutex<[Int64: Postings.Block]>([:])

    /// Keeps the blocks of a committed transaction.
    func keep(_ collected: [Int64: Postings.Block]) {
        guard !collected.isEmpty else { return }
        blocks.withLock { $0.merge(collected) { _, new in new } }
    }

    /// Takes block `number`, if it was collected.
    func take(_ number: Int64) -> Postings.Block? {
        blocks.withLock { $0.removeValue(forKey: number) }
    }

    /// Forgets the blocks before `number` (written by another connection meanwhile).
    func forget(before number: Int64) {
        blocks.withLock { blocks in blocks = blocks.filter { $0.key >= number } }
    }
}
