import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import Foundation
import GRDB
import Testing

@testable import AuditSQLite

@Suite("WAL checkpoints beside the appends")
struct WALCheckpointerTests {
    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// Polls `condition` for up to thirty seconds (a loaded machine delays background passes).
    static func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<600 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    @Test func aGrowingWALIsCopiedIntoTheDatabaseByABackgroundPassNotByAnAppend() async throws {
        let path = temporaryFolder().appendingPathComponent("audit.sqlite").path
        let store = try SQLiteStore.create(at: path)
        let before = Self.fileSize(path)
        // About 15 MB of WAL (650 bytes an entry), past the 1,000-page (4 MB) threshold three
        // times, far below the inline one. The last pass may still be racing the appends, so
        // the database file is only expected to hold the first passes' pages.
        for start in stride(from: 0, to: 24_000, by: 500) {
            _ = try await store.append((start..<start + 500).map { mixedEntry($0, spacingMS: 1_000) })
        }
        #expect(await Self.eventually { store.checkpointer.completed.background > 0 })
        #expect(store.checkpointer.completed.inline == 0)
        // Pages reached the database file, which SQLite's automatic checkpoint no longer does.
        #expect(await Self.eventually { Self.fileSize(path) > before + 4 * 1_048_576 })
        #expect(try store.count() == 24_000)
        let report = try store.verify()
        #expect(report.isIntact)
    }

    @Test func pastTheInlineLimitTheWriterCheckpointsAndTheWALStartsOver() throws {
        let folder = temporaryFolder()
        let path = folder.appendingPathComponent("wal.sqlite").path
        var configuration = Configuration()
        configuration.journalMode = .wal
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        // Background passes never asked for; the writer checkpoints at 64 pages.
        let checkpointer = WALCheckpointer(path: path, backgroundPages: 1_000_000, inlinePages: 64)
        try queue.inDatabase { db in
            checkpointer.install(on: db)
            try db.execute(sql: "CREATE TABLE t (x BLOB)")
        }
        var largestWAL = 0
        for _ in 0..<400 {
            try queue.write { db in try db.execute(sql: "INSERT INTO t VALUES (randomblob(3000))") }
            largestWAL = max(largestWAL, Self.fileSize(path + "-wal"))
        }
        queue.inDatabase { db in checkpointer.uninstall(from: db) }
        #expect(checkpointer.completed.inline > 0)
        #expect(checkpointer.completed.background == 0)
        // 400 rows of 3 KB (about 300 pages) never needed more than the limit and one commit.
        #expect(largestWAL <= (64 + 4) * (4096 + 24) + 32, "WAL reached \(largestWAL) bytes")
        #expect(try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM t") } == 400)
    }
}
