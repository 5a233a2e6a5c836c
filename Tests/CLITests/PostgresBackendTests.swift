import AuditChain
import AuditCore
import AuditTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
/// The same commands against a log in a SQLite file and a log in PostgreSQL (a throwaway
/// cluster): the same calls make the same chain, and reports, alerts, tool statistics, FHIR
/// export, the SIEM stream, proofs and the HTTP API answer alike; `caretrail copy` moves a log
/// between them with its head.
@Suite("The same log on SQLite and PostgreSQL")
struct PostgresBackendTests {
    let session = CLISession()
    /// The log's clock, frozen (an increment of 0 per reading), so that both logs record the
    /// same `recorded_at`.
    static let frozen = ["/usr/bin/faketime", "-f", "@2026-06-01 08:00:00 i0"]

    /// The first call of `workload` that names a patient, and the patient.
    func firstPatientCall(_ workload: String) throws -> (line: String, patient: String) {
        for line in try String(contentsOfFile: workload, encoding: .utf8).split(separator: "\n") {
            if let patient = try JSONParser.parse(String(line))["patient_id"]?.stringValue { return (String(line), patient) }
        }
        throw CLITestFailure(message: "the workload names no patient")
    }

    /// Runs `arguments` against the log at `database`, with the SQLite log's key file.
    func run(_ arguments: [String], on database: String, launcher: [String] = []) throws -> CLI.Output {
        try CLI.run(arguments + ["--db", database, "--key-file", session.db + ".keys.json"], launcher: launcher, in: session.folder)
    }

    /// A SQLite log and an empty PostgreSQL log with the same keys (an empty log copied).
    func twoLogs() throws -> String {
        #expect(try session.caretrail("init", "--db", session.db).status == 0)
        let postgres = try PostgresTestServer.shared().newDatabase()
        let copied = try session.caretrail("copy", "--from", session.db, "--to", postgres)
        #expect(copied.status == 0, "\(copied.stderr)")
        return postgres
    }

    /// Output without the lines that name when it was made.
    func timeless(_ output: CLI.Output) -> String {
        output.stdout.split(separator: "\n").filter { !$0.contains("generated_at") && !$0.contains("verified_at") }
            .map { $0.replacing(/"timestamp":"[^"]*"/, with: "") }.joined(separator: "\n")
    }

    @Test func theSameCallsMakeTheSameLogAndTheSameAnswersOnBothBackends() throws {
        let postgres = try twoLogs()
        let workload = try sampleWorkload(lines: 600, in: session.folder)
        var heads: [String] = []
        for database in [session.db, postgres] {
            let ingested = try run(["ingest", workload], on: database, launcher: Self.frozen)
            #expect(ingested.status == 0, "\(ingested.stderr)")
            heads.append(try run(["head"], on: database).stdout)
        }
        #expect(heads[0] == heads[1] && heads[0].contains("\"seq\""), "the same calls, keys and clock make the same head")
        let patient = try firstPatientCall(workload).patient
        let questions: [[String]] = [
            ["report", "patient", patient, "--format", "json"], ["report", "patient", patient, "--format", "csv"],
            ["alerts", "--format", "json"], ["tool-stats", "--format", "json"], ["user", "usr-0202", "--format", "json"],
            ["failures", "--format", "json"], ["export", "fhir", "--format", "ndjson"],
            ["export", "fhir", "--fhir-version", "r5", "--format", "json", "--patient", patient],
            ["proof", "inclusion", "--seq", "17"],
        ]
        // Each read is chained as an audit_access entry: on the frozen clock, alike on both.
        for question in questions {
            let answers = try [session.db, postgres].map {
                try run(question + (question[0] == "proof" ? [] : ["--reader", "officer-1"]), on: $0, launcher: Self.frozen)
            }
            #expect(answers.allSatisfy { $0.status == 0 }, "\(question): \(answers.map(\.stderr))")
            #expect(timeless(answers[0]) == timeless(answers[1]), "\(question) answers alike")
            #expect(!answers[0].stdout.isEmpty)
        }
        // The SIEM stream's backlog, as JSON lines into a file.
        let streamed = try [session.db, postgres].enumerated().map { index, database in
            let file = session.folder.appendingPathComponent("siem-\(index).jsonl").path
            let output = try run(["stream", "--to", "file:" + file, "--format", "jsonl", "--once"], on: database)
            #expect(output.status == 0, "\(output.stderr)")
            // The stream's closing checkpoint marker carries the time it was sent.
            return try String(contentsOfFile: file, encoding: .utf8).replacing(/"@timestamp":"[^"]*"/, with: "")
        }
        #expect(streamed[0] == streamed[1] && streamed[0].split(separator: "\n").count >= 600)
        let verified = try run(["verify", "--format", "json"], on: postgres)
        #expect(verified.status == 0 && verified.stdout.contains("\"intact\":true"), "\(verified.stdout)")
    }

    @Test func archiveHoldsAndRetentionDoOnPostgreSQLWhatTheyDoOnSQLite() throws {
        let postgres = try twoLogs()
        // 8 calls about a patient on hold, 4 health records, general calls up to 4,200, each by
        // its own user about its own patient, recorded on 2019-01-01.
        let calls = (0..<4_200).map { index in
            let tool = index >= 8 && index < 12 ? "get_patient_record" : "get_lab_results"
            let patient = index < 8 ? "PAT-HELD" : "PAT-\(index)"
            return
                #"{"timestamp":"2018-12-31T23:59:00.000Z","tenant_id":"hospital-1","user_id":"usr-\#(index)","model":"m-1","tool_name":"\#(tool)","action":"R","purpose_of_use":"TREAT","patient_id":"\#(patient)","conversation_id":"conv-\#(index)"}"#
        }
        let file = session.folder.appendingPathComponent("calls.jsonl").path
        try (calls.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        func at(_ date: String) -> [String] { ["/usr/bin/faketime", "-f", "@\(date) i0"] }
        func report(_ patient: String, on database: String, _ extra: [String] = []) throws -> String {
            let output = try run(
                ["report", "patient", patient, "--format", "json", "--reader", "officer-1"] + extra, on: database,
                launcher: at("2020-02-01 00:00:00"))
            #expect(output.status == 0, "\(output.stderr)")
            guard case .object(var members) = try session.json(output) else { return "" }
            members["integrity"] = nil
            members["generated_at"] = nil
            return CanonicalJSON.string(.object(members))
        }
        var answers: [[String]] = []
        for (index, database) in [session.db, postgres].enumerated() {
            let archive = session.folder.appendingPathComponent("archive-\(index)").path
            #expect(try run(["ingest", file], on: database, launcher: at("2019-01-01 00:00:00")).status == 0)
            let hold = try run(
                ["hold", "add", "--patient", "PAT-HELD", "--reason", "matter 17", "--by", "counsel", "--format", "json"], on: database,
                launcher: at("2019-01-01 00:00:00"))
            #expect(hold.status == 0, "\(hold.stderr)")
            let before = try report("PAT-HELD", on: database)
            let archived = try run(["archive", "--to", archive, "--format", "json"], on: database, launcher: at("2019-06-01 00:00:00"))
            #expect(archived.status == 0, "\(archived.stderr)")
            let retention = try run(
                ["retention", "run", "--archive", archive, "--format", "json"], on: database, launcher: at("2020-02-01 00:00:00"))
            #expect(retention.status == 0, "\(retention.stderr)")
            let verify = try run(["verify", "--archive", archive], on: database, launcher: at("2020-02-01 00:00:00"))
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            let key = session.folder.appendingPathComponent("key-\(index).txt").path
            try run(["checkpoint", "key"], on: database).stdout.write(toFile: key, atomically: true, encoding: .utf8)
            let alone = try CLI.run(["verify-archive", archive, "--key", key], in: session.folder)
            #expect(alone.status == 0, "\(alone.stdout)\(alone.stderr)")
            // The held patient's report reads the archive as it read the hot log; a general
            // call's patient has nothing left.
            #expect(try report("PAT-HELD", on: database, ["--archive", archive]) == before)
            #expect(try report("PAT-100", on: database, ["--archive", archive]).contains(#""total_accesses":0"#))
            answers.append([
                archived.stdout.replacing(/"bytes":\d+,/, with: ""), retention.stdout, before,
                try run(["retention", "policy", "--format", "json"], on: database).stdout,
            ])
        }
        // SQLite leaves the posting block still filling (entries 4,097 to 4,201) to a later run;
        // PostgreSQL indexes every entry as it is appended, so it goes up to the head.
        #expect(answers[0][0] == #"{"archived":4096,"entries":4096,"segments":1,"through":4096}"# + "\n")
        #expect(answers[1][0] == #"{"archived":4200,"entries":4201,"segments":1,"through":4201}"# + "\n")
        #expect(answers[0][1] == #"{"archived":4084,"deleted":{"general":4084},"held":8}"# + "\n")
        #expect(answers[1][1] == #"{"archived":4188,"deleted":{"general":4188},"held":8}"# + "\n")
        #expect(answers[0][2...] == answers[1][2...], "reports and the policy answer alike on both backends")
    }

    @Test func aLogCopiedToPostgreSQLAndBackKeepsItsHeadAndItsReports() throws {
        #expect(try session.caretrail("init", "--db", session.db).status == 0)
        let workload = try sampleWorkload(lines: 300, in: session.folder)
        #expect(try session.caretrail("ingest", workload, "--db", session.db).status == 0)
        let postgres = try PostgresTestServer.shared().newDatabase()
        let back = session.folder.appendingPathComponent("back.sqlite").path
        let there = try session.json(try session.caretrail("copy", "--from", session.db, "--to", postgres, "--format", "json"))
        let again = try session.json(
            try session.caretrail(
                "copy", "--from", postgres, "--key-file", session.db + ".keys.json", "--to", back, "--format", "json"))
        let head = try session.caretrail("head", "--db", session.db).stdout
        #expect(there["verified"] == .bool(true) && again["verified"] == .bool(true))
        #expect(there["head"] == again["head"] && head.contains(there["head"]?["hash"]?.stringValue ?? "-"))
        #expect(try CLI.run(["head", "--db", back], in: session.folder).stdout == head)
        // A copy refuses a destination that holds a log.
        let refused = try session.caretrail("copy", "--from", session.db, "--to", postgres)
        #expect(refused.status != 0 && refused.stderr.contains("already holds a log"), "\(refused.stderr)")
    }

    @Test func serveOnPostgreSQLTakesCallsAndAnswersReports() throws {
        let postgres = try twoLogs()
        let agent = try session.json(
            try run(["keys", "create", "--role", "agent", "--tenant", "hospital-1", "--format", "json"], on: postgres))
        let officer = try session.json(
            try run(["keys", "create", "--role", "privacy_officer", "--tenant", "hospital-1", "--format", "json"], on: postgres))
        let port = freePort(in: 29_000...29_999)
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["serve", "--db", postgres, "--key-file", session.db + ".keys.json", "--port", String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let (call, patient) = try firstPatientCall(try sampleWorkload(lines: 10, in: session.folder))
        var status = 0
        for _ in 0..<400 where status != 201 {
            Thread.sleep(forTimeInterval: 0.05)
            status = try request("POST", port, "/v1/tool-calls", secret: agent["secret"]?.stringValue, body: call).status
        }
        #expect(status == 201, "a call is acknowledged once it is durable in PostgreSQL")
        let report = try request("GET", port, "/v1/reports/patients/\(patient)?format=json", secret: officer["secret"]?.stringValue)
        #expect(report.status == 200 && report.body.contains(#""total_accesses":1"#), "\(report.body)")
        #expect(try run(["verify"], on: postgres).status == 0)
    }

    /// One HTTP request; its status (0 without an answer) and body.
    func request(_ method: String, _ port: Int, _ path: String, secret: String?, body: String? = nil) throws -> (status: Int, body: String)
    {
        var request = URLRequest(url: try #require(URL(string: "http://127.0.0.1:\(port)\(path)")))
        request.httpMethod = method
        if let secret { request.setValue("Bearer \(secret)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let result = Mutex<(Int, String)>((0, ""))
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, _ in
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            result.withLock { $0 = (status, data.map { String(decoding: $0, as: UTF8.self) } ?? "") }
            done.signal()
        }.resume()
        done.wait()
        return result.withLock { $0 }
    }
}

/// A test's own failure, with what went wrong.
struct CLITestFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
