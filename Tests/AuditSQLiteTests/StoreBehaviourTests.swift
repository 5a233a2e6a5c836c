import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import Foundation
import GRDB
import Testing

@testable import AuditSQLite

func entry(_ index: Int, patient: String = "PAT-1", kind: RecordKind = "tool_call") -> EncodedEntry {
    EncodedEntry(
        kind: kind, tenantID: "hospital-1", userID: "usr-\(index % 7)", model: "gpt-4.1", toolName: "get_patient_record",
        action: "R", patientID: patient, patientIDs: nil, purposeOfUse: "TREAT", outcome: "success",
        conversationID: "conv-\(index / 9)", traceID: "tr-\(index / 3)", timestamp: "2026-01-05T08:00:00.000Z",
        keyID: "k1", body: #"{"trigger":"user_request","turn_number":\#(index % 9)}"#
    )
}

/// The `index`-th entry of a mixed workload, `spacingMS` apart from 2026-01-05: 50 patients,
/// every tenth a query naming two of them, every thirteenth failed, three tools in turn.
func mixedEntry(_ index: Int, spacingMS: Int64) -> EncodedEntry {
    var e = entry(index, patient: "PAT-\(index % 50)")
    e.timestamp = Timestamp(millisecondsSinceEpoch: 1_767_600_000_000 + Int64(index) * spacingMS).description
    if index % 10 == 3 {
        e.action = "E"
        e.patientID = nil
        e.patientIDs = #"["PAT-\#(index % 50)","PAT-\#((index + 1) % 50)"]"#
    }
    if index % 13 == 0 { e.outcome = "failure" }
    e.toolName = ["get_patient_record", "order_lab", "search_patients"][index % 3]
    return e
}

/// A query (action `E`) whose results named `patients` (a JSON array's text).
func query(_ index: Int, naming patients: String) -> EncodedEntry {
    var query = entry(index)
    query.action = "E"
    query.patientID = nil
    query.patientIDs = patients
    return query
}

func newStore(_ folder: URL) throws -> SQLiteStore {
    try SQLiteStore.create(at: folder.appendingPathComponent("audit.sqlite").path)
}

@Suite("Audit store")
struct StoreBehaviourTests {
    @Test func appendedEntriesAreChainedGapFreeAndReadBack() throws {
        let folder = temporaryFolder()
        let store = try newStore(folder)
        let receipt = try store.appendNow((1...5).map { entry($0) })
        #expect(receipt.entries.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(receipt.head == receipt.entries.last)
        let first = try #require(try store.entry(seq: 1))
        #expect(first.prevHash == .genesis)
        let second = try #require(try store.entry(seq: 2))
        #expect(second.prevHash == first.entryHash)
        #expect(second.content == entry(2))
        #expect(try store.head() == receipt.head)
        #expect(try store.verify().isIntact)
    }

    @Test func updatesAndDeletesAreRefusedBySQLite() throws {
        let folder = temporaryFolder()
        let store = try newStore(folder)
        _ = try store.appendNow([entry(1), entry(2)])
        let queue = try DatabaseQueue(path: store.path)
        for sql in ["UPDATE entry SET user_id = 'x' WHERE seq = 1", "DELETE FROM entry WHERE seq = 2", "DELETE FROM entry"] {
            #expect(throws: DatabaseError.self) { try queue.write { try $0.execute(sql: sql) } }
        }
        #expect(try store.count() == 2)
        #expect(try store.verify().isIntact)
    }

    @Test func aFailingBatchLeavesNothingBehind() throws {
        let folder = temporaryFolder()
        let store = try newStore(folder)
        _ = try store.appendNow([entry(1)])
        var bad = entry(3)
        bad.kind = "not_a_kind"  // refused in the middle of the batch
        #expect(throws: StoreError.self) { try store.appendNow([entry(2), bad, entry(4)]) }
        #expect(try store.count() == 1)
        _ = try store.appendNow([entry(5)])
        #expect(try store.head()?.seq == 2)
        #expect(try store.verify().isIntact)
    }

    @Test func groupCommitKeepsEveryBatchAtomicOnItsOwn() async throws {
        let folder = temporaryFolder()
        let store = try newStore(folder)
        var broken = entry(0)
        broken.action = "Z"
        let bad = broken
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let batch = index == 17 ? [entry(index), bad] : [entry(index), entry(index + 100)]
                    return (try? await store.append(batch)) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 39)
        #expect(try store.count() == 78)
        #expect(try store.verify().isIntact)
    }

    @Test func concurrentTasksNeverForkTheChain() async throws {
        let folder = temporaryFolder()
        let store = try newStore(folder)
        try await withThrowingTaskGroup(of: AppendReceipt.self) { group in
            for index in 0..<200 {
                group.addTask { try await store.append([entry(index), entry(index + 1000)]) }
            }
            var seqs: [Int64] = []
            for try await receipt in group { seqs += receipt.entries.map(\.seq) }
            #expect(seqs.sorted() == Array(1...400))
        }
        let report = try store.verify()
        #expect(report.isIntact)
        #expect(report.entriesChecked == 400)
    }

    @Test func separateConnectionsLikeSeparateProcessesShareOneChain() throws {
        let folder = temporaryFolder()
        let path = folder.appendingPathComponent("audit.sqlite").path
        _ = try SQLiteStore.create(at: path)
        let stores = try (0..<4).map { _ in try SQLiteStore.open(at: path) }
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for index in 0..<50 { _ = try? stores[worker].appendNow([entry(worker * 1000 + index)]) }
        }
        let report = try stores[0].verify()
        #expect(report.isIntact)
        #expect(report.entriesChecked == 200)
    }

    /// The block still filling is indexed in memory by each store that reads it: a store sees
    /// what another (another process) appended since its last lookup, before and after the
    /// block gets its postings, and an older snapshot is answered from the log.
    @Test func eachStoreFindsWhatAnotherAppendedInTheBlockStillFilling() throws {
        let folder = temporaryFolder()
        let path = folder.appendingPathComponent("audit.sqlite").path
        let writer = try SQLiteStore.create(at: path, postingBlockShift: 4)
        let reader = try SQLiteStore.open(at: path)
        var expected: [Int64] = []
        var expectedUser: [Int64] = []
        for round in 0..<6 {
            let batch = (0..<7).map { entry(round * 7 + $0, patient: $0 % 2 == 0 ? "PAT-E" : "PAT-O") }
            let receipt = try writer.appendNow(batch)
            expected += zip(batch, receipt.entries).filter { $0.0.patientID == "PAT-E" }.map(\.1.seq)
            expectedUser += zip(batch, receipt.entries).filter { $0.0.userID == "usr-1" }.map(\.1.seq)
            #expect(try reader.entries(.patient("PAT-E")).map(\.seq) == expected, "round \(round)")
            #expect(try reader.entries(.user("usr-1")).map(\.seq) == expectedUser, "round \(round)")
        }
        #expect(try reader.pool.read { try Postings.compactedThrough($0) } == 32)
        // A lookup up to an earlier head, after the reader's tail index moved past it.
        let early = try reader.pool.read { db in try Postings.seqs(db, tail: reader.tail, kind: .patient, keys: ["PAT-E"], last: 20) }
        #expect(early == expected.filter { $0 <= 20 })
    }

    /// An observer that reads the log inside every append (as detection does), so the store's
    /// tail index reads entries that are not committed yet, then fails a batch about PAT-GONE.
    final class ReadingObserver: AppendObserver {
        struct Refused: Error {}

        func entriesAppended(_ entries: [StoredEntry], reader: any LogReader) throws -> [EncodedEntry] {
            guard let last = entries.last, let time = Timestamp(rfc3339: "2027-01-01T00:00:00Z") else { return [] }
            let found = try reader.entries(patient: "PAT-GONE", eventAfter: .minimum, through: time, before: last.seq + 1, recorded: nil)
            if !found.isEmpty { throw Refused() }
            return []
        }
        func appendRolledBack() {}
    }

    /// A batch rolled back after the tail index read its entries inside the transaction: their
    /// sequence numbers go to other entries, and no lookup may find the rolled-back ones there.
    @Test func aRolledBackAppendLeavesNothingInTheTailIndex() async throws {
        let folder = temporaryFolder()
        let store = try SQLiteStore.create(at: folder.appendingPathComponent("audit.sqlite").path, observer: ReadingObserver())
        _ = try store.appendNow([entry(0)])
        #expect(throws: (any Error).self) { try store.appendNow([entry(1, patient: "PAT-GONE"), entry(2, patient: "PAT-GONE")]) }
        // Grouped: one batch fails in its savepoint, another commits in the same transaction.
        async let failing = try? store.append([entry(4, patient: "PAT-GONE")])
        async let passing = try? store.append([entry(5), entry(6)])
        _ = await (failing, passing)
        _ = try store.appendNow([entry(7), entry(8)])
        #expect(try store.entries(.patient("PAT-GONE")).isEmpty)
        #expect(try store.entries(.patient("PAT-1")).map(\.seq) == Array(1...(try store.head()?.seq ?? 0)))
    }

    @Test func queriesIndexEveryPatientTheyNamed() throws {
        let folder = temporaryFolder()
        let store = try newStore(folder)
        _ = try store.appendNow([query(1, naming: #"["PAT-1","PAT-2","PAT-3"]"#)])
        for patient in ["PAT-1", "PAT-2", "PAT-3"] { #expect(try store.entries(.patient(patient)).map(\.seq) == [1]) }
        #expect(try store.verify().isIntact)
    }

    @Test func verifyAcrossManyChunksMatchesOnePass() throws {
        let folder = temporaryFolder()
        let store = try newStore(folder)
        _ = try store.appendNow((1...1000).map { entry($0) })
        let small = try store.verify(expectHead: nil, chunkSize: 7)
        let large = try store.verify()
        #expect(small == large)
        #expect(small.entriesChecked == 1000)
    }

    /// The append hashed the entry from its Swift strings and stored the bytes it hashed;
    /// reading decodes them. Empty text, NULL, escapes and non-ASCII text must come out the
    /// same both ways, and a change to any of them must be caught.
    @Test func verifyRehashesEmptyNullEscapedAndNonASCIIColumnsAsTheAppendHashedThem() throws {
        let folder = temporaryFolder()
        let store = try newStore(folder)
        var odd = entry(1)
        odd.conversationID = ""
        odd.traceID = nil
        odd.toolName = "quote\"back\\slash\ttab\u{1}"
        odd.userID = "Zoë-医生"
        odd.body = #"{"note":"line\nbreak","empty":""}"#
        let receipt = try store.appendNow([odd, query(2, naming: #"["PAT-1","PAT-2"]"#), entry(3)])
        let verified = try store.verify()
        #expect(verified.isIntact)
        #expect(verified.head == receipt.head)
        // The same bytes with one column changed (an empty string made NULL) must not verify.
        let queue = try DatabaseQueue(path: store.path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "DROP TRIGGER entry_is_append_only_update")
            try db.execute(
                sql: #"UPDATE entry SET canonical = replace(canonical, '"conversation_id":""', '"conversation_id":null') WHERE seq = 1"#)
        }
        #expect(try store.verify().problem?.seq == 1)
    }

    @Test func expectedHeadThatIsStillThereVerifies() throws {
        let folder = temporaryFolder()
        let store = try newStore(folder)
        let early = try store.appendNow((1...10).map { entry($0) }).head!
        _ = try store.appendNow((11...20).map { entry($0) })
        let report = try store.verify(expectHead: early)
        #expect(report.isIntact)
        let forged = ChainHead(seq: 5, hash: early.hash)
        #expect(try store.verify(expectHead: forged).problem?.kind == .rewritten)
    }

    @Test func openingAMissingOrForeignFileFails() throws {
        let folder = temporaryFolder()
        #expect(throws: StoreError.self) { try SQLiteStore.open(at: folder.appendingPathComponent("none.sqlite").path) }
        let foreign = folder.appendingPathComponent("other.sqlite").path
        let queue = try DatabaseQueue(path: foreign)
        try queue.write { try $0.execute(sql: "CREATE TABLE t (x)") }
        #expect(throws: StoreError.self) { try SQLiteStore.open(at: foreign) }
        let existing = try newStore(folder)
        #expect(throws: StoreError.self) { try SQLiteStore.create(at: existing.path) }
    }
}
