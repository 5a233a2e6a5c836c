import AuditArchive
import AuditCore
import AuditTestSupport
import Foundation
import Testing

/// A real S3-compatible server on loopback: moto's server (PyPI, installed by the README's
/// test command), started by `scripts/s3-test-server.py` with one bucket. With
/// `failAfterPuts`, a front server drops every upload after that many, halfway through.
final class S3TestServer {
    let port = freePort(in: 19_000...19_999)
    let bucket = "caretrail-archive"
    private let process = Process()

    init(failAfterPuts: Int? = nil) throws {
        let script = FixturePath.root.deletingLastPathComponent().appendingPathComponent("scripts/s3-test-server.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["python3", script, "--port", "\(port)", "--bucket", bucket] + (failAfterPuts.map { ["--fail-after-puts", "\($0)"] } ?? [])
        let ready = Pipe()
        process.standardOutput = ready
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = String(decoding: ready.fileHandleForReading.availableData, as: UTF8.self)
        try #require(line.hasPrefix("ready"), "the S3 test server did not start (scripts/install-test-deps.sh installs moto[server])")
    }

    /// The standard AWS variables that point a client at this server.
    var environment: [String: String] {
        [
            "AWS_ACCESS_KEY_ID": "test-access", "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:\(port)",
        ]
    }

    func destination(_ prefix: String) throws -> any ArchiveDestination {
        try ArchiveLocation.destination("s3://\(bucket)/\(prefix)", environment: environment)
    }

    deinit {
        // SIGKILL: the test thread's blocked signals would keep SIGTERM from a child.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// `caretrail archive` to an S3-compatible bucket, checked with and without the database; and
/// a server that fails mid-upload, after which nothing has left the hot log.
@Suite("Archive to S3")
struct S3ArchiveTests {
    let session = CLISession()

    func caretrail(at date: String, environment: [String: String] = [:], _ arguments: String...) throws -> CLI.Output {
        try CLI.run(arguments, environment: environment, launcher: ["/usr/bin/faketime", date], in: session.folder)
    }

    /// A log of 4,200 calls recorded on 2019-01-01 (the first 4,096 entries can be archived),
    /// and the file of its verifier key.
    func preparedLog() throws -> String {
        var lines: [String] = []
        for index in 0..<4200 {
            lines.append(
                #"{"timestamp":"2018-12-31T23:59:00.000Z","tenant_id":"hospital-1","user_id":"usr-\#(index)","model":"m-1","tool_name":"get_lab_results","action":"R","purpose_of_use":"TREAT","patient_id":"PAT-\#(index)","conversation_id":"conv-\#(index)"}"#
            )
        }
        let calls = session.folder.appendingPathComponent("calls.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: calls, atomically: true, encoding: .utf8)
        #expect(try caretrail(at: "2019-01-01 00:00:00", "init", "--db", session.db).status == 0)
        #expect(try caretrail(at: "2019-01-01 00:00:00", "ingest", "--db", session.db, calls).status == 0)
        let key = try caretrail(at: "2019-01-01 00:00:00", "checkpoint", "key", "--db", session.db)
        let keyFile = session.folder.appendingPathComponent("key.txt").path
        try key.stdout.write(toFile: keyFile, atomically: true, encoding: .utf8)
        return keyFile
    }

    @Test func anArchiveInABucketIsCheckedWithAndWithoutTheDatabaseAndDamageIsNamed() async throws {
        let server = try S3TestServer()
        let keyFile = try preparedLog()
        let env = server.environment
        let dest = "s3://\(server.bucket)/hospital-1/audit"

        let run = try caretrail(
            at: "2019-06-01 00:00:00", environment: env, "archive", "--db", session.db, "--to", dest, "--segment-entries", "1000",
            "--format", "json")
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try session.json(run)
        #expect(summary["segments"] == .number(5))
        #expect(summary["through"] == .number(4096))
        #expect((summary["archived"]?.numberValue ?? 0) > 4000)
        #expect(try caretrail(at: "2019-06-01 00:00:00", "show", "--db", session.db, "--seq", "100").stdout.contains("conv-") == false)

        let alone = try caretrail(at: "2019-06-01 00:00:00", environment: env, "verify-archive", dest, "--key", keyFile)
        #expect(alone.status == 0, "\(alone.stdout)\(alone.stderr)")
        let chained = try caretrail(at: "2019-06-01 00:00:00", environment: env, "verify", "--db", session.db, "--archive", dest)
        #expect(chained.status == 0, "\(chained.stdout)\(chained.stderr)")

        // One byte of a segment's data changed in the bucket.
        let bucket = try server.destination("hospital-1/audit")
        let data = try #require(try await bucket.list().first { $0.hasSuffix(".data") && $0.contains("segment-000000001001") })
        var bytes = try #require(try await bucket.get(data))
        bytes[bytes.count / 2] ^= 0x01
        try await bucket.put(data, bytes)
        let damaged = try caretrail(
            at: "2019-06-01 00:00:00", environment: env, "verify-archive", dest, "--key", keyFile, "--format", "json")
        #expect(damaged.status == 1)
        #expect(damaged.stdout.contains(#""kind":"data_edited""#))
        let damagedChain = try caretrail(at: "2019-06-01 00:00:00", environment: env, "verify", "--db", session.db, "--archive", dest)
        #expect(damagedChain.status == 1)
        #expect(damagedChain.stdout.contains("data_edited"))
    }

    @Test func aServerThatFailsMidUploadLeavesEveryUnwrittenSegmentInTheHotLog() throws {
        // The first segment's three objects go through; the second's data is cut off halfway.
        let server = try S3TestServer(failAfterPuts: 3)
        _ = try preparedLog()
        let dest = "s3://\(server.bucket)/audit"
        let run = try caretrail(
            at: "2019-06-01 00:00:00", environment: server.environment, "archive", "--db", session.db, "--to", dest,
            "--segment-entries", "1000")
        #expect(run.status == 3, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("1001...2000"), "\(run.stderr)")
        #expect(try caretrail(at: "2019-06-01 00:00:00", "verify", "--db", session.db).status == 0)
        // Entries of the first segment left the hot log; every later one is still there.
        #expect(try caretrail(at: "2019-06-01 00:00:00", "show", "--db", session.db, "--seq", "500").stdout.contains("conv-") == false)
        for seq in ["1001", "2500", "4096"] {
            #expect(try caretrail(at: "2019-06-01 00:00:00", "show", "--db", session.db, "--seq", seq).stdout.contains("conv-"), "\(seq)")
        }
    }
}
