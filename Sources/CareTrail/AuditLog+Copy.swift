public import AuditChain
import AuditCore
import AuditKeys
import AuditStorage
import Foundation

extension AuditLog {
    /// What a copy did.
    public struct CopyResult: Sendable, Hashable {
        /// Entries copied (those without content included).
        public var entries: Int64
        /// The head of the copy, the source's head.
        public var head: ChainHead?
        /// The copy's verification, run once it was made.
        public var verified: Bool
    }

    /// Copies this log, entry for entry, into a new log at `database` (a file path or a
    /// `postgres://` URL, which must hold no log yet): the same sequence numbers, hashes and
    /// `recorded_at`, so the copy has the same head. Each entry is checked against the one
    /// before it as it is copied, a batch at a time, and the copy is verified in full at the
    /// end. The copy uses this log's key ring: saved to `keyFile` when that is another file
    /// than this log's (the default for a database file is beside it).
    public func copy(
        to database: String, keyFile: String?, batchSize: Int = 4_096, progress: (Int64) -> Void = { _ in }
    ) throws(CareTrailError) -> CopyResult {
        let keyPath = try Self.keyFile(keyFile, forDatabase: database)
        let sameKeyFile = URL(fileURLWithPath: keyPath).standardizedFileURL == URL(fileURLWithPath: keyRingPath).standardizedFileURL
        let target = try Self.make(
            database: database, keyPath: keyPath, ring: keyRing, savingKeys: !sameKeyFile, policy: nil, clock: store.clock)
        let last = try storeCall { () throws(StoreError) in try store.head()?.seq ?? 0 }
        var batch: [CopiedEntry] = []
        batch.reserveCapacity(batchSize)
        var copied: Int64 = 0
        let destination = target.store
        func flush() throws(StoreError) {
            guard !batch.isEmpty else { return }
            _ = try destination.appendCopies(batch)
            copied += Int64(batch.count)
            batch.removeAll(keepingCapacity: true)
            progress(copied)
        }
        try storeCall { () throws(StoreError) in
            try store.forEachCanonical(from: 1, through: last) { seq, hash, bytes in
                batch.append(CopiedEntry(seq: seq, entryHash: hash, canonical: Array(bytes)))
                if batch.count >= batchSize { try flush() }
                return true
            }
            try flush()
        }
        let report = try storeCall { () throws(StoreError) in try destination.verify() }
        return CopyResult(entries: copied, head: report.head, verified: report.isIntact)
    }
}
