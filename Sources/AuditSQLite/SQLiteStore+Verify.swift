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
    /// it had); without one, verifies in full. When that entry is gone or holds another hash,
    /// the log was truncated or rewritten since: that is reported, not re-checked in silence.
    /// Either way the report says which was done, and an intact result is recorded for the
    /// next time.
    public func verifyIncrementally(chunkSize: Int) throws(StoreError) -> VerificationReport {
        guard let previous = try lastVerification() else { return try verify(expectHead: nil, chunkSize: chunkSize) }
        guard let anchor = try entry(seq: previous.head.seq), anchor.entryHash == previous.head.hash else {
            var report = VerificationReport(problem: nil, entriesChecked: 0, head: try head(), mode: .incremental)
            report.previous = previous
            report.problem = try read { db in try Self.verifiedHeadProblem(db, seq: previous.head.seq, hash: previous.head.hash) }
            return report
        }
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
        var expectedKinds: [(Int64, String)] = []
        var sealed: [ClosedRange<Int64>] = []
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
                expectedKinds.append(contentsOf: result.kinds)
                sealed.append(contentsOf: result.sealed)
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
        if let first = try read({ db in try Self.firstUpperMerkleMismatch(db, after: anchor?.seq ?? 0) }) {
            report.problem = Self.merkleProblem(first)
            return report
        }
        if let problem = try read({ db in try Self.kindIndexProblem(db, expected: expectedKinds, after: anchor?.seq ?? 0) }) {
            report.problem = problem
            return report
        }
        if let problem = try read({ db in try Self.sealedProblem(db, sealed: anchor == nil ? sealed : nil, after: anchor?.seq ?? 0) }) {
            report.problem = problem
            return report
        }
        if let problem = try read({ db in try Self.recordsProblem(db, head: head) }) {
            report.problem = problem
            return report
        }
        if let problem = try read({ db in try Self.keyTableProblem(db) }) {
            report.problem = problem
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
        /// The entries of the range whose kind the kind index holds (neither tool call nor
        /// agent request), with their kind.
        var kinds: [(Int64, String)] = []
        /// The first seq of the first stored Merkle node of the range's lowest stored level
        /// that its entries' hashes do not make.
        var merkleMismatch: Int64?
        /// The runs of sealed entries (whose content a retention run purged).
        var sealed: [ClosedRange<Int64>] = []
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
                // A sealed entry: its content was purged; its hash stands for it.
                if bytes.isEmpty {
                    if let last = result.sealed.last, last.upperBound == seq - 1 {
                        result.sealed[result.sealed.count - 1] = last.lowerBound...seq
                    } else {
                        result.sealed.append(seq...seq)
                    }
                    return ChainLink(seq: seq, prevHash: missing, entryHash: stored, hashIsValid: true, isSealed: true)
                }
                let linkedSeq: Int64?
                let prev: ChainHash?
                if seq <= derivedThrough {
                    // One pass over the bytes gives the link and what the patients' postings must hold.
                    record.read(bytes)
                    expected.add(record, seq: seq)
                    (linkedSeq, prev) = (record.seq, record.prevHash)
                    if let kind = record.indexedKind { result.kinds.append((seq, kind)) }
                } else {
                    (linkedSeq, prev) = CanonicalEntry.link(bytes)
                    if let kind = CanonicalEntry.text("kind", in: bytes), CanonicalRecord.isIndexed(kind: kind) {
                        result.kinds.append((seq, kind))
                    }
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

    /// The first difference between the kind index (`entry_kind`, which finds configuration
    /// changes, key events, alerts, reviews and checkpoints) and the kinds the entries after
    /// `after` hold: a configuration hidden from the index would put an older one in force.
    static func kindIndexProblem(_ db: Database, expected: [(Int64, String)], after: Int64) throws -> ChainProblem? {
        let stored = try Row.fetchAll(db, sql: "SELECT seq, kind FROM entry_kind WHERE seq > ? ORDER BY seq", arguments: [after])
            .map { (row: Row) -> (Int64, String) in (row[0], row[1]) }
        for index in 0..<max(stored.count, expected.count) {
            let have = index < stored.count ? stored[index] : nil
            let want = index < expected.count ? expected[index] : nil
            guard have?.0 != want?.0 || have?.1 != want?.1 else { continue }
            return ChainProblem(
                kind: .indexMismatch, seq: min(have?.0 ?? .max, want?.0 ?? .max),
                message: "the index of entry kinds (configuration, keys, alerts, reviews, checkpoints) does not match the entries")
        }
        return nil
    }

    /// What the log's own records say it held before: every verification that proved the
    /// log intact names a head the log must still hold with that hash, those records have no
    /// gap, and no SIEM destination has accepted entries beyond the head.
    static func recordsProblem(_ db: Database, head: ChainHead?) throws -> ChainProblem? {
        let headSeq = head?.seq ?? 0
        let rows = try Row.fetchAll(db, sql: "SELECT id, verified_through, head_hash FROM verification ORDER BY id")
        var expectedID: Int64?
        for row in rows {
            let id: Int64 = row[0]
            if let expectedID, id != expectedID {
                return ChainProblem(
                    kind: .truncated, seq: headSeq + 1,
                    message: "records of earlier verifications are missing (record \(expectedID) of the verification table was removed)")
            }
            expectedID = id + 1
            if let problem = try verifiedHeadProblem(db, seq: row[1], hash: ChainHash(unchecked: [UInt8](row[2] as Data))) {
                return problem
            }
        }
        if let beyond = try Row.fetchOne(
            db, sql: "SELECT destination, seq FROM stream_cursor WHERE seq > ? ORDER BY seq DESC LIMIT 1", arguments: [headSeq])
        {
            let seq: Int64 = beyond[1]
            return ChainProblem(
                kind: .truncated, seq: headSeq + 1,
                message: "a SIEM destination accepted entries up to \(seq), beyond the head \(headSeq): the log was truncated since")
        }
        return nil
    }

    /// The first API key whose row the chain's key events do not back: every key must have
    /// been created by a `key_event` with its id, role, tenant and (for keys created since
    /// events carry it) the hash of its secret, and a key the chain revoked must be revoked.
    /// The key table grants access outside the chain; this ties it back to the chain.
    static func keyTableProblem(_ db: Database) throws -> ChainProblem? {
        struct Backing {
            var seq: Int64
            var role: String?
            var tenant: String?
            var secretHash: String?
            var revoked = false
        }
        var backing: [String: Backing] = [:]
        let seqs = try Int64.fetchAll(db, sql: "SELECT seq FROM entry_kind WHERE kind = 'key_event' ORDER BY seq")
        for seq in seqs {
            guard let entry = try Self.entry(db, seq: seq), case .object(let body)? = try? JSONParser.parse(entry.content.body),
                let id = body["key_id"]?.stringValue
            else { continue }
            switch body["event"]?.stringValue {
            case "created":
                backing[id] = Backing(
                    seq: seq, role: body["role"]?.stringValue, tenant: body["tenant"]?.stringValue,
                    secretHash: body["secret_hash"]?.stringValue)
            case "revoked":
                backing[id]?.revoked = true
            default:
                break
            }
        }
        let rows = try Row.fetchAll(db, sql: "SELECT id, secret_hash, role, tenant_id, revoked_at FROM api_key ORDER BY created_at, id")
        for row in rows {
            let id: String = row[0]
            let hash = [UInt8](row[1] as Data).map { String(format: "%02x", $0) }.joined()
            let revoked = (row[4] as String?) != nil
            guard let event = backing[id] else {
                return ChainProblem(
                    kind: .keyNotInLog, seq: 0,
                    message: "API key \(id.prefix(40)) is in the key table, but no key event of the log created it")
            }
            let matches = event.role == row[2] && event.tenant == row[3] && (event.secretHash == nil || event.secretHash == hash)
            guard matches else {
                return ChainProblem(
                    kind: .keyNotInLog, seq: event.seq,
                    message: "API key \(id.prefix(40)) differs from the key entry \(event.seq) created (secret, role or tenant)")
            }
            guard revoked || !event.revoked else {
                return ChainProblem(
                    kind: .keyNotInLog, seq: event.seq,
                    message: "API key \(id.prefix(40)) was revoked in the log but is active in the key table")
            }
        }
        return nil
    }

    /// The damage when a verification record's head (`seq`, `hash`) is not in the log as it
    /// was: gone (truncated) or with another hash (rewritten); `nil` when it is.
    static func verifiedHeadProblem(_ db: Database, seq: Int64, hash: ChainHash) throws -> ChainProblem? {
        guard let stored = try Data.fetchOne(db, sql: "SELECT entry_hash FROM entry WHERE seq = ?", arguments: [seq]) else {
            return ChainProblem(
                kind: .truncated, seq: seq, message: "a verification proved the log intact up to entry \(seq), which is no longer in it")
        }
        guard ChainHash(unchecked: [UInt8](stored)) == hash else {
            return ChainProblem(
                kind: .rewritten, seq: seq,
                message: "a verification proved entry \(seq) with another hash than it has now: the log was rewritten since")
        }
        return nil
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
