import AuditChain
import AuditCore
import AuditTestSupport
import Foundation
import GRDB
import Testing

@Suite("caretrail command line")
struct CommandLineTests {
    let folder = temporaryFolder()
    var db: String { folder.appendingPathComponent("audit.sqlite").path }

    func caretrail(_ arguments: String..., stdin: String? = nil, environment: [String: String] = [:]) throws -> CLI.Output {
        try CLI.run(arguments, environment: environment, stdin: stdin, in: folder)
    }

    @Test func initIngestHeadShowVerifyAndPseudonymWorkTogether() throws {
        let created = try caretrail("init", "--db", db, "--format", "json")
        #expect(created.status == 0, "\(created.stderr)")
        let initJSON = try JSONParser.parse(created.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(initJSON["key_id"] == "k1")

        let workload = try sampleWorkload(lines: 200, in: folder)
        let ingested = try caretrail("ingest", "--db", db, workload, "--format", "json")
        #expect(ingested.status == 0, "\(ingested.stderr)")
        let ingestJSON = try JSONParser.parse(ingested.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(ingestJSON["appended"] == 200)

        let head = try caretrail("head", "--db", db)
        let headJSON = try JSONParser.parse(head.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(headJSON["seq"] == 200)
        #expect(headJSON["hash"] == ingestJSON["head"]?["hash"])

        let shown = try caretrail("show", "--db", db, "--seq", "2")
        let entry = try JSONParser.parse(shown.stdout)
        #expect(entry["seq"] == 2)
        #expect(entry["kind"] == "tool_call")
        let code = try #require(entry["purpose_of_use"]?.stringValue)
        #expect(entry["purpose_of_use_display"]?.stringValue == PurposeOfUse(code: code)?.display)
        #expect(entry["body"]?["arguments"]?["patient_name"]?.stringValue?.hasPrefix("hmac-sha256:k1:") == true)

        let trace = try JSONParser.parse(try caretrail("show", "--db", db, "--trace", "tr-00000000").stdout)
        #expect(trace.arrayValue?.first?["kind"] == "agent_request")
        #expect(trace.arrayValue?.count == 4)

        let token = try caretrail("pseudonym", "--db", db, "Olga Garcia").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(entry["body"]?["arguments"]?["patient_name"] == .string(token))

        let verified = try caretrail("verify", "--db", db)
        #expect(verified.status == 0)
        #expect(verified.stdout.hasPrefix("intact: 202 entries verified"), "200 calls, and the two reads by show")
        let expect = "\(headJSON["seq"]?.numberValue.map { Int($0) } ?? 0):\(headJSON["hash"]?.stringValue ?? "")"
        let withHead = try caretrail("verify", "--db", db, "--expect-head", expect, "--format", "json")
        #expect(withHead.status == 0)
        #expect(try JSONParser.parse(withHead.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["intact"] == true)
    }

    @Test func badLinesAreReportedWithLineAndFieldAndNothingIsAppended() throws {
        _ = try caretrail("init", "--db", db)
        var lines = try String(contentsOfFile: try sampleWorkload(lines: 5, in: folder), encoding: .utf8).split(separator: "\n").map(
            String.init)
        lines[2] = lines[2].replacingOccurrences(of: "\"purpose_of_use\":\"TREAT\"", with: "\"purpose_of_use\":\"Maria Garcia\"")
            .replacingOccurrences(of: "\"purpose_of_use\":\"HPAYMT\"", with: "\"purpose_of_use\":\"Maria Garcia\"")
            .replacingOccurrences(of: "\"purpose_of_use\":\"HOPERAT\"", with: "\"purpose_of_use\":\"Maria Garcia\"")
        lines[3] = lines[3].replacingOccurrences(of: "\"turn_number\":", with: "\"turn_numbr\":")
        let path = folder.appendingPathComponent("bad.jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let result = try caretrail("ingest", "--db", db, path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("line 3: field 'purpose_of_use'"), "\(result.stderr)")
        #expect(result.stderr.contains("line 4: field 'turn_numbr'"), "\(result.stderr)")
        #expect(!result.stderr.contains("Maria"))
        #expect(try caretrail("head", "--db", db).stdout.contains("\"seq\":0"))
    }

    @Test func standardInputAndTheEnvironmentVariableWork() throws {
        _ = try caretrail("init", "--db", db)
        let text = try String(contentsOfFile: try sampleWorkload(lines: 3, in: folder), encoding: .utf8)
        let result = try caretrail("ingest", "-", stdin: text, environment: ["CARETRAIL_DB": db])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("appended 3 entries"))
        // No record on standard input: refused (exit 2), as over HTTP and in the library.
        let empty = try caretrail("ingest", "-", stdin: "\n \n", environment: ["CARETRAIL_DB": db])
        #expect(empty.status == 2, "\(empty.stderr)")
        #expect(empty.stderr.contains("no record"), "\(empty.stderr)")
    }

    @Test func missingDatabaseIsAnErrorWithExitCode3() throws {
        let result = try caretrail("verify", "--db", folder.appendingPathComponent("none.sqlite").path)
        #expect(result.status == 3)
        #expect(result.stderr.contains("caretrail init"))
        #expect(try caretrail("verify").status == 64)
    }

    @Test func tamperedLogFailsVerifyWithTheFirstBrokenSeq() throws {
        _ = try caretrail("init", "--db", db)
        _ = try caretrail("ingest", "--db", db, try sampleWorkload(lines: 40, in: folder))
        let head = try caretrail("head", "--db", db).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let headJSON = try JSONParser.parse(head)
        let queue = try DatabaseQueue(path: db)
        try queue.write { db in
            try db.execute(sql: "DROP TRIGGER entry_is_append_only_update")
            try db.execute(sql: "UPDATE entry SET canonical = json_set(canonical, '$.purpose_of_use', 'HRESCH') WHERE seq = 7")
        }
        let result = try caretrail("verify", "--db", db)
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix("BROKEN at seq 7: edited"), "\(result.stdout)")
        let json = try caretrail("verify", "--db", db, "--format", "json")
        let report = try JSONParser.parse(json.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(report["intact"] == false)
        #expect(report["problem"]?["seq"] == 7)
        #expect(report["problem"]?["kind"] == "edited")

        try queue.write { db in
            try db.execute(sql: "DROP TRIGGER entry_is_append_only_delete")
            try db.execute(sql: "DELETE FROM entry WHERE seq >= 5")
        }
        let seq = Int(headJSON["seq"]?.numberValue ?? 0)
        let truncated = try caretrail("verify", "--db", db, "--expect-head", "\(seq):\(headJSON["hash"]?.stringValue ?? "")")
        #expect(truncated.status == 1)
        #expect(truncated.stdout.contains("truncated"), "\(truncated.stdout)")
    }

    @Test func processesAppendingAtOnceNeverForkTheChain() throws {
        _ = try caretrail("init", "--db", db)
        let workload = try sampleWorkload(lines: 60, in: folder)
        let folder = self.folder
        let db = self.db
        let statuses = Statuses()
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            let status = (try? CLI.run(["ingest", "--db", db, workload], in: folder).status) ?? -1
            statuses.add(status)
        }
        #expect(statuses.values == [0, 0, 0, 0])
        let verified = try caretrail("verify", "--db", db)
        #expect(verified.status == 0)
        #expect(verified.stdout.hasPrefix("intact: 240 entries verified"))
    }

    @Test func rotatingThePseudonymKeyKeepsOldTokensAvailable() throws {
        _ = try caretrail("init", "--db", db)
        let rotated = try caretrail("pii-key", "rotate", "--db", db)
        #expect(rotated.status == 0)
        #expect(rotated.stdout.contains("k2"))
        let tokens = try caretrail("pseudonym", "--db", db, "--all-keys", "Maria Garcia").stdout.split(separator: "\n")
        #expect(tokens.count == 2)
        #expect(tokens[0].hasPrefix("hmac-sha256:k1:"))
        #expect(tokens[1].hasPrefix("hmac-sha256:k2:"))
        let listed = try caretrail("pii-key", "list", "--db", db, "--format", "json")
        #expect(listed.stdout.contains("\"current\":true"))
        #expect(!listed.stdout.contains("secret"))
    }

    @Test func killingAnIngestMidwayLosesNothingAcknowledgedAndHalfWritesNothing() throws {
        _ = try caretrail("init", "--db", db)
        let small = try sampleWorkload(lines: 25, in: folder)
        let big = try sampleWorkload(lines: 5000, in: folder)
        // Acknowledged ingests, one after the other, then a large one killed while it runs.
        var acknowledged: Int64 = 0
        for _ in 0..<3 {
            let result = try caretrail("ingest", "--db", db, small, "--format", "json")
            #expect(result.status == 0)
            acknowledged = Int64(
                try JSONParser.parse(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["head"]?["seq"]?.numberValue ?? 0)
        }
        #expect(acknowledged == 75)
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["ingest", "--db", db, big]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 0.3)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // The killed batch is there entirely or not at all; everything acknowledged before is there.
        let head = try JSONParser.parse(try caretrail("head", "--db", db).stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let seq = Int64(head["seq"]?.numberValue ?? -1)
        #expect(seq == acknowledged || seq == acknowledged + 5000, "head \(seq)")
        let verified = try caretrail("verify", "--db", db)
        #expect(verified.status == 0, "\(verified.stdout)")
    }

    @Test func policyFileChangesWhatIsPseudonymised() throws {
        let defaults = try caretrail("policy")
        #expect(defaults.status == 0)
        let policy = try JSONParser.parse(defaults.stdout)
        #expect(policy["identifier_keys"]?.arrayValue?.contains("patient_name") == true)
        // A deployment that also treats the user agent as identifying.
        guard case .object(var members) = policy, case .array(var keys) = members["identifier_keys"] else {
            Issue.record("policy is not an object")
            return
        }
        keys.append("user_agent")
        members["identifier_keys"] = .array(keys)
        let path = folder.appendingPathComponent("policy.json").path
        try CanonicalJSON.string(.object(members)).write(toFile: path, atomically: true, encoding: .utf8)
        _ = try caretrail("init", "--db", db)
        let workload = try sampleWorkload(lines: 3, in: folder)
        // A process cannot run a policy the log has not chained: exit 2, nothing appended.
        let refused = try caretrail("ingest", "--db", db, "--policy", path, workload)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("config set"))
        // Chained as configuration, with who changed it, the policy applies to every writer.
        let configuration = folder.appendingPathComponent("config.json").path
        try CanonicalJSON.string(.object(["sanitizer_policy": .object(members)])).write(
            toFile: configuration, atomically: true, encoding: .utf8)
        #expect(try caretrail("config", "set", "--db", db, configuration, "--by", "privacy-officer-1").status == 0)
        let ingested = try caretrail("ingest", "--db", db, "--policy", path, workload)
        #expect(ingested.status == 0, "\(ingested.stderr)")
        // Seq 1 is the configuration; the workload's second record is seq 3.
        let entry = try JSONParser.parse(try caretrail("show", "--db", db, "--seq", "3").stdout)
        #expect(entry["body"]?["session_metadata"]?["user_agent"]?.stringValue?.hasPrefix("hmac-sha256:") == true)
        let shown = try JSONParser.parse(try caretrail("config", "show", "--db", db).stdout)
        #expect(shown["sanitizer_policy"]?["identifier_keys"]?.arrayValue?.contains("user_agent") == true)
        // The defaults, now weaker than the log's policy, are refused too.
        let defaultsFile = folder.appendingPathComponent("defaults.json").path
        try defaults.stdout.write(toFile: defaultsFile, atomically: true, encoding: .utf8)
        #expect(try caretrail("ingest", "--db", db, "--policy", defaultsFile, workload).status == 2)
        let broken = folder.appendingPathComponent("broken.json").path
        try "{}".write(toFile: broken, atomically: true, encoding: .utf8)
        #expect(try caretrail("ingest", "--db", db, "--policy", broken, path).status == 3)
    }

    @Test func demoRunsOnTheSampleWorkloadAndFindsNoClearTextPHI() throws {
        let result = try caretrail("demo", "--dir", folder.appendingPathComponent("demo").path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("3. verified: intact, 5177 hashes"))
        #expect(result.stdout.contains("10 alerts raised"))
        #expect(result.stdout.contains("the same as live detection"))
        #expect(result.stdout.contains("62 calls spelling identifiers"))
        #expect(result.stdout.contains("the FHIR R4 and R5 exports and the four SIEM formats"))
        #expect(result.stdout.contains(": 0 found"))
    }
}

final class Statuses: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Int32] = []
    func add(_ status: Int32) {
        lock.lock()
        list.append(status)
        lock.unlock()
    }
    var values: [Int32] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }
}
