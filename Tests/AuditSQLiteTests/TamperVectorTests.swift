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
                "entry_is_append_only_update", "entry_is_append_only_delete", "entry_kind_is_append_only_update",
                "entry_kind_is_append_only_delete",
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
            // One member of the canonical bytes changed; the hashes left alone.
            let column = step["column"]?.stringValue ?? ""
            try queue.write {
                try $0.execute(
                    sql: "UPDATE entry SET canonical = json_set(canonical, '$.' || ?, ?) WHERE seq = ?",
                    arguments: [column, step["value"]?.stringValue, seq])
            }
        case "delete":
            try queue.write { db in try db.execute(sql: "DELETE FROM entry WHERE seq = ?", arguments: [seq]) }
        case "delete_from":
            try queue.write { db in try db.execute(sql: "DELETE FROM entry WHERE seq >= ?", arguments: [seq]) }
        case "delete_patient_postings":
            // The posting rows of the patients of entry `seq`: its accesses vanish from reports.
            guard let entry = try store.entry(seq: seq) else { return }
            let patients = [entry.content.patientID].compactMap { $0 } + entry.content.patientIDList
            try queue.write { db in
                for patient in patients {
                    try db.execute(sql: "DELETE FROM posting WHERE kind = 1 AND key = ?", arguments: [patient])
                    try db.execute(sql: "DELETE FROM posting_span WHERE kind = 1 AND key = ?", arguments: [patient])
                    try db.execute(sql: "DELETE FROM posting_epoch WHERE kind = 1 AND key = ?", arguments: [patient])
                }
            }
        case "forget_verifications":
            // The records of earlier verifications, which name the heads they proved, all removed.
            try queue.write { db in try db.execute(sql: "DELETE FROM verification") }
        case "stream_cursor":
            // A SIEM destination that has accepted entries up to `seq`.
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO stream_cursor (destination, seq, updated_at) VALUES ('siem', ?, '2026-01-01T00:00:00.000Z')",
                    arguments: [seq])
            }
        case "renumber_from":
            try renumber(from: seq, by: Int64(step["by"]?.numberValue ?? 0))
        case "swap":
            let other = Int64(step["with"]?.numberValue ?? 0)
            try queue.write { db in
                try db.execute(sql: "CREATE TEMP TABLE original AS SELECT * FROM entry WHERE seq IN (\(seq), \(other))")
                let pick = "FROM original WHERE original.seq = CASE entry.seq WHEN \(seq) THEN \(other) ELSE \(seq) END"
                try db.execute(
                    sql:
                        "UPDATE entry SET canonical = (SELECT canonical \(pick)), entry_hash = (SELECT entry_hash \(pick)) WHERE seq IN (\(seq), \(other))"
                )
            }
        case "relink":
            try rewrite(seq) { entry in entry.prevHash = ChainHash(unchecked: [UInt8](repeating: 7, count: 32)) }
        case "insert_forged":
            try renumber(from: seq, by: 1)
            guard var forged = try store.entry(seq: seq + 1), let before = try store.entry(seq: seq - 1) else { return }
            forged.seq = seq
            forged.content.userID = "usr-forged"
            forged.prevHash = before.entryHash
            try write(forged, insert: true)
        case "rehash_all":
            // The derived tables go too: opening the log writes them again from the new chain.
            try queue.write { db in
                try db.execute(
                    sql: """
                        DELETE FROM posting; DELETE FROM merkle_node; DELETE FROM posting_span; DELETE FROM posting_epoch; DELETE FROM tool_day;
                        DELETE FROM tool_day_duration;
                        DELETE FROM tool_day_user; DELETE FROM meta WHERE key IN ('postings_through', 'spans_through', 'epochs_through');
                        """)
            }
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
            for table in ["entry", "entry_kind"] {
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
        try write(entry, insert: false)
    }

    /// Writes an entry's canonical bytes and their hash at its `seq`.
    private func write(_ entry: StoredEntry, insert: Bool) throws {
        let canonical = EntryHasher().canonicalBytes(
            seq: entry.seq, recordedAt: entry.recordedAt, prevHash: entry.prevHash, content: entry.content)
        let hash = EntryHasher().hash(seq: entry.seq, recordedAt: entry.recordedAt, prevHash: entry.prevHash, content: entry.content)
        let text = String(decoding: canonical, as: UTF8.self)
        try queue.write { db in
            try db.execute(
                sql: insert
                    ? "INSERT INTO entry (canonical, entry_hash, seq) VALUES (?, ?, ?)"
                    : "UPDATE entry SET canonical = ?, entry_hash = ? WHERE seq = ?",
                arguments: [text, Data(hash.bytes), entry.seq]
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
        // Blocks of 16: the first 32 entries have posting lists on disk.
        let log = try AuditLog.create(database: database, postingBlockShift: 4)
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
