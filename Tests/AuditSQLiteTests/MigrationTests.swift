import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import Foundation
import GRDB
import Testing

@testable import AuditSQLite

@Suite("Schema migrations")
struct MigrationTests {
    /// A log written by the first schema (v1: tool calls and agent requests only) opens under the
    /// current one with every byte and hash intact, stays append-only, and takes alerts.
    @Test func aVersion1LogIsMigratedWithEveryHashIntact() throws {
        let folder = temporaryFolder()
        // Entries with real hashes, and a query's patient-index rows, from the current code.
        let source = try SQLiteStore.create(at: folder.appendingPathComponent("source.sqlite").path)
        var query = entry(3)
        query.action = "E"
        query.patientID = nil
        query.patientIDs = #"["PAT-1","PAT-2"]"#
        _ = try source.appendNow([entry(1), entry(2), query, entry(4)])
        let stored = try source.entries(from: 1, through: 4, limit: 10)

        // The same rows in a database at schema v1.
        let path = folder.appendingPathComponent("v1.sqlite").path
        do {
            let queue = try DatabaseQueue(path: path)
            try Schema.migrator.migrate(queue, upTo: "v1: entries, patient index, append-only triggers")
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO meta (key, value) VALUES ('format', 'caretrail-log/1'), ('created_at', '2026-01-05T08:00:00.000Z')")
                // The column layout: every hashed column, then entry_hash.
                let columns = EntryHasher.hashedColumns.map(\.name) + ["entry_hash"]
                for entry in stored {
                    var values: [DatabaseValue] = []
                    for (column, text) in zip(
                        EntryHasher.hashedColumns, EntryHasher.columnTexts(entry.content, recordedAt: entry.recordedAt))
                    {
                        switch column.encoding {
                        case .hash: values.append(Data(entry.prevHash.bytes).databaseValue)
                        case .integer: values.append(entry.seq.databaseValue)
                        case .text, .json: values.append(text?.databaseValue ?? .null)
                        }
                    }
                    values.append(Data(entry.entryHash.bytes).databaseValue)
                    try db.execute(
                        sql:
                            "INSERT INTO entry (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))",
                        arguments: StatementArguments(values)
                    )
                }
                for patient in ["PAT-1", "PAT-2"] {
                    try db.execute(
                        sql: "INSERT INTO entry_patient (seq, patient_id, at) VALUES (3, ?, ?)",
                        arguments: [patient, stored[2].content.timestamp ?? stored[2].recordedAt])
                }
            }
            #expect(throws: DatabaseError.self) {
                try queue.write { db in
                    try db.execute(
                        sql:
                            "INSERT INTO entry SELECT 99, recorded_at, 'alert', tenant_id, user_id, model, tool_name, action, patient_id, patient_ids, purpose_of_use, outcome, conversation_id, trace_id, timestamp, key_id, body, prev_hash, entry_hash FROM entry WHERE seq = 1"
                    )
                }
            }
        }

        let store = try SQLiteStore.open(at: path)
        let report = try store.verify()
        #expect(report.isIntact)
        #expect(report.entriesChecked == 4)
        #expect(try store.head() == (try source.head()))
        #expect(try store.entries(from: 1, through: 4, limit: 10) == stored)
        #expect(try store.entries(.patient("PAT-2")).map(\.seq) == [3])
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "UPDATE entry SET canonical = 'x' WHERE seq = 1") }
        }
        #expect(throws: DatabaseError.self) {
            try store.pool.write { db in try db.execute(sql: "DELETE FROM entry WHERE seq = 1") }
        }
        let alert = entry(5, kind: "alert")
        _ = try store.appendNow([alert])
        #expect(try store.entries(kind: .alert).map(\.seq) == [5])
        #expect(try store.verify().isIntact)
    }

    /// A log of the column layout with complete blocks (the layout every earlier version wrote)
    /// is upgraded once when opened: the same entries, byte for byte, the same head, intact,
    /// and every question answered as before, through postings written again.
    @Test func aColumnLayoutLogWithCompleteBlocksIsUpgradedAndAnswersTheSame() throws {
        let folder = temporaryFolder()
        let source = try SQLiteStore.create(at: folder.appendingPathComponent("source.sqlite").path)
        let all = (0..<9000).map { mixedEntry($0, spacingMS: 1000) }
        for start in stride(from: 0, to: all.count, by: 1000) { _ = try source.appendNow(Array(all[start..<start + 1000])) }
        let stored = try source.entries(from: 1, through: 9000, limit: 10_000)

        let path = folder.appendingPathComponent("columns.sqlite").path
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue, upTo: "v4: late entries by user and patient and event time")
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO meta (key, value) VALUES ('format', 'caretrail-log/1'), ('created_at', '2026-01-05T08:00:00.000Z')")
            try Self.insertColumns(stored, into: db)
        }
        try queue.close()

        let upgraded = try SQLiteStore.open(at: path)
        let report = try upgraded.verify()
        #expect(report.isIntact, "\(report.problem?.description ?? "")")
        #expect(report.entriesChecked == 9000)
        #expect(try upgraded.head() == (try source.head()))
        #expect(try upgraded.entries(from: 1, through: 9000, limit: 10_000) == stored)
        #expect(try upgraded.pool.read { try Postings.compactedThrough($0) } == 8192)
        for query in [EntryQuery.patient("PAT-7"), .user("usr-3"), .conversation("conv-500"), .tool("order_lab"), .failures] {
            #expect(try upgraded.entries(query).map(\.seq) == (try source.entries(query).map(\.seq)), "\(query)")
        }
        #expect(try upgraded.toolStatistics() == (try source.toolStatistics()))
    }

    /// Inserts entries as the column layout held them, with the query patients' rows.
    static func insertColumns(_ entries: [StoredEntry], into db: Database) throws {
        let columns = EntryHasher.hashedColumns.map(\.name) + ["entry_hash"]
        let insert = try db.makeStatement(
            sql: "INSERT INTO entry (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))")
        for entry in entries {
            var values: [DatabaseValue] = []
            for (column, text) in zip(EntryHasher.hashedColumns, EntryHasher.columnTexts(entry.content, recordedAt: entry.recordedAt)) {
                switch column.encoding {
                case .hash: values.append(Data(entry.prevHash.bytes).databaseValue)
                case .integer: values.append(entry.seq.databaseValue)
                case .text, .json: values.append(text?.databaseValue ?? .null)
                }
            }
            values.append(Data(entry.entryHash.bytes).databaseValue)
            try insert.execute(arguments: StatementArguments(values))
            if entry.content.action == .execute {
                for patient in Set(entry.content.patientIDList) {
                    try db.execute(
                        sql: "INSERT INTO entry_patient (seq, patient_id, at) VALUES (?, ?, ?)",
                        arguments: [entry.seq, patient, entry.content.timestamp ?? entry.recordedAt])
                }
            }
        }
    }
}
