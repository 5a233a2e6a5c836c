import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import Foundation
import GRDB
import Testing

@testable import AuditSQLite

@Suite("Queries privacy officers ask")
struct EntryQueryTests {
    /// 9,000 entries (two blocks of postings of 4,096, then a block still filling, in the tail index): 50 patients, 7 users, queries naming two patients.
    static func populatedStore() throws -> (SQLiteStore, [EncodedEntry]) {
        let store = try SQLiteStore.create(at: temporaryFolder().appendingPathComponent("audit.sqlite").path, postingBlockShift: 12)
        let all = (0..<9000).map { mixedEntry($0, spacingMS: 1000) }
        for start in stride(from: 0, to: all.count, by: 1000) {
            _ = try store.appendNow(Array(all[start..<start + 1000]))
        }
        return (store, all)
    }

    @Test func everyQueryReturnsExactlyTheMatchingEntriesInLogOrder() throws {
        let (store, all) = try Self.populatedStore()
        // Two complete blocks of 4,096 have posting lists; the rest is found through the tail index.
        #expect(try store.pool.read { try Postings.compactedThrough($0) } == 8192)
        func expected(_ match: (EncodedEntry) -> Bool) -> [Int64] {
            all.enumerated().filter { match($0.element) }.map { Int64($0.offset + 1) }
        }
        let patient = try store.entries(.patient("PAT-7")).map(\.seq)
        #expect(patient == expected { $0.patientID == "PAT-7" || $0.patientIDList.contains("PAT-7") })
        #expect(patient.count >= 180)
        #expect(try store.entries(.user("usr-3")).map(\.seq) == expected { $0.userID == "usr-3" })
        #expect(try store.entries(.conversation("conv-500")).map(\.seq) == expected { $0.conversationID == "conv-500" })
        #expect(try store.entries(.trace("tr-2000")).map(\.seq) == expected { $0.traceID == "tr-2000" })
        #expect(try store.entries(.tool("order_lab")).map(\.seq) == expected { $0.toolName == "order_lab" })
        #expect(try store.entries(.failures).map(\.seq) == expected { $0.outcome == "failure" })
    }

    /// A lookup bounded by an earlier head (a report computed at the head it verified, while
    /// appends went on) must return exactly the entries up to that head: none after it, and
    /// none missed between its block boundary and it.
    @Test func aLookupUpToAnEarlierHeadReturnsExactlyTheEntriesUpToIt() throws {
        let (store, all) = try Self.populatedStore()
        for last: Int64 in [1, 4095, 4096, 4097, 5000, 8192, 8500] {
            let seqs = try store.pool.read { db in try Postings.seqs(db, tail: store.tail, kind: .patient, keys: ["PAT-7"], last: last) }
            let expected = all.prefix(Int(last)).enumerated()
                .filter { $0.element.patientID == "PAT-7" || $0.element.patientIDList.contains("PAT-7") }
                .map { Int64($0.offset + 1) }
            #expect(seqs == expected, "through \(last)")
        }
    }

    /// Opening a log looks up its latest configuration; alerts and reviews are listed by kind.
    /// Those lookups must go through the index of kinds, never scan the log.
    @Test(arguments: [RecordKind.alert, .review, .config, .keyEvent])
    func entriesOfANoticeKindAreFoundThroughItsIndex(kind: RecordKind) throws {
        let (store, _) = try Self.populatedStore()
        let plan = try store.pool.read { db in
            try Row.fetchAll(
                db, sql: "EXPLAIN QUERY PLAN SELECT seq FROM entry_kind WHERE kind = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
                arguments: [kind.rawValue, 5000]
            ).map { $0["detail"] as String? ?? "" }
        }
        #expect(plan.contains { $0.contains("entry_kind_by_kind") }, "\(plan)")
        #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(plan)")
        #expect(try store.latest(kind) == nil)
        #expect(try store.entries(kind: kind).isEmpty)
    }

    @Test func timeRangeIsInclusiveAndUsesTheEventTime() throws {
        let (store, all) = try Self.populatedStore()
        let from = try #require(Timestamp(rfc3339: all[4100].timestamp ?? ""))
        let to = try #require(Timestamp(rfc3339: all[4700].timestamp ?? ""))
        let seqs = try store.entries(.patient("PAT-0"), from: from, to: to).map(\.seq)
        let expected = (4100...4700).filter { all[$0].patientID == "PAT-0" || all[$0].patientIDList.contains("PAT-0") }
            .map { Int64($0 + 1) }
        #expect(seqs == expected)
    }

    @Test(arguments: [
        EntryQuery.patient("PAT-1"), .user("usr-1"), .conversation("conv-1"), .trace("tr-1"), .tool("order_lab"), .failures,
    ])
    func everyQueryIsAnsweredThroughAnIndex(query: EntryQuery) throws {
        let (store, _) = try Self.populatedStore()
        let plan = try store.queryPlan(query)
        let tableSteps = plan.filter { $0.contains(" entry ") || $0.hasSuffix(" entry") || $0.contains(" p ") || $0.hasSuffix(" p") }
        #expect(!tableSteps.isEmpty, "\(plan)")
        for step in tableSteps {
            #expect(step.contains("USING"), "\(query): \(step)")
        }
    }
}
