public import AuditChain
import AuditCore
public import AuditStorage
import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    /// Appends entries copied from another log as they are, in one transaction; their postings
    /// follow, written block by block as for any append. An entry without content is stored
    /// sealed (its hash and empty bytes), as a retention run leaves it.
    public func appendCopies(_ entries: [CopiedEntry]) throws(StoreError) -> ChainHead? {
        do {
            let (head, completedBlock) = try pool.writeWithoutTransaction { db -> (ChainHead?, Bool) in
                var head: ChainHead?
                var completed = false
                try db.inTransaction(.immediate) {
                    head = try Self.head(db)
                    let first = (head?.seq ?? 0) + 1
                    let entry = try db.cachedStatement(sql: AppendSink.insertEntry)
                    let kind = try db.cachedStatement(sql: AppendSink.insertKind)
                    for copied in entries {
                        try copied.check(following: head)
                        try entry.execute(arguments: [
                            copied.seq, String(decoding: copied.canonical, as: UTF8.self), Data(copied.entryHash.bytes),
                        ])
                        if let stored = copied.stored, stored.content.kind != .toolCall, stored.content.kind != .agentRequest {
                            try kind.execute(arguments: [copied.seq, stored.content.kind.rawValue])
                        }
                        head = ChainHead(seq: copied.seq, hash: copied.entryHash)
                    }
                    if let last = head?.seq, last >= first {
                        completed = ((first - 1) >> Int64(postingBlockShift)) != (last >> Int64(postingBlockShift))
                    }
                    return .commit
                }
                return (head, completed)
            }
            tail.reset()
            if completedBlock { compactPostingsNow() }
            return head
        } catch let error as StoreError {
            tail.reset()
            throw error
        } catch {
            tail.reset()
            throw StoreError(code: .appendFailed, message: "nothing of the batch was copied: \(Self.reason(error))")
        }
    }
}
