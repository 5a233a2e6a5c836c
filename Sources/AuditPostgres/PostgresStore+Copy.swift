public import AuditChain
public import AuditStorage
import Logging
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// Appends entries copied from another log as they are, in one transaction under the log's
    /// advisory lock, with their keys and counts; an entry without content goes into the spine
    /// alone, as a retention run leaves it. Each month of `recorded_at` gets its partition.
    public func appendCopies(_ entries: [CopiedEntry]) throws(StoreError) -> ChainHead? {
        do {
            return try withConnection { connection, logger in
                try appending(connection, logger) { sink in
                    var start = 0
                    while start < entries.count {
                        // One run per month: a partition opens where a month begins.
                        let month = Self.month(entries[start])
                        var end = start + 1
                        while end < entries.count, Self.month(entries[end]) == month { end += 1 }
                        try sink.insertCopies(entries[start..<end], month: month)
                        start = end
                    }
                    return sink.head
                }
            }
        } catch {
            if error.code == .outOfRange { throw error }
            throw StoreError(code: .appendFailed, message: "nothing of the batch was copied: \(error.message)")
        }
    }

    /// The month an entry belongs to; a sealed entry goes with the month before it.
    private static func month(_ entry: CopiedEntry) -> String? {
        entry.isSealed ? nil : String(entry.recordedAt.prefix(7))
    }
}

extension PostgresAppendSink {
    /// Inserts entries of one month as they were, after checking each follows the head.
    mutating func insertCopies(_ entries: ArraySlice<CopiedEntry>, month: String?) throws {
        guard let first = entries.first else { return }
        if let month, openMonth.map({ month > $0 }) ?? true {
            try pending.flush()
            try connection.run("SELECT caretrail_open_partition(\(first.seq), \(month))", logger)
            openMonth = month
        }
        for copied in entries {
            try copied.check(following: head)
            pending.chain.add(seq: copied.seq, prev: head?.hash ?? .genesis, hash: copied.entryHash, recordedAt: copied.recordedAt)
            if let stored = copied.stored { pending.content.add(stored, canonical: copied.canonical) }
            head = ChainHead(seq: copied.seq, hash: copied.entryHash)
        }
    }
}
