import AuditChain
import AuditCore
import AuditSQLite
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import GRDB
import Testing

/// One file of `fixtures/tamper/`: the damage, and the verdict verify must give.
struct TamperVector: CustomTestStringConvertible, Sendable {
    var name: String
    var value: JSONValue
    var testDescription: String { name }

    static func all() throws -> [TamperVector] {
        let folder = FixturePath.url("tamper")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { name in
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            return TamperVector(name: name, value: try JSONParser.parse([UInt8](data)))
        }
    }
}

/// Damages a log file the way an attacker with write access to it would: triggers dropped,
/// foreign keys off, rows changed with plain SQL.
struct Attacker {
    let queue: DatabaseQueue
    let store: SQLiteStore

    init(path: String) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = false
        queue = try DatabaseQueue(path: path, configuration: configuration)
        store = try SQLiteStore.open(at: path)
        try queue.write { db in
            for trigger in [
                "entry_is_append_only_update", "entry_is_append_only_delete",
                "entry_patient_is_append_only_update", "entry_patient_is_append_only_delete",
            ] {
                try db.execute(sql: "DROP TRIGGER \(trigger)")
            }
        }
    }

    func apply(_ step: JSONValue) throws {
        let op = step["op"]?.stringValue ?? ""
        let seq = Int64(step["seq"]?.numberValue ?? 0)
        switch op {
        case "set":
            let column = step["column"]?.stringValue ?? ""
            try queue.write {
                try $0.execute(sql: "UPDATE entry SET \(column) = ? WHERE seq = ?", arguments: [step["value"]?.stringValue, seq])
            }
        case "delete":
            try queue.write { db in
                try db.execute(sql: "DELETE FROM entry_patient WHERE seq = ?", arguments: [seq])
                try db.execute(sql: "DELETE FROM entry WHERE seq = ?", arguments: [seq])
            }
        case "delete_from":
            try queue.write { db in
                try db.execute(sql: "DELETE FROM entry_patient WHERE seq >= ?", arguments: [seq])
                try db.execute(sql: "DELETE FROM entry WHERE seq >= ?", arguments: [seq])
            }
        case "delete_index_rows":
            try queue.write { try $0.execute(sql: "DELETE FROM entry_patient WHERE seq = ?", arguments: [seq]) }
        case "renumber_from":
            try renumber(from: seq, by: Int64(step["by"]?.numberValue ?? 0))
        case "swap":
            let other = Int64(step["with"]?.numberValue ?? 0)
            let columns = EntryHasher.hashedColumns.map(\.name).filter { $0 != "seq" } + ["entry_hash"]
            let assignments = columns.map {
                "\($0) = (SELECT \($0) FROM original WHERE original.seq = CASE entry.seq WHEN \(seq) THEN \(other) ELSE \(seq) END)"
            }
            try queue.write { db in
                try db.execute(sql: "CREATE TEMP TABLE original AS SELECT * FROM entry WHERE seq IN (\(seq), \(other))")
                try db.execute(sql: "UPDATE entry SET \(assignments.joined(separator: ", ")) WHERE seq IN (\(seq), \(other))")
            }
        case "relink":
            try rewrite(seq) { entry in entry.prevHash = ChainHash(unchecked: [UInt8](repeating: 7, count: 32)) }
        case "insert_forged":
            try renumber(from: seq, by: 1)
            guard var forged = try store.entry(seq: seq + 1), let before = try store.entry(seq: seq - 1) else { return }
            forged.seq = seq
            forged.content.userID = "usr-forged"
            forged.prevHash = before.entryHash
            forged.entryHash = EntryHasher().hash(
                seq: seq, recordedAt: forged.recordedAt, prevHash: forged.prevHash, content: forged.content)
            try insert(forged)
        case "rehash_all":
            var prev = ChainHash.genesis
            for entry in try store.entries(from: 1, through: Int64.max, limit: 1_000_000) {
                try rewrite(entry.seq) { $0.prevHash = prev }
                prev = try store.entry(seq: entry.seq)?.entryHash ?? prev
            }
        default:
            Issue.record("unknown tamper op \(op)")
        }
    }

    private func renumber(from seq: Int64, by delta: Int64) throws {
        try queue.write { db in
            for table in ["entry", "entry_patient"] {
                // Through a far-away range, so no two rows ever share a seq on the way.
                try db.execute(sql: "UPDATE \(table) SET seq = seq + ? + 1000000000 WHERE seq >= ?", arguments: [delta, seq])
                try db.execute(sql: "UPDATE \(table) SET seq = seq - 1000000000 WHERE seq > 1000000000")
            }
        }
    }

    /// Changes an entry and recomputes its own hash, as an attacker who knows the recipe would.
    private func rewrite(_ seq: Int64, _ change: (inout StoredEntry) -> Void) throws {
        guard var entry = try store.entry(seq: seq) else { return }
        change(&entry)
        entry.entryHash = EntryHasher().hash(seq: seq, recordedAt: entry.recordedAt, prevHash: entry.prevHash, content: entry.content)
        try queue.write { db in
            try db.execute(
                sql: "UPDATE entry SET prev_hash = ?, entry_hash = ? WHERE seq = ?",
                arguments: [Data(entry.prevHash.bytes), Data(entry.entryHash.bytes), seq]
            )
        }
    }

    private func insert(_ entry: StoredEntry) throws {
        let e = entry.content
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO entry (seq, recorded_at, kind, tenant_id, user_id, model, tool_name, action, patient_id,
                      patient_ids, purpose_of_use, outcome, conversation_id, trace_id, timestamp, key_id, body, prev_hash, entry_hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    entry.seq, entry.recordedAt, e.kind.rawValue, e.tenantID, e.userID, e.model, e.toolName, e.action?.rawValue,
                    e.patientID,
                    e.patientIDs, e.purposeOfUse, e.outcome?.rawValue, e.conversationID, e.traceID, e.timestamp, e.keyID, e.body,
                    Data(entry.prevHash.bytes), Data(entry.entryHash.bytes),
                ]
            )
        }
    }
}

@Suite("Tamper vectors")
struct TamperVectorTests {
    @Test(arguments: try TamperVector.all())
    func verifyPinpointsTheDamage(vector: TamperVector) throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = folder.appendingPathComponent("audit.sqlite").path
        let log = try AuditLog.create(database: database)
        _ = try log.ingest(path: try sampleWorkload(lines: 40, in: folder))
        let publishedHead = try #require(try log.head())
        #expect(try log.verify().isIntact)

        let attacker = try Attacker(path: database)
        for step in vector.value["damage"]?.arrayValue ?? [] { try attacker.apply(step) }

        let store = try SQLiteStore.open(at: database)
        try check(try store.verify(), against: vector.value["want"], vector: vector.name)
        if let want = vector.value["want_with_expected_head"] {
            try check(try store.verify(expectHead: publishedHead), against: want, vector: vector.name)
        }
    }

    private func check(_ report: VerificationReport, against want: JSONValue?, vector: String) throws {
        let want = try #require(want)
        #expect(report.isIntact == (want["intact"] == .bool(true)), "\(vector): \(report.problem?.description ?? "intact")")
        if let kind = want["kind"]?.stringValue {
            #expect(report.problem?.kind.rawValue == kind, "\(vector): \(report.problem?.description ?? "intact")")
        }
        if let seq = want["seq"]?.numberValue {
            #expect(report.problem?.seq == Int64(seq), "\(vector): \(report.problem?.description ?? "intact")")
        }
    }
}
