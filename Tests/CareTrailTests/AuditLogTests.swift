import AuditAnalysis
import AuditChain
import AuditCore
import AuditKeys
import AuditSQLite
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Testing

func newLog(_ folder: URL) throws -> AuditLog {
    try AuditLog.create(database: folder.appendingPathComponent("audit.sqlite").path)
}

@Suite("Audit log: ingest, privacy, keys")
struct AuditLogTests {
    @Test func ingestIsAllOrNothingAndReportsEveryBadLine() throws {
        let folder = temporaryFolder()
        let log = try newLog(folder)
        var lines = try String(contentsOfFile: try sampleWorkload(lines: 10, in: folder), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        lines[2] = lines[2].replacingOccurrences(of: "\"purpose_of_use\"", with: "\"purpose\"")
        lines[6] = "{\"tenant_id\": \"Maria Garcia\""
        let path = folder.appendingPathComponent("bad.jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try log.ingest(path: path)
            Issue.record("a file with bad lines was accepted")
        } catch {
            #expect(error.code == .invalidRecords)
            #expect(error.recordErrors.map(\.line) == [3, 7])
            #expect(error.recordErrors[0].field == "purpose")
            #expect(error.recordErrors[1].code == .invalidJSON)
            #expect(!error.description.contains("Maria"))
        }
        #expect(try log.count() == 0)
        #expect(try log.head() == nil)
    }

    @Test func everyEntrysSplicedJSONIsItsCanonicalJSON() throws {
        let log = try newLog(temporaryFolder())
        _ = try log.ingest(path: FixturePath.url("workload/sample.jsonl").path)
        _ = try log.ingest(path: FixturePath.url("siem/awkward-characters.jsonl").path)
        let head = try #require(try log.head())
        var compared = 0
        var differing: [Int64] = []
        var first: Int64 = 1
        while first <= head.seq {
            for entry in try log.entries(from: first, through: head.seq, limit: 1000) {
                if entry.canonicalJSON != CanonicalJSON.encode(entry.jsonValue) { differing.append(entry.seq) }
                compared += 1
            }
            first += 1000
        }
        #expect(compared == Int(head.seq))
        #expect(differing.isEmpty, "\(differing.count) entries differ, the first \(differing.first ?? 0)")
    }

    @Test func sampleWorkloadLeavesNoClearTextPHIInTheDatabaseFile() throws {
        let folder = temporaryFolder()
        let log = try newLog(folder)
        let input = FixturePath.url("workload/sample.jsonl").path
        let summary = try log.ingest(path: input)
        #expect(summary.appended == 5167)
        let scan = try ClearTextScan(jsonLines: input, sanitizer: log.sanitizer)
        // The scan is not vacuous: it knows thousands of identifiers and finds them in the input itself.
        #expect(scan.needles.count > 2000)
        #expect(scan.needles.contains("Olga Chen"))
        #expect(scan.needles.contains("572-55-3753"))
        #expect(scan.leaks(inFiles: [input]).count == scan.needles.count)
        let database = log.location
        let leaks = scan.leaks(inFiles: [database, database + "-wal"])
        #expect(leaks.isEmpty, "\(leaks.count) clear-text identifiers reached the database")
        #expect(try log.verify().isIntact)
    }

    @Test func pseudonymFindsThePersonsEntries() throws {
        let folder = temporaryFolder()
        let log = try newLog(folder)
        _ = try log.ingest(path: try sampleWorkload(lines: 3, in: folder))
        // Line 2 of the sample is a call about "Olga Garcia".
        let token = try #require(log.pseudonym(for: "olga  GARCIA"))
        let stored = try #require(try log.entry(seq: 2))
        #expect(stored.content.body.contains(token))
        #expect(!stored.content.body.contains("Olga"))
    }

    @Test func rotatedKeyIsUsedForNewEntriesAndOldOnesStaySearchable() throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("audit.sqlite").path
        let keyFile = URL(fileURLWithPath: AuditLog.defaultKeyFile(forDatabase: database))
        let first = try AuditLog.create(database: database)
        _ = try first.ingest(path: try sampleWorkload(lines: 3, in: folder))
        var ring = try KeyRing.load(from: keyFile)
        #expect(ring.rotate() == "k2")
        try ring.save(to: keyFile, overwrite: true)

        let second = try AuditLog.open(database: database)
        #expect(second.keyRing.currentID == "k2")
        _ = try second.ingest(path: try sampleWorkload(lines: 3, in: folder))
        let old = try #require(try second.entry(seq: 2))
        let new = try #require(try second.entry(seq: 5))
        #expect(old.content.keyID == "k1")
        #expect(new.content.keyID == "k2")
        let oldToken = try #require(second.pseudonym(for: "Olga Garcia", keyID: "k1"))
        let newToken = try #require(second.pseudonym(for: "Olga Garcia"))
        #expect(oldToken != newToken)
        #expect(old.content.body.contains(oldToken))
        #expect(new.content.body.contains(newToken))
        #expect(try second.verify().isIntact)
    }

    @Test func keyFileIsPrivateAndATooOpenOneIsRefused() throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("audit.sqlite").path
        _ = try AuditLog.create(database: database)
        let keyFile = AuditLog.defaultKeyFile(forDatabase: database)
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile)
        #expect(throws: CareTrailError.self) { try AuditLog.open(database: database) }
        #expect(throws: CareTrailError.self) { try AuditLog.create(database: database) }
    }

    @Test func concurrentRecordsShareCommitsAndKeepTheChain() async throws {
        let folder = temporaryFolder()
        let log = try newLog(folder)
        let call = ToolCall(
            tenantID: "t", conversationID: "c", userID: "u", model: "m", toolName: "get_patient_record",
            purposeOfUse: .treatment, patientID: "PAT-1", arguments: ["patient_name": "Wei Chen"]
        )
        try await withThrowingTaskGroup(of: ChainHead.self) { group in
            for _ in 0..<100 { group.addTask { try await log.record(.toolCall(call)) } }
            var seqs: [Int64] = []
            for try await head in group { seqs.append(head.seq) }
            #expect(Set(seqs).count == 100)
        }
        // A hundred reads of one patient at once are one access burst: one alert, chained with them.
        let alerts = try log.alerts()
        #expect(alerts.map(\.alert.kind) == [.patientAccessBurst])
        #expect(alerts.first?.alert.entrySeqs.count == 10)
        #expect(try log.count() == 101)
        #expect(try log.verify().isIntact)
    }
}
