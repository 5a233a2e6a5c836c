import AuditChain
import AuditCore
import AuditPostgres
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Synchronization
import Testing

/// The log on a real PostgreSQL server (a throwaway cluster per test): many writers make one
/// chain, the hashing recipe is SQLite's, and the database itself refuses forks, gaps and every
/// change but a retention run's sealing.
@Suite("PostgreSQL store")
struct PostgresStoreTests {
    static let clock: @Sendable () -> Timestamp = { Timestamp(rfc3339: "2026-06-01T08:00:00.000Z") ?? SystemClock.now() }

    /// Entries encoded by a SQLite log from the sample workload, as a server prepares them.
    func encodedEntries(_ count: Int, folder: URL) throws -> (AuditLog, [EncodedEntry]) {
        let log = try AuditLog.create(database: folder.appendingPathComponent("reference.sqlite").path, clock: Self.clock)
        let text = try String(contentsOfFile: try sampleWorkload(lines: count, in: folder), encoding: .utf8)
        let lines = text.split(separator: "\n").map { Array($0.utf8)[...] }
        return (log, log.encodeBatch(lines))
    }

    func withServer(_ body: (PostgresTestServer, PostgresStore) throws -> Void) throws {
        let server = try PostgresTestServer.start()
        defer { server.stop() }
        let store = try PostgresStore.connect(try PostgresLocation(url: server.url), clock: Self.clock)
        defer { store.close() }
        #expect(try store.install().contains { $0.contains("caretrail_app") })
        try body(server, store)
    }

    @Test func entriesHashAsInSQLiteAndTheChainVerifies() throws {
        let folder = temporaryFolder()
        let (reference, entries) = try encodedEntries(40, folder: folder)
        #expect(entries.count == 40)
        try withServer { _, store in
            let receipt = try store.appendNow(entries)
            let sqlite = try reference.appendEncodedNow(entries)
            #expect(receipt.head == sqlite.head, "the same entries, clock and recipe give the same head")
            #expect(try store.count() == 40)
            #expect(try store.verify().isIntact)
            let read = try store.entries(from: 1, through: 40, limit: 100)
            #expect(read.map(\.entryHash) == (try reference.entries(from: 1, through: 40)).map(\.entryHash))
        }
    }

    @Test func fourWritersMakeOneLinearChain() throws {
        let folder = temporaryFolder()
        let (_, entries) = try encodedEntries(20, folder: folder)
        try withServer { server, _ in
            let failures = Failures()
            let finished = DispatchSemaphore(value: 0)
            for writer in 0..<4 {
                Thread {
                    defer { finished.signal() }
                    do {
                        let store = try PostgresStore.connect(try PostgresLocation(url: server.url), clock: Self.clock)
                        defer { store.close() }
                        for round in 0..<25 {
                            _ = try store.appendNow(Array(entries[(round % 4 * 5)..<(round % 4 * 5 + 5)]))
                        }
                    } catch {
                        failures.add("writer \(writer): \(error)")
                    }
                }.start()
            }
            for _ in 0..<4 { finished.wait() }
            #expect(failures.all.isEmpty, "\(failures.all)")
            let store = try PostgresStore.connect(try PostgresLocation(url: server.url), clock: Self.clock)
            defer { store.close() }
            #expect(try store.count() == 500)
            #expect(try store.head()?.seq == 500)
            #expect(try store.verify().isIntact)
        }
    }

    @Test func updatesDeletesAndTruncatesAreRefusedEvenForTheOwnerButARetentionSeal() throws {
        let folder = temporaryFolder()
        let (_, entries) = try encodedEntries(5, folder: folder)
        try withServer { server, store in
            _ = try store.appendNow(entries)
            for statement in [
                "UPDATE caretrail_chain SET recorded_at = '2020-01-01T00:00:00.000Z' WHERE seq = 2",
                "UPDATE caretrail_entry SET kind = 'alert' WHERE seq = 2",
                "DELETE FROM caretrail_entry WHERE seq = 5", "TRUNCATE caretrail_entry", "TRUNCATE caretrail_chain",
                "DELETE FROM caretrail_key WHERE seq = 5",
                "BEGIN; SET LOCAL caretrail.retention = 'on'; DELETE FROM caretrail_chain WHERE seq = 3; COMMIT",
                "BEGIN; SET LOCAL caretrail.retention = 'on'; UPDATE caretrail_entry SET canonical = '' WHERE seq = 3; COMMIT",
            ] {
                let result = try server.psql(statement)
                #expect(result.status != 0, "\(statement)")
                #expect(result.output.contains("append-only"), "\(statement): \(result.output)")
            }
            #expect(try store.verify().isIntact)
            // The retention path deletes content; without a purge record of the chain, verify says so.
            let sealed = try server.psql("BEGIN; SET LOCAL caretrail.retention = 'on'; DELETE FROM caretrail_entry WHERE seq = 3; COMMIT")
            #expect(sealed.status == 0, "\(sealed.output)")
            #expect(try store.count() == 5)
            #expect(try store.verify().problem?.kind == .purgedWithoutRecord)
        }
    }

    @Test func aForkOrAGapIsRefusedByTheDatabase() throws {
        let folder = temporaryFolder()
        let (_, entries) = try encodedEntries(3, folder: folder)
        try withServer { server, store in
            let head = try #require(try store.appendNow(entries).head)
            let zero = String(repeating: "00", count: 32)
            let cases = [
                // A second successor of entry 2 (a fork).
                "INSERT INTO caretrail_chain SELECT 4, prev_hash, entry_hash, recorded_at FROM caretrail_chain WHERE seq = 3",
                // An entry that does not link to the one before it.
                "INSERT INTO caretrail_chain VALUES (4, decode('\(zero)', 'hex'), decode('\(zero)', 'hex'), 'x')",
                // A gap.
                "INSERT INTO caretrail_chain VALUES (6, decode('\(head.hash.hex)', 'hex'), decode('\(zero)', 'hex'), 'x')",
            ]
            for statement in cases {
                let result = try server.psql(statement)
                #expect(result.status != 0, "\(statement)")
            }
            #expect(try store.count() == 3)
            #expect(try store.verify().isIntact)
        }
    }

    @Test func eachMonthGetsAPartitionAndAMonthPurgedWholeIsDropped() throws {
        let folder = temporaryFolder()
        let (_, entries) = try encodedEntries(30, folder: folder)
        let server = try PostgresTestServer.start()
        defer { server.stop() }
        let month = Mutex("2026-01")
        let store = try PostgresStore.connect(
            try PostgresLocation(url: server.url),
            clock: { Timestamp(rfc3339: month.withLock { $0 } + "-15T08:00:00.000Z") ?? SystemClock.now() })
        defer { store.close() }
        _ = try store.install()
        for (index, name) in ["2026-01", "2026-02", "2026-03"].enumerated() {
            month.withLock { $0 = name }
            _ = try store.appendNow(Array(entries[(index * 10)..<(index * 10 + 10)]))
        }
        #expect(
            try server.psql("SELECT string_agg(name, ',' ORDER BY first_seq) FROM caretrail_partition").output.contains(
                "caretrail_entry_2026_01,caretrail_entry_2026_02,caretrail_entry_2026_03"))
        let statistics = try store.toolStatistics(tool: nil, fromDay: nil, toDay: nil)
        // January's entries purged: its partition, left empty, goes whole.
        _ = try store.purge([1...10]) { ranges in
            EncodedEntry(
                RetentionPurge(ranges: ranges, deleted: ["healthcare": 10], held: 0, policyVersion: 0, judgedAt: "2026-03-15T08:00:00.000Z")
                    .content(keyID: "k1"))
        }
        #expect(try server.psql("SELECT count(*) FROM caretrail_partition").output.contains("2"))
        #expect(try server.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'caretrail_entry_2026_01'").output.contains("0"))
        #expect(try server.psql("SELECT count(*) FROM caretrail_access WHERE seq <= 10").output.hasPrefix("0"), "records go too")
        #expect(try server.psql("SELECT count(*) FROM caretrail_access WHERE seq > 10").output.hasPrefix("0") == false)
        #expect(try store.count() == 31, "the spine keeps every entry")
        #expect(try store.toolStatistics(tool: nil, fromDay: nil, toDay: nil) == statistics, "counters hold no content: they stay")
        #expect(try store.entry(seq: 5) == nil && (try store.entry(seq: 11)) != nil)
        #expect(try store.verify().isIntact)
        #expect(try store.inclusionProof(seq: 5, treeSize: 31).leafIndex == 4)
    }

    /// A patient's rows as its report gives them.
    func accesses(_ store: PostgresStore, _ patient: String) throws -> [AccessRow] {
        var rows: [AccessRow] = []
        try store.forEachAccess(to: .patientID(patient), from: nil, to: nil, through: nil) { rows.append($0) }
        return rows
    }

    @Test func reportsReadTheRecordsAndALogOfAnEarlierVersionIsBroughtUpToDate() throws {
        let folder = temporaryFolder()
        let (_, entries) = try encodedEntries(80, folder: folder)
        try withServer { server, store in
            _ = try store.appendNow(entries)
            let stored = try store.entries(from: 1, through: 80, limit: 100)
            let patients = Set(stored.compactMap(\.content.patientID)).sorted()
            #expect(patients.count > 3)
            // What each report must hold: the rows of the entries themselves.
            let expected = patients.map { patient in
                stored.filter { EntryKeys($0, scanningBody: false).keys.contains { $0 == (.patient, patient) } }
                    .map(AccessRow.init(reporting:))
            }
            func reports() throws -> [[AccessRow]] { try patients.map { try accesses(store, $0) } }
            func records() throws -> String {
                try server.psql("SELECT count(*) FROM caretrail_access").output.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let keys = try server.psql("SELECT count(*) FROM caretrail_key WHERE kind = 1").output
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try records() == keys, "one record per patient of each entry")
            #expect(try reports() == expected)

            // Records missing (entries an earlier version wrote): those entries are read whole.
            let deleted = try server.psql(
                "BEGIN; SET LOCAL caretrail.retention = 'on'; DELETE FROM caretrail_access WHERE seq <= 40; COMMIT")
            #expect(deleted.status == 0, "\(deleted.output)")
            #expect(try records() != keys)
            #expect(try reports() == expected)

            // A log of a version without records and tool counters: refused until `init` brings
            // it up to date, which counts its calls from what it holds.
            let statistics = try store.toolStatistics(tool: nil, fromDay: nil, toDay: nil)
            #expect(statistics.reduce(0) { $0 + $1.calls } > 0)
            #expect(
                try server.psql("DROP TABLE caretrail_access, caretrail_tool_day, caretrail_tool_day_duration, caretrail_tool_day_user")
                    .status == 0)
            let location = try PostgresLocation(url: server.url)
            #expect {
                _ = try PostgresStore.open(location, clock: Self.clock)
            } throws: { error in
                (error as? StoreError)?.message.contains("earlier CareTrail") == true
            }
            _ = try store.install()
            #expect(try records() == keys, "init wrote every record")
            #expect(try store.toolStatistics(tool: nil, fromDay: nil, toDay: nil) == statistics, "and counted every call")
            let reopened = try PostgresStore.open(location, clock: Self.clock)
            defer { reopened.close() }
            #expect(try patients.map { try accesses(reopened, $0) } == expected)
            #expect(try store.verify().isIntact)
        }
    }

    @Test func verifyFindsAnAccessHiddenAlteredOrAddedInTheReportIndex() throws {
        let folder = temporaryFolder()
        let (_, entries) = try encodedEntries(30, folder: folder)
        try withServer { server, store in
            _ = try store.appendNow(entries)
            #expect(try store.verify().isIntact)
            let seq = try #require(
                Int64(
                    try server.psql("SELECT min(seq) FROM caretrail_access WHERE seq > 5").output.trimmingCharacters(
                        in: .whitespacesAndNewlines)))
            // Triggers refuse every change, the owner's too: the damage is done with them off.
            let damages = [
                "UPDATE caretrail_access SET record = record || '\\x00'::bytea WHERE seq = \(seq)",
                "DELETE FROM caretrail_key WHERE kind = 1 AND seq = \(seq)",
                "INSERT INTO caretrail_key SELECT 1, 'PSEUDO-OTHER', seq, event_time FROM caretrail_key WHERE kind = 1 AND seq = \(seq)",
                // A record without its key: no report shows it, but it is not what the entry made.
                "INSERT INTO caretrail_access SELECT 'PSEUDO-OTHER', seq, record FROM caretrail_access WHERE seq = \(seq)",
            ]
            let kept = try server.psql(
                "CREATE TABLE pristine AS SELECT key AS patient, seq, event_time FROM caretrail_key WHERE kind = 1 AND seq = \(seq)")
            #expect(kept.status == 0, "\(kept.output)")
            for damage in damages {
                let applied = try server.psql("SET session_replication_role = replica; \(damage)")
                #expect(applied.status == 0, "\(applied.output)")
                let report = try store.verify()
                #expect(
                    report.problem?.kind == .indexMismatch && report.problem?.seq == seq, "\(damage): \(String(describing: report.problem))"
                )
                #expect(report.problem?.message.contains("PSEUDO") == false)
                // Undone: the entries' own keys and records again.
                _ = try server.psql(
                    """
                    SET session_replication_role = replica; DELETE FROM caretrail_key WHERE kind = 1 AND seq = \(seq); \
                    DELETE FROM caretrail_access WHERE seq = \(seq)
                    """)
                _ = try server.psql(
                    """
                    SET session_replication_role = replica; INSERT INTO caretrail_key (kind, key, seq, event_time) \
                    SELECT 1, c.patient, c.seq, c.event_time FROM pristine c
                    """)
                _ = try store.fillAccessRecords()
                #expect(try store.verify().isIntact, "\(damage) undone")
            }
            // With nothing appended since, an incremental verification is one query: it still
            // sees the head it proved rewritten.
            #expect(try store.verifyIncrementally().isIntact)
            let rewritten = try server.psql(
                "SET session_replication_role = replica; UPDATE caretrail_chain SET entry_hash = sha256(entry_hash) WHERE seq = 30")
            #expect(rewritten.status == 0, "\(rewritten.output)")
            #expect(try store.verifyIncrementally().problem?.kind == .rewritten)
        }
    }

    @Test func theApplicationRoleMaySelectAndInsertOnly() throws {
        try withServer { server, _ in
            #expect(try server.psql("CREATE ROLE app_writer LOGIN IN ROLE caretrail_app").status == 0)
            #expect(try server.psql("SELECT count(*) FROM caretrail_entry", user: "app_writer").status == 0)
            for statement in [
                "UPDATE caretrail_chain SET recorded_at = 'x'", "DELETE FROM caretrail_entry", "TRUNCATE caretrail_entry",
                "DELETE FROM caretrail_key", "DELETE FROM caretrail_access", "SELECT caretrail_drop_empty_partitions()",
            ] {
                let result = try server.psql(statement, user: "app_writer")
                #expect(result.status != 0 && result.output.contains("permission denied"), "\(statement): \(result.output)")
            }
        }
    }
}

/// What the writers' threads report.
final class Failures: Sendable {
    private let list = Mutex<[String]>([])
    func add(_ failure: String) { list.withLock { $0.append(failure) } }
    var all: [String] { list.withLock { $0 } }
}
