import AuditChain
import AuditCore
import AuditTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `caretrail retention` and `caretrail hold` as a privacy officer runs them, at other dates
/// through libfaketime (Debian's `faketime`): the log's clock is the process clock.
@Suite("Retention commands")
struct RetentionCommandTests {
    let session = CLISession()

    /// Runs the executable with the process clock set to `date` (`2019-01-01 00:00:00`).
    func caretrail(at date: String, _ arguments: String...) throws -> CLI.Output {
        try caretrail(at: date, arguments: arguments)
    }

    func caretrail(at date: String, arguments: [String]) throws -> CLI.Output {
        try CLI.run(arguments, launcher: ["/usr/bin/faketime", date], in: session.folder)
    }

    /// 8 calls about PAT-HELD, 4 health-record calls, then general calls up to `total`, each
    /// by its own user about its own patient (no alert), dated just before 2019.
    func writeCalls(total: Int) throws -> String {
        var lines: [String] = []
        for index in 0..<total {
            let tool = index < 8 ? "get_lab_results" : index < 12 ? "get_patient_record" : "get_lab_results"
            let patient = index < 8 ? "PAT-HELD" : "PAT-\(index)"
            lines.append(
                #"{"timestamp":"2018-12-31T23:59:00.000Z","tenant_id":"hospital-1","user_id":"usr-\#(index)","model":"m-1","tool_name":"\#(tool)","action":"R","purpose_of_use":"TREAT","patient_id":"\#(patient)","conversation_id":"conv-\#(index)"}"#
            )
        }
        let path = session.folder.appendingPathComponent("calls.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A log of 4,200 calls recorded on 2019-01-01 with a hold on PAT-HELD: the first block of
    /// 4,096 entries has postings, so its entries can be purged.
    func preparedLog() throws {
        #expect(try caretrail(at: "2019-01-01 00:00:00", "init", "--db", session.db).status == 0)
        let ingest = try caretrail(at: "2019-01-01 00:00:00", "ingest", "--db", session.db, try writeCalls(total: 4200))
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let hold = try caretrail(
            at: "2019-01-01 00:00:00", "hold", "add", "--db", session.db, "--patient", "PAT-HELD", "--reason", "matter 17",
            "--by", "counsel", "--format", "json")
        #expect(hold.status == 0, "\(hold.stderr)")
        #expect(try session.json(hold)["id"]?.stringValue == "hold-4201")
    }

    @Test func aRunPrintsTheCountsPerCategoryKeepsHeldEntriesAndLeavesTheLogIntact() throws {
        try preparedLog()
        let policy = try caretrail(at: "2020-02-01 00:00:00", "retention", "policy", "--db", session.db, "--format", "json")
        #expect(try session.json(policy)["hot_days"] == .number(90))

        // A year and a month later: the general calls of the first block expire, the held ones stay.
        let expected = #"{"archived":0,"deleted":{"general":4084},"held":8}"#
        let dry = try caretrail(at: "2020-02-01 00:00:00", "retention", "run", "--db", session.db, "--dry-run", "--format", "json")
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
        let run = try caretrail(at: "2020-02-01 00:00:00", "retention", "run", "--db", session.db, "--format", "json")
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expected)
        #expect(try caretrail(at: "2020-02-01 00:00:00", "verify", "--db", session.db).status == 0)
        let again = try caretrail(at: "2020-02-01 00:00:00", "retention", "run", "--db", session.db, "--format", "json")
        #expect(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"archived":0,"deleted":{},"held":8}"#)

        // A purged entry is gone from reads; a held one and a health record are not.
        let purged = try caretrail(at: "2020-02-01 00:00:00", "show", "--db", session.db, "--seq", "20")
        #expect(!purged.stdout.contains("conv-19"))
        #expect(try caretrail(at: "2020-02-01 00:00:00", "show", "--db", session.db, "--seq", "1").stdout.contains("conv-0"))
        #expect(try caretrail(at: "2020-02-01 00:00:00", "show", "--db", session.db, "--seq", "9").stdout.contains("conv-8"))
    }

    @Test func aRunWithTheArchiveDeletesArchivedEntriesAndBothChecksStayIntact() throws {
        try preparedLog()
        let archive = session.folder.appendingPathComponent("archive").path
        let archived = try caretrail(at: "2019-06-01 00:00:00", "archive", "--db", session.db, "--to", archive, "--format", "json")
        #expect(archived.status == 0, "\(archived.stderr)")
        #expect(try session.json(archived)["through"] == .number(4096))

        let expected = #"{"archived":4084,"deleted":{"general":4084},"held":8}"#
        let dry = try caretrail(
            at: "2020-02-01 00:00:00", "retention", "run", "--db", session.db, "--archive", archive, "--dry-run", "--format", "json")
        #expect(dry.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expected, "\(dry.stderr)")
        let run = try caretrail(at: "2020-02-01 00:00:00", "retention", "run", "--db", session.db, "--archive", archive, "--format", "json")
        #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expected, "\(run.stderr)")
        let verify = try caretrail(at: "2020-02-01 00:00:00", "verify", "--db", session.db, "--archive", archive)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let key = session.folder.appendingPathComponent("key.txt").path
        try caretrail(at: "2020-02-01 00:00:00", "checkpoint", "key", "--db", session.db).stdout.write(
            toFile: key, atomically: true, encoding: .utf8)
        let alone = try caretrail(at: "2020-02-01 00:00:00", "verify-archive", archive, "--key", key)
        #expect(alone.status == 0, "\(alone.stdout)\(alone.stderr)")
    }

    @Test func reportsTimelinesAndExportsReadArchivedEntriesFromTheArchiveNamedOrConfigured() throws {
        try preparedLog()
        let date = "2019-06-01 00:00:00"
        let archive = session.folder.appendingPathComponent("archive").path
        /// The answers a privacy officer reads; a report's `integrity` names the verified head,
        /// which the archive record moves, and `generated_at` the moment (the faked clock runs).
        func answers(_ extra: [String]) throws -> [String] {
            let report = try caretrail(
                at: date, arguments: ["report", "patient", "PAT-HELD", "--db", session.db, "--format", "json"] + extra)
            #expect(report.status == 0, "\(report.stderr)")
            guard case .object(var members) = try session.json(report) else { return [] }
            members["integrity"] = nil
            members["generated_at"] = nil
            let timeline = try caretrail(at: date, arguments: ["timeline", "conv-20", "--db", session.db, "--format", "json"] + extra)
            let export = try caretrail(
                at: date, arguments: ["export", "fhir", "--db", session.db, "--patient", "PAT-HELD", "--format", "ndjson"] + extra)
            #expect(export.status == 0, "\(export.stderr)")
            return [CanonicalJSON.string(.object(members)), timeline.stdout, export.stdout]
        }
        let before = try answers([])
        #expect(before[0].contains(#""total_accesses":8"#))

        let archived = try caretrail(at: date, "archive", "--db", session.db, "--to", archive, "--format", "json")
        #expect(archived.status == 0, "\(archived.stderr)")
        let hotOnly = try answers([])
        #expect(hotOnly[0].contains(#""total_accesses":0"#))
        #expect(try answers(["--archive", archive]) == before)

        // Named in the log's configuration, the archive is attached without the option.
        let configuration = session.folder.appendingPathComponent("configuration.json").path
        try #"{"archive": "\#(archive)"}"#.write(toFile: configuration, atomically: true, encoding: .utf8)
        let set = try caretrail(at: date, "config", "set", configuration, "--db", session.db, "--by", "privacy-officer")
        #expect(set.status == 0, "\(set.stderr)")
        #expect(try answers([]) == before)

        let bad = try caretrail(at: date, "report", "patient", "PAT-HELD", "--db", session.db, "--archive", "ftp://host/archive")
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("archive"), "\(bad.stderr)")
    }

    @Test func badArchiveArgumentsExitTwoNamingTheProblem() throws {
        try preparedLog()
        let cases: [([String], String)] = [
            (["--to", ""], "destination"),
            (["--to", "ftp://host/archive"], "s3://"),
            (["--to", "s3://B"], "bucket"),
            (["--to", "s3://caretrail-archive/x"], "AWS_ACCESS_KEY_ID"),
            (["--to", "archive", "--segment-entries", "0"], "--segment-entries"),
            (["--to", "archive", "--before", "last tuesday"], "--before"),
        ]
        for (arguments, named) in cases {
            let output = try CLI.run(
                ["archive", "--db", session.db] + arguments, environment: ["AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""],
                in: session.folder)
            #expect(output.status == 2, "\(arguments)")
            #expect(output.stderr.contains(named), "\(arguments): \(output.stderr)")
        }
    }

    @Test func badHoldArgumentsExitTwoNamingTheOption() throws {
        try preparedLog()
        let backwards = try caretrail(
            at: "2019-01-02 00:00:00", "hold", "add", "--db", session.db, "--range", "9..3", "--reason", "x y z", "--by", "a")
        #expect(backwards.status == 2)
        #expect(backwards.stderr.contains("--range"))
        let both = try caretrail(
            at: "2019-01-02 00:00:00", "hold", "add", "--db", session.db, "--range", "1..3", "--patient", "P", "--reason", "x y z",
            "--by", "a")
        #expect(both.status == 2)
        let unknown = try caretrail(at: "2019-01-02 00:00:00", "hold", "release", "hold-77", "--db", session.db, "--by", "a")
        #expect(unknown.status == 2)
        let released = try caretrail(at: "2019-01-02 00:00:00", "hold", "release", "hold-4201", "--db", session.db, "--by", "a")
        #expect(released.status == 0, "\(released.stderr)")
        let list = try caretrail(at: "2019-01-02 00:00:00", "hold", "list", "--db", session.db, "--format", "json")
        #expect(try session.json(list).arrayValue?.first?["active"] == .bool(false))
    }

    @Test func aRunKilledAtAnyPointLeavesTheOldStateOrTheNewNeverAHole() throws {
        try preparedLog()
        let files = ["audit.sqlite", "audit.sqlite-wal", "audit.sqlite.keys.json"]
        let saved = session.folder.appendingPathComponent("saved")
        try FileManager.default.createDirectory(at: saved, withIntermediateDirectories: true)
        _ = try caretrail(at: "2019-01-01 00:00:00", "verify", "--db", session.db)
        for file in files where FileManager.default.fileExists(atPath: session.folder.appendingPathComponent(file).path) {
            try FileManager.default.copyItem(at: session.folder.appendingPathComponent(file), to: saved.appendingPathComponent(file))
        }
        // The kill comes from 20 ms to 860 ms after the start: before the purge, inside its
        // transaction, after its commit and during the WAL's truncation (a run takes about 0.6 s).
        var killed = 0
        for attempt in 0..<8 {
            for file in files {
                let target = session.folder.appendingPathComponent(file)
                try? FileManager.default.removeItem(at: target)
                if FileManager.default.fileExists(atPath: saved.appendingPathComponent(file).path) {
                    try FileManager.default.copyItem(at: saved.appendingPathComponent(file), to: target)
                }
            }
            let delay = UInt32(20_000 + attempt * 120_000)
            if try self.killed(at: "2020-02-01 00:00:00", after: delay, ["retention", "run", "--db", session.db]) { killed += 1 }

            let verify = try caretrail(at: "2020-02-01 00:00:00", "verify", "--db", session.db)
            #expect(verify.status == 0, "attempt \(attempt): \(verify.stdout) \(verify.stderr)")
            let dry = try caretrail(at: "2020-02-01 00:00:00", "retention", "run", "--db", session.db, "--dry-run", "--format", "json")
            let left = try session.json(dry)["deleted"]?["general"]?.numberValue ?? 0
            #expect(left == 4084 || left == 0, "attempt \(attempt): \(left) entries left to delete")
        }
        #expect(killed > 0, "no run was killed before it ended")
    }

    /// Runs `arguments` through faketime at `date` and kills its process group after `delay`
    /// microseconds; whether it was killed before it ended.
    func killed(at date: String, after delay: UInt32, _ arguments: [String]) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/faketime")
        process.arguments = [date, CLI.binary.path] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(delay)
        CLI.stopFaketime(process, signal: SIGKILL)
        return process.terminationReason == .uncaughtSignal
    }

    @Test func archiveAndRetentionRunsKilledAtAnyPointLeaveNoHoleAndTheNextRunFinishes() throws {
        try preparedLog()
        let files = ["audit.sqlite", "audit.sqlite-wal", "audit.sqlite.keys.json", "audit.sqlite.signing-keys.json"]
        let saved = session.folder.appendingPathComponent("saved")
        let archive = session.folder.appendingPathComponent("archive")
        try FileManager.default.createDirectory(at: saved, withIntermediateDirectories: true)
        _ = try caretrail(at: "2019-01-01 00:00:00", "checkpoint", "key", "--db", session.db)
        _ = try caretrail(at: "2019-01-01 00:00:00", "verify", "--db", session.db)
        for file in files where FileManager.default.fileExists(atPath: session.folder.appendingPathComponent(file).path) {
            try FileManager.default.copyItem(at: session.folder.appendingPathComponent(file), to: saved.appendingPathComponent(file))
        }
        let archiving = ["archive", "--db", session.db, "--to", archive.path, "--segment-entries", "512"]
        let retaining = ["retention", "run", "--db", session.db, "--archive", archive.path]
        var kills = 0
        for attempt in 0..<6 {
            for file in files {
                let target = session.folder.appendingPathComponent(file)
                try? FileManager.default.removeItem(at: target)
                if FileManager.default.fileExists(atPath: saved.appendingPathComponent(file).path) {
                    try FileManager.default.copyItem(at: saved.appendingPathComponent(file), to: target)
                }
            }
            try? FileManager.default.removeItem(at: archive)
            // Killed between 30 ms and 1.3 s after the start: while segments are written, read
            // back, sealed and chained; then the same for a retention run over the archive.
            let delay = UInt32(30_000 + attempt * 250_000)
            if try killed(at: "2019-06-01 00:00:00", after: delay, archiving) { kills += 1 }
            let afterKill = try caretrail(at: "2019-06-01 00:00:00", "verify", "--db", session.db)
            #expect(afterKill.status == 0, "attempt \(attempt): \(afterKill.stdout) \(afterKill.stderr)")
            let finish = try caretrail(at: "2019-06-01 00:00:00", arguments: archiving)
            #expect(finish.status == 0, "attempt \(attempt): \(finish.stderr)")
            let archived = try caretrail(at: "2019-06-01 00:00:00", "verify", "--db", session.db, "--archive", archive.path)
            #expect(archived.status == 0, "attempt \(attempt): \(archived.stdout) \(archived.stderr)")

            if try killed(at: "2020-02-01 00:00:00", after: delay, retaining) { kills += 1 }
            let afterPurgeKill = try caretrail(at: "2020-02-01 00:00:00", "verify", "--db", session.db)
            #expect(afterPurgeKill.status == 0, "attempt \(attempt): \(afterPurgeKill.stdout) \(afterPurgeKill.stderr)")
            let dry = try caretrail(
                at: "2020-02-01 00:00:00", "retention", "run", "--db", session.db, "--archive", archive.path, "--dry-run", "--format",
                "json")
            let left = try session.json(dry)["deleted"]?["general"]?.numberValue ?? 0
            #expect(left == 4084 || left == 0, "attempt \(attempt): \(left) entries left to delete")
            let purge = try caretrail(at: "2020-02-01 00:00:00", arguments: retaining)
            #expect(purge.status == 0, "attempt \(attempt): \(purge.stderr)")
            let intact = try caretrail(at: "2020-02-01 00:00:00", "verify", "--db", session.db, "--archive", archive.path)
            #expect(intact.status == 0, "attempt \(attempt): \(intact.stdout) \(intact.stderr)")
        }
        #expect(kills > 0, "no run was killed before it ended")
    }

    @Test(arguments: [false, true])
    func serveRunsRetentionAtStartOffTheRequestPathAndReportsItsCounts(archiving: Bool) throws {
        try preparedLog()
        let created = try session.json(
            try session.caretrail(
                "keys", "create", "--db", session.db, "--role", "privacy_officer", "--tenant", "hospital-1", "--format", "json"))
        let secret = try #require(created["secret"]?.stringValue)
        let port = freePort(in: 29_000...29_999)
        let archive = session.folder.appendingPathComponent("archive").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/faketime")
        process.arguments =
            [
                "2020-02-01 00:00:00", CLI.binary.path, "serve", "--db", session.db, "--port", String(port), "--retention-interval", "3600",
            ] + (archiving ? ["--archive", archive] : [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { CLI.stopFaketime(process, signal: SIGTERM) }
        /// The body of a GET, or "" when there is no answer.
        func get(_ path: String, secret: String? = nil) throws -> String {
            var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)\(path)")))
            if let secret { request.setValue("Bearer \(secret)", forHTTPHeaderField: "Authorization") }
            let result = Mutex<String>("")
            let done = DispatchSemaphore(value: 0)
            URLSession.shared.dataTask(with: request) { data, _, _ in
                result.withLock { $0 = data.map { String(decoding: $0, as: UTF8.self) } ?? "" }
                done.signal()
            }.resume()
            done.wait()
            return result.withLock { $0 }
        }
        var body = ""
        for _ in 0..<1200 where !body.contains("caretrail_retention_runs 1.0") {
            Thread.sleep(forTimeInterval: 0.05)
            body = try get("/metrics")
        }
        #expect(body.contains("caretrail_retention_runs 1.0"))
        #expect(body.contains("caretrail_retention_deleted_entries 4084.0"))
        #expect(body.contains("caretrail_retention_held_entries 8.0"))
        if archiving {
            // The 4,096 entries of the first block moved to the archive, then the general ones
            // among them were deleted from it.
            #expect(body.contains("caretrail_retention_archived_entries 4096.0"), "\(body)")
            let objects = try FileManager.default.contentsOfDirectory(atPath: archive)
            #expect(objects.contains("catalog.note"))
            #expect(objects.contains { $0.hasSuffix(".g2.manifest.json") })
        }
        // The held calls are in the report over HTTP, read from the archive when they moved there.
        let report = try get("/v1/reports/patients/PAT-HELD?format=json", secret: secret)
        #expect(report.contains(#""total_accesses":8"#), "\(report)")
    }
}
