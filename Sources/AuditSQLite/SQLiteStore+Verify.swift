public import AuditChain
import AuditCore
public import AuditStorage
import Foundation
import GRDB
import GRDBSQLite

extension SQLiteStore {
    /// Recomputes every entry's hash from its canonical bytes, checks every link and sequence
    /// number and the patients' posting lists, and, given an earlier published head, checks that the log
    /// still holds it unchanged.
    ///
    /// Entries are read in chunks by two reader connections at once and hashed in parallel;
    /// links are then checked in order. Memory stays flat in the size of the log.
    public func verify(expectHead: ChainHead?, chunkSize: Int) throws(StoreError) -> VerificationReport {
        let report = try verify(after: nil, expectHead: expectHead, chunkSize: chunkSize)
        try record(report)
        return report
    }

    /// Verifies only what was appended since the last verification that proved the log intact
    /// (after checking that the entry at that verification's head still re-hashes to the hash
    /// it had); without one, or when that entry changed, verifies in full. Either way the
    /// report says which was done, and an intact result is recorded for the next time.
    public func verifyIncrementally(chunkSize: Int) throws(StoreError) -> VerificationReport {
        guard let previous = try lastVerification(), let anchor = try entry(seq: previous.head.seq),
            anchor.entryHash == previous.head.hash
        else { return try verify(expectHead: nil, chunkSize: chunkSize) }
        var buffer: [UInt8] = []
        guard hasher.isValid(anchor, buffer: &buffer) else { return try verify(expectHead: nil, chunkSize: chunkSize) }
        let link = ChainLink(seq: anchor.seq, prevHash: anchor.prevHash, entryHash: anchor.entryHash, hashIsValid: true)
        var report = try verify(after: link, expectHead: nil, chunkSize: chunkSize)
        report.mode = .incremental
        report.previous = previous
        try record(report)
        return report
    }

    /// The latest verification that proved the log intact, if any.
    public func lastVerification() throws(StoreError) -> VerificationRecord? {
        try read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT verified_through, head_hash, verified_at, mode, entries_checked FROM verification ORDER BY id DESC LIMIT 1"
                )
            else { return nil }
            let hash = [UInt8](row[1] as Data)
            return VerificationRecord(
                head: ChainHead(seq: row[0], hash: ChainHash(bytes: hash) ?? ChainHash(unchecked: hash)), verifiedAt: row[2],
                mode: VerificationMode(rawValue: row[3]) ?? .full, entriesChecked: row[4]
            )
        }
    }

    /// Keeps what an intact verification proved.
    private func record(_ report: VerificationReport) throws(StoreError) {
        guard report.isIntact, let head = report.head else { return }
        // Nothing new proved (an incremental pass over no new entries): nothing to write.
        if report.mode == .incremental, report.previous?.head == head { return }
        do {
            try pool.write { db in
                try db.execute(
                    sql:
                        "INSERT INTO verification (verified_through, head_hash, verified_at, mode, entries_checked) VALUES (?, ?, ?, ?, ?)",
                    arguments: [head.seq, Data(head.hash.bytes), clock().description, report.mode.rawValue, report.entriesChecked]
                )
            }
        } catch {
            throw StoreError(code: .appendFailed, message: "cannot record the verification: \(Self.reason(error))")
        }
    }

    private func verify(after anchor: ChainLink?, expectHead: ChainHead?, chunkSize: Int) throws(StoreError) -> VerificationReport {
        let head = try self.head()
        var report = VerificationReport(problem: nil, entriesChecked: 0, head: head, expectedHead: expectHead)
        var verifier = ChainVerifier(after: anchor)
        let lastSeq = head?.seq ?? 0
        // A full verification also checks the patients' posting lists and report records of
        // every complete block (see PatientPostingCheck); an incremental one checks entries only.
        let shift = Int64(postingBlockShift)
        let derivedThrough = anchor == nil ? try read { db in try Postings.compactedThrough(db) } : 0
        var expectedDigests: [Int64: MultisetDigest] = [:]
        var low: Int64 = (anchor?.seq ?? 0) + 1
        // More chunks than cores per round, so a slow chunk does not leave a core idle.
        let parallelism = 8
        while low <= lastSeq {
            let ranges = (0..<parallelism).map { part in
                (low + Int64(part * chunkSize), min(lastSeq, low + Int64((part + 1) * chunkSize) - 1))
            }.filter { $0.0 <= $0.1 }
            let results = try scanInParallel(ranges, derivedThrough: derivedThrough)
            for result in results {
                expectedDigests.merge(result.patientDigests) { $0.adding($1) }
                if let index = verifier.check(result.links) {
                    report.entriesChecked = verifier.checkedCount
                    report.problem = try diagnose(result.links[index].seq)
                    return report
                }
                if let first = result.merkleMismatch {
                    report.entriesChecked = verifier.checkedCount
                    report.problem = Self.merkleProblem(first)
                    return report
                }
            }
            low += Int64(parallelism * chunkSize)
        }
        report.entriesChecked = verifier.checkedCount
        if let first = try read({ db in try Self.firstUpperMerkleMismatch(db) }) {
            report.problem = Self.merkleProblem(first)
            return report
        }
        if derivedThrough > 0 {
            let stored = try read { db in
                try Self.scanning(db) { try PatientPostingCheck.stored(db, through: derivedThrough, blockShift: shift) }
            }
            let blocks = Set(stored.keys).union(expectedDigests.keys).sorted()
            if let block = blocks.first(where: { stored[$0] != expectedDigests[$0] }) {
                let first = block << shift + 1
                report.problem = ChainProblem(
                    kind: .indexMismatch, seq: first,
                    message:
                        "the patient posting lists or report records of entries \(first)...\((block + 1) << shift) do not match the entries"
                )
                return report
            }
        }
        // Rows below seq 1, or a tail beyond what the head said, cannot exist: seq is the key.
        if let expectHead {
            let stored = try entry(seq: expectHead.seq)
            report.problem = ChainVerifier.checkExpectedHead(expectHead, stored: stored, currentHead: head)
        }
        return report
    }

    private struct ScanResult: Sendable {
        var links: [ChainLink] = []
        /// What the entries say patients' postings hold, per block (full verifications).
        var patientDigests: [Int64: MultisetDigest] = [:]
        /// The first seq of the first stored Merkle node of the range's lowest stored level
        /// that its entries' hashes do not make.
        var merkleMismatch: Int64?
        var failure: StoreError?
    }

    private func scanInParallel(_ ranges: [(Int64, Int64)], derivedThrough: Int64) throws(StoreError) -> [ScanResult] {
        let slots = Slots<ScanResult>(count: ranges.count)
        DispatchQueue.concurrentPerform(iterations: ranges.count) { index in
            let (low, high) = ranges[index]
            do {
                let result = try pool.read { db in
                    try Self.scanning(db) { try self.scan(db, from: low, through: high, derivedThrough: derivedThrough) }
                }
                slots.set(index, result)
            } catch {
                slots.set(index, ScanResult(failure: StoreError(code: .readFailed, message: "cannot read the log: \(Self.reason(error))")))
            }
        }
        let results = slots.values.map { $0 ?? ScanResult(failure: StoreError(code: .readFailed, message: "scan did not run")) }
        if let failure = results.lazy.compactMap(\.failure).first { throw failure }
        return results
    }

    /// Runs a sequential scan through a small page cache instead of the memory map: a map of
    /// the whole file, or a large cache per reader, would make the process's resident memory
    /// grow with the log.
    private static func scanning<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        try db.execute(sql: "PRAGMA mmap_size = 0; PRAGMA cache_size = -2048")
        defer { try? db.execute(sql: "PRAGMA mmap_size = \(readerMapSize); PRAGMA cache_size = -65536") }
        return try body()
    }

    /// Reads the entries with `seq` in the range straight from SQLite's buffers and hashes
    /// their canonical bytes; those up to `derivedThrough` (complete blocks) are also decoded,
    /// in the same pass, into what their patients' postings must hold.
    private func scan(_ db: Database, from low: Int64, through high: Int64, derivedThrough: Int64) throws -> ScanResult {
        var result = ScanResult()
        result.links.reserveCapacity(Int(high - low + 1))
        // Keep GRDB's statement alive while its SQLite handle is used; GRDB finalizes it.
        let prepared = try db.makeStatement(sql: "SELECT seq, canonical, entry_hash FROM entry WHERE seq BETWEEN ? AND ? ORDER BY seq")
        defer { withExtendedLifetime(prepared) {} }
        let statement = prepared.sqliteStatement
        sqlite3_bind_int64(statement, 1, low)
        sqlite3_bind_int64(statement, 2, high)
        let columns = StatementColumns(statement: statement)
        let missing = ChainHash(unchecked: [])
        var expected = PatientPostingCheck.Expected(blockShift: Int64(postingBlockShift))
        var record = CanonicalRecord()
        var merkle = try MerkleNodeCheck(db, low: low, high: high)
        while try StatementColumns.step(statement, db) {
            let seq = columns.int64(0)
            let stored = columns.hash(2)
            let link = columns.withBytes(1) { bytes in
                let bytes = bytes ?? UnsafeBufferPointer(start: nil, count: 0)
                let linkedSeq: Int64?
                let prev: ChainHash?
                if seq <= derivedThrough {
                    // One pass over the bytes gives the link and what the patients' postings must hold.
                    record.read(bytes)
                    expected.add(record, seq: seq)
                    (linkedSeq, prev) = (record.seq, record.prevHash)
                } else {
                    (linkedSeq, prev) = CanonicalEntry.link(bytes)
                }
                // The bytes say which place in the chain they were hashed for: a row moved to
                // another sequence number no longer matches, even if its hash does.
                let valid = linkedSeq == seq && CanonicalEntry.hash(bytes) == stored
                return ChainLink(seq: seq, prevHash: prev ?? missing, entryHash: stored, hashIsValid: valid)
            }
            result.links.append(link)
            try merkle.add(seq: seq, entryHash: stored)
        }
        result.patientDigests = expected.digests
        result.merkleMismatch = merkle.firstMismatch
        return result
    }

    private static func merkleProblem(_ first: Int64) -> ChainProblem {
        ChainProblem(
            kind: .merkleMismatch, seq: first,
            message: "the stored Merkle tree over entries from \(first) does not match their hashes; proofs from it would not hold")
    }

    private func diagnose(_ seq: Int64) throws(StoreError) -> ChainProblem {
        try read { db in
            let suspect = try Self.fetchEntries(db, where: "seq = ?", arguments: [seq]).first
            let before = try Self.fetchEntries(db, where: "seq < ?", arguments: [seq], limit: 1, order: "seq DESC").first
            let after = try Self.fetchEntries(db, where: "seq > ?", arguments: [seq], limit: 1).first
            guard let suspect else {
                return ChainProblem(kind: .deleted, seq: seq, message: "entry \(seq) vanished during verification")
            }
            return ChainVerifier.diagnose(suspect: suspect, before: before, after: after)
        }
    }
}

/// Results written by parallel workers, one slot each.
final class Slots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [T?]

    init(count: Int) {
        storage = Array(repeating: nil, count: count)
    }

    func set(_ index: Int, _ value: T) {
        lock.lock()
        storage[index] = value
        lock.unlock()
    }

    var values: [T?] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
