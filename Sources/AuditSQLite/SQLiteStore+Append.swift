public import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    /// Appends a batch atomically and durably, sharing the commit with batches that other tasks
    /// append at the same time. The batch is stored entirely or not at all.
    public func append(_ batch: [EncodedEntry]) async throws -> AppendReceipt {
        try await committer.submit(batch, store: self)
    }

    /// Appends a batch atomically and durably in a transaction of its own, blocking the caller.
    public func appendNow(_ batch: [EncodedEntry]) throws(StoreError) -> AppendReceipt {
        let results = commit([batch])
        // swift-format-ignore: NeverForceUnwrap
        return try results[0].get()
    }

    /// Appends everything `produce` hands to its sink in one transaction: all of it, or, when
    /// `produce` throws, none of it. For files too large to hold in memory; returns how many
    /// entries were given, how many the observer derived (alerts), and the head.
    public func appendAll(
        _ produce: (_ append: ([EncodedEntry]) throws -> Void) throws -> Void
    ) throws -> (count: Int64, derived: Int64, head: ChainHead?) {
        do {
            var completedBlock = false
            var collected: [Int64: Postings.Block] = [:]
            let result = try pool.writeWithoutTransaction { db in
                var result: (Int64, Int64, ChainHead?) = (0, 0, nil)
                try db.inTransaction(.immediate) {
                    var sink = AppendSink(db: db, store: self, head: try Self.head(db))
                    // A file in one transaction: its whole blocks' postings are collected as
                    // it goes, for the compaction after the commit.
                    sink.collector = BlockCollector(shift: postingBlockShift)
                    try produce { entries in try sink.append(entries) }
                    result = (sink.appended, sink.derived, sink.head)
                    completedBlock = sink.completedBlock
                    collected = sink.collector?.complete ?? [:]
                    return .commit
                }
                return result
            }
            collectedBlocks.keep(collected)
            if completedBlock { compactPostingsNow() }
            return result
        } catch {
            observer?.appendRolledBack()
            tail.reset()
            if let error = error as? DatabaseError {
                throw StoreError(code: .appendFailed, message: "nothing was appended: \(Self.reason(error))")
            }
            throw error
        }
    }

    /// Commits several batches in one transaction, each in a savepoint. A batch that fails is
    /// rolled back alone; if the commit fails, every batch fails.
    func commit(_ batches: [[EncodedEntry]]) -> [Result<AppendReceipt, StoreError>] {
        do {
            let (results, completedBlock) = try pool.writeWithoutTransaction { db in try commit(batches, in: db) }
            // The batches are durable; the block's postings follow, outside their transaction.
            if completedBlock { compactPostingsNow() }
            return results
        } catch {
            observer?.appendRolledBack()
            tail.reset()
            let failure = StoreError(code: .appendFailed, message: "nothing was appended: \(Self.reason(error))")
            return batches.map { _ in .failure(failure) }
        }
    }

    /// ``commit(_:)`` on GRDB's writer queue, suspending instead of blocking the caller's thread.
    /// A completed block's postings are written by a background task, so the appends that
    /// arrive meanwhile wait only for its final inserts, not for the reading of its entries.
    func commitAsync(_ batches: [[EncodedEntry]]) async -> [Result<AppendReceipt, StoreError>] {
        do {
            let (results, completedBlock) = try await pool.writeWithoutTransaction { db in try self.commit(batches, in: db) }
            if completedBlock { compactPostingsInBackground() }
            return results
        } catch {
            observer?.appendRolledBack()
            tail.reset()
            let failure = StoreError(code: .appendFailed, message: "nothing was appended: \(Self.reason(error))")
            return batches.map { _ in .failure(failure) }
        }
    }

    private func commit(_ batches: [[EncodedEntry]], in db: Database) throws -> ([Result<AppendReceipt, StoreError>], completedBlock: Bool)
    {
        var results: [Result<AppendReceipt, StoreError>] = []
        var completedBlock = false
        try db.inTransaction(.immediate) {
            results = []
            var sink = AppendSink(db: db, store: self, head: try Self.head(db))
            for batch in batches {
                let before = sink.head
                var receipts: [ChainHead] = []
                do {
                    if batches.count == 1 {
                        // Alone in its transaction: the transaction itself makes it all or nothing.
                        receipts = try sink.append(batch)
                    } else {
                        try db.inSavepoint {
                            receipts = try sink.append(batch)
                            return .commit
                        }
                    }
                    results.append(.success(AppendReceipt(entries: receipts, head: sink.head)))
                } catch {
                    // Alone in its transaction, a failed batch fails the transaction.
                    if batches.count == 1 { throw error }
                    observer?.appendRolledBack()
                    tail.reset()
                    sink.head = before
                    results.append(
                        .failure(
                            StoreError(
                                code: .appendFailed, message: "nothing of the batch was appended: \(Self.reason(error))"
                            )))
                }
            }
            completedBlock = sink.completedBlock
            return .commit
        }
        return (results, completedBlock)
    }
}

/// Appends entries inside an open write transaction: reads nothing, links each entry to the
/// head it carries, and inserts its canonical bytes and hash with a prepared statement (and,
/// for the few entries that are neither tool calls nor agent requests, its kind).
struct AppendSink {
    let db: Database
    let store: SQLiteStore
    /// The head after the last appended entry.
    var head: ChainHead?
    /// How many entries this sink appended (those it was given).
    private(set) var appended: Int64 = 0
    /// How many entries the store's observer derived from them (alerts) and this sink appended.
    private(set) var derived: Int64 = 0
    /// Whether these appends completed a block of postings, which the store then writes
    /// after the commit (see ``SQLiteStore/compactPostingsNow()``).
    private(set) var completedBlock = false
    /// Collects the postings of the blocks these appends fill whole, when set.
    var collector: BlockCollector?
    private var buffer: [UInt8] = []

    init(db: Database, store: SQLiteStore, head: ChainHead?) {
        self.db = db
        self.store = store
        self.head = head
        buffer.reserveCapacity(2048)
    }

    static let insertEntry = "INSERT INTO entry (seq, canonical, entry_hash) VALUES (?, ?, ?)"
    static let insertKind = "INSERT INTO entry_kind (seq, kind) VALUES (?, ?)"

    /// Appends entries in order, then what the store's ``AppendObserver`` derives from them
    /// (alerts); returns the `(seq, hash)` of each of `entries`.
    @discardableResult
    mutating func append(_ entries: [EncodedEntry]) throws -> [ChainHead] {
        let recordedAt = store.clock().description
        var before = head?.hash ?? .genesis
        let firstSeq = (head?.seq ?? 0) + 1
        let receipts = try insert(entries, recordedAt: recordedAt)
        defer {
            if let last = head?.seq, last >= firstSeq {
                completedBlock = completedBlock || Self.completesBlock(firstSeq, last, shift: store.postingBlockShift)
            }
        }
        guard store.observer != nil || collector != nil, !entries.isEmpty else { return receipts }
        var observed = Self.stored(entries, receipts: receipts, prevHash: before, recordedAt: recordedAt)
        collector?.add(observed)
        guard let observer = store.observer else { return receipts }
        while true {
            let derived = try observer.entriesAppended(observed, reader: SQLiteLogReader(db: db, tail: store.tail))
            if derived.isEmpty { break }
            before = head?.hash ?? .genesis
            let derivedReceipts = try insert(derived, recordedAt: recordedAt)
            self.derived += Int64(derived.count)
            appended -= Int64(derived.count)
            observed = Self.stored(derived, receipts: derivedReceipts, prevHash: before, recordedAt: recordedAt)
            collector?.add(observed)
        }
        return receipts
    }

    /// Whether the entries `first...last` complete a block of postings.
    private static func completesBlock(_ first: Int64, _ last: Int64, shift: Int) -> Bool {
        ((first - 1) >> Int64(shift)) != (last >> Int64(shift))
    }

    /// Entries as stored, from their receipts; `prevHash` is the hash before the first.
    private static func stored(
        _ entries: [EncodedEntry], receipts: [ChainHead], prevHash: ChainHash, recordedAt: String
    ) -> [StoredEntry] {
        var prev = prevHash
        return zip(entries, receipts).map { entry, receipt in
            defer { prev = receipt.hash }
            return StoredEntry(seq: receipt.seq, recordedAt: recordedAt, prevHash: prev, entryHash: receipt.hash, content: entry)
        }
    }

    private mutating func insert(_ entries: [EncodedEntry], recordedAt: String) throws -> [ChainHead] {
        let entryStatement = try db.cachedStatement(sql: Self.insertEntry).sqliteStatement
        let kindStatement = try db.cachedStatement(sql: Self.insertKind).sqliteStatement
        var receipts: [ChainHead] = []
        receipts.reserveCapacity(entries.count)
        // One reading of the log's clock per batch (above): the entries of a batch are appended together.
        for entry in entries {
            try Self.checkVocabulary(entry)
            let seq = (head?.seq ?? 0) + 1
            let prev = head?.hash ?? .genesis
            // Leaves the canonical bytes in `buffer`: they are what is stored.
            let hash = store.hasher.hash(seq: seq, recordedAt: recordedAt, prevHash: prev, content: entry, buffer: &buffer)
            sqlite3_reset(entryStatement)
            sqlite3_bind_int64(entryStatement, 1, seq)
            buffer.withUnsafeBufferPointer { bytes in
                _ = bytes.withMemoryRebound(to: CChar.self) {
                    sqlite3_bind_text(entryStatement, 2, $0.baseAddress, Int32($0.count), sqliteTransient)
                }
            }
            bind(entryStatement, 3, blob: hash.bytes)
            try step(entryStatement)
            if entry.kind != .toolCall && entry.kind != .agentRequest {
                sqlite3_reset(kindStatement)
                sqlite3_bind_int64(kindStatement, 1, seq)
                bind(kindStatement, 2, text: entry.kind.rawValue)
                try step(kindStatement)
            }
            let newHead = ChainHead(seq: seq, hash: hash)
            head = newHead
            appended += 1
            receipts.append(newHead)
        }
        return receipts
    }

    /// Refuses an entry whose kind, action or outcome is not one the log knows (the column
    /// layout's CHECK constraints did this; the canonical bytes are one column).
    private static func checkVocabulary(_ entry: EncodedEntry) throws {
        guard RecordKind.allCases.contains(entry.kind) else {
            throw StoreError(code: .appendFailed, message: "unknown kind \(entry.kind.rawValue)")
        }
        if let action = entry.action, !ToolAction.allCases.contains(action) {
            throw StoreError(code: .appendFailed, message: "unknown action \(action.rawValue)")
        }
        if let outcome = entry.outcome, !Outcome.allCases.contains(outcome) {
            throw StoreError(code: .appendFailed, message: "unknown outcome \(outcome.rawValue)")
        }
    }

    private func step(_ statement: SQLiteStatement) throws {
        let code = sqlite3_step(statement)
        guard code == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
            throw StoreError(code: .appendFailed, message: "SQLite error \(code): \(message)")
        }
    }

    private func bind(_ statement: SQLiteStatement, _ index: Int32, text: String?) {
        guard var text else {
            sqlite3_bind_null(statement, index)
            return
        }
        text.withUTF8 { bytes in
            if let base = bytes.baseAddress {
                _ = base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    sqlite3_bind_text(statement, index, $0, Int32(bytes.count), sqliteTransient)
                }
            } else {
                sqlite3_bind_text(statement, index, "", 0, sqliteTransient)
            }
        }
    }

    private func bind(_ statement: SQLiteStatement, _ index: Int32, blob: [UInt8]) {
        blob.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(statement, index, bytes.baseAddress, Int32(bytes.count), sqliteTransient)
        }
    }
}

/// SQLite's SQLITE_TRANSIENT: copy the bound bytes.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Groups appends that arrive while a commit is running into the next commit.
actor GroupCommitter {
    private var waiting: [(batch: [EncodedEntry], continuation: CheckedContinuation<AppendReceipt, any Error>)] = []
    private var draining = false

    func submit(_ batch: [EncodedEntry], store: SQLiteStore) async throws -> AppendReceipt {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append((batch, continuation))
            if !draining {
                draining = true
                Task { await self.drain(store) }
            }
        }
    }

    private func drain(_ store: SQLiteStore) async {
        while !waiting.isEmpty {
            let group = waiting
            waiting = []
            let batches = group.map(\.batch)
            let results = await store.commitAsync(batches)
            for (waiter, result) in zip(group, results) {
                waiter.continuation.resume(with: result.mapError { $0 as any Error })
            }
        }
        draining = false
    }
}
