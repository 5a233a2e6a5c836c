import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import Foundation
import GRDB
import Testing

@testable import AuditSQLite

@Suite("Postings of completed blocks, written after the appends")
struct PostingCompactionTests {
    /// 9,000 entries: two complete blocks of 4,096, with queries naming two patients, failures and tools.
    static let entries: [EncodedEntry] = (0..<9000).map { index in
        var e = mixedEntry(index, spacingMS: 60_000)
        e.body = #"{"duration_ms":\#(index % 400),"trigger":"user_request"}"#
        return e
    }

    static func newStore() throws -> SQLiteStore {
        try SQLiteStore.create(at: temporaryFolder().appendingPathComponent("audit.sqlite").path, postingBlockShift: 12)
    }

    /// Everything compaction writes: posting rows and the per-tool counters.
    static func derived(_ store: SQLiteStore) throws -> [String] {
        try store.pool.read { db in
            let postings = try Row.fetchAll(db, sql: "SELECT block, kind, key, hex(seqs) FROM posting ORDER BY block, kind, key")
            let days = try Row.fetchAll(db, sql: "SELECT * FROM tool_day ORDER BY tool_name, day")
            let durations = try Row.fetchAll(db, sql: "SELECT * FROM tool_day_duration ORDER BY tool_name, day, bucket")
            let users = try Row.fetchAll(db, sql: "SELECT * FROM tool_day_user ORDER BY tool_name, day, user_id")
            return (postings + days + durations + users).map(\.description)
        }
    }

    /// Appended one batch at a time, each committed on its own: the reference.
    static func referenceStore() throws -> SQLiteStore {
        let store = try newStore()
        for start in stride(from: 0, to: entries.count, by: 1000) {
            _ = try store.appendNow(Array(entries[start..<min(entries.count, start + 1000)]))
        }
        return store
    }

    static func waitForPostings(_ store: SQLiteStore, through: Int64) async throws {
        for _ in 0..<400 {
            if try await store.pool.read({ try Postings.compactedThrough($0) }) == through { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("the postings through \(through) were not written within 10 s")
    }

    @Test func appendsThroughTheGroupCommitterGetTheirPostingsInTheBackground() async throws {
        let reference = try Self.referenceStore()
        #expect(try await reference.pool.read { try Postings.compactedThrough($0) } == 8192)

        let store = try Self.newStore()
        // Lookups answer the same before, while and after the blocks get their postings.
        for start in stride(from: 0, to: Self.entries.count, by: 1000) {
            _ = try await store.append(Array(Self.entries[start..<min(Self.entries.count, start + 1000)]))
            #expect(
                try store.entries(.patient("PAT-7")).map(\.seq)
                    == reference.entries(.patient("PAT-7")).filter { $0.seq <= Int64(start + 1000) }.map(\.seq))
        }
        try await Self.waitForPostings(store, through: 8192)
        #expect(try Self.derived(store) == Self.derived(reference))
        #expect(try store.entries(.user("usr-3")).map(\.seq) == reference.entries(.user("usr-3")).map(\.seq))
        #expect(try store.toolStatistics() == reference.toolStatistics())
    }

    /// A compaction cut short after some of its chunks (a crash): the next one writes the block
    /// whole, each posting once and every counter once.
    @Test func aCompactionCutShortIsCompletedWithoutDuplicates() throws {
        let reference = try Self.referenceStore()
        let store = try Self.referenceStore()
        try store.pool.write { db in
            // The state a crash leaves before the last chunk of block 1: part of its postings,
            // no counters of it, and block 1 not marked done.
            try db.execute(sql: "DELETE FROM posting WHERE block = 1 AND kind >= 3")
            try db.execute(sql: "DELETE FROM tool_day; DELETE FROM tool_day_duration; DELETE FROM tool_day_user")
            try db.execute(sql: "UPDATE meta SET value = '4096' WHERE key = 'postings_through'")
            // Block 0's counters, as they were.
            var counters = try Postings.collect(db, block: 0, from: 1, through: 4096).counters
            try counters.flush(db)
        }
        store.compactPostingsNow()
        #expect(try store.pool.read { try Postings.compactedThrough($0) } == 8192)
        #expect(try Self.derived(store) == Self.derived(reference))
    }

    @Test func onlyOneBackgroundRunnerAndNoRequestIsLost() {
        let state = BackgroundPasses()
        #expect(state.request())
        #expect(!state.request())  // runs already: the runner goes round once more
        #expect(state.nextPass())
        #expect(!state.nextPass())  // nothing more asked: the runner stops
        #expect(state.request())  // a new request starts a new runner
    }
}
