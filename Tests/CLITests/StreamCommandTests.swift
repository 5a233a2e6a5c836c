import AuditCore
import AuditTestSupport
import Foundation
import Testing

@Suite("caretrail stream")
struct StreamCommandTests {
    let session = CLISession()
    var db: String { session.db }

    func caretrail(_ arguments: String...) throws -> CLI.Output { try CLI.run(arguments, in: session.folder) }

    func seqs(_ path: String) throws -> [Int] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let range = line.range(of: #"seq=""#) else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
    }

    @Test func toAFileInOrderResumingFromTheCursor() throws {
        #expect(try caretrail("init", "--db", db).status == 0)
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("report/calls.jsonl").path).status == 0)
        let out = session.folder.appendingPathComponent("siem.log").path
        #expect(try caretrail("stream", "--db", db, "--to", "file:\(out)", "--format", "rfc5424-json", "--once").status == 0)
        // Eleven entries, then the checkpoint (its seq is the head's).
        #expect(try seqs(out) == Array(1...11) + [11])
        #expect(try caretrail("ingest", "--db", db, try sampleWorkload(lines: 5, in: session.folder)).status == 0)
        #expect(try caretrail("stream", "--db", db, "--to", "file:\(out)", "--format", "rfc5424-json", "--once").status == 0)
        #expect(try seqs(out) == Array(1...11) + [11] + Array(12...16) + [16])
        // --from-seq starts over from there.
        let again = session.folder.appendingPathComponent("again.log").path
        #expect(
            try caretrail("stream", "--db", db, "--to", "file:\(again)", "--format", "rfc5424-fhir", "--from-seq", "15", "--once").status
                == 0)
        #expect(try seqs(again) == [15, 16, 16])
        #expect(try caretrail("stream", "--db", db, "--to", "ftp://x", "--once").status == 2)
    }

    /// Starts the test collector; returns it once it listens.
    func collector(port: Int, out: String, tls: (cert: String, key: String)? = nil, hangUpAfter: Int? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = FixturePath.root.deletingLastPathComponent().appendingPathComponent("scripts/syslog-receiver.py").path
        process.arguments =
            ["python3", script, String(port), out] + (tls.map { ["--cert", $0.cert, "--key", $0.key] } ?? [])
            + (hangUpAfter.map { ["--hang-up-after", String($0)] } ?? [])
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        _ = pipe.fileHandleForReading.availableData  // "ready"
        return process
    }

    @Test func overTCPAndTLSWithTheCAChecked() throws {
        #expect(try caretrail("init", "--db", db).status == 0)
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("report/calls.jsonl").path).status == 0)
        let folder = session.folder.path
        let pki = try TestPKI(in: session.folder)

        let tcpPort = freePort(in: 30_000...30_999)
        let tcpOut = "\(folder)/tcp.log"
        let tcp = try collector(port: tcpPort, out: tcpOut)
        defer { kill(tcp.processIdentifier, SIGKILL) }
        #expect(try caretrail("stream", "--db", db, "--to", "syslog+tcp://127.0.0.1:\(tcpPort)", "--once").status == 0)

        let tlsPort = freePort(in: 31_000...31_999)
        let tlsOut = "\(folder)/tls.log"
        let tls = try collector(port: tlsPort, out: tlsOut, tls: (pki.serverCertificate, pki.serverKey))
        defer { kill(tls.processIdentifier, SIGKILL) }
        // The wrong CA: refused, nothing marked delivered.
        let refused = try caretrail("stream", "--db", db, "--to", "syslog+tls://127.0.0.1:\(tlsPort)", "--ca", pki.otherCA, "--once")
        #expect(refused.status == 3)
        #expect(try caretrail("stream", "--db", db, "--to", "syslog+tls://127.0.0.1:\(tlsPort)", "--ca", pki.ca, "--once").status == 0)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try seqs(tcpOut) == Array(1...11) + [11])
        #expect(try seqs(tlsOut) == Array(1...11) + [11])
        let first = try String(contentsOfFile: tlsOut, encoding: .utf8).split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("<86>1 "))
        #expect(first.contains(#""resourceType":"AuditEvent""#))
    }

    /// A collector stopped with part of a session unread in its kernel (rsyslog sends its TLS
    /// close_notify and closes, the kernel resets): the session is not confirmed, and the next
    /// run sends it again from the start.
    @Test(arguments: [false, true])
    func aCollectorThatHangsUpWithBytesUnreadConfirmsNothing(tls: Bool) throws {
        #expect(try caretrail("init", "--db", db).status == 0)
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("report/calls.jsonl").path).status == 0)
        #expect(try caretrail("ingest", "--db", db, try sampleWorkload(lines: 100, in: session.folder)).status == 0)
        let pki = try TestPKI(in: session.folder)
        let port = freePort(in: 32_000...32_700)
        let out = "\(session.folder.path)/hung-up.log"
        let receiver = try collector(port: port, out: out, tls: tls ? (pki.serverCertificate, pki.serverKey) : nil, hangUpAfter: 20_000)
        defer { kill(receiver.processIdentifier, SIGKILL) }
        var arguments = [
            "stream", "--db", db, "--to", "syslog+\(tls ? "tls" : "tcp")://127.0.0.1:\(port)", "--format", "rfc5424-json",
            "--confirm-every", "50", "--once",
        ]
        if tls { arguments += ["--ca", pki.ca] }
        let hungUp = try CLI.run(arguments, in: session.folder)
        #expect(hungUp.status == 3, "\(hungUp.stderr)")
        #expect(hungUp.stderr.contains("the cursor stays"))
        let partial = try seqs(out)
        #expect(!partial.isEmpty && partial.count < 50, "the receiver kept \(partial.count) messages of the first session")
        // Nothing was confirmed, so the next run starts again at 1.
        #expect(try CLI.run(arguments, in: session.folder).status == 0)
        let head = 111
        #expect(try seqs(out) == partial + Array(1...head) + [head])
    }

    /// CEF checked by an independent parser: pycef (PyPI), through `scripts/cef-check.py`,
    /// which compares every extension field with the same entries' JSON lines.
    @Test func cefParsesWithPycefWithEveryFieldIntact() throws {
        #expect(try caretrail("init", "--db", db).status == 0)
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("report/calls.jsonl").path).status == 0)
        // Equals signs, backslashes, pipes and line breaks in the values.
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("siem/awkward-characters.jsonl").path).status == 0)
        let cef = session.folder.appendingPathComponent("out.cef").path
        let jsonl = session.folder.appendingPathComponent("out.jsonl").path
        #expect(try caretrail("stream", "--db", db, "--to", "file:\(cef)", "--format", "cef", "--once").status == 0)
        #expect(try caretrail("stream", "--db", db, "--to", "file:\(jsonl)", "--format", "jsonl", "--once").status == 0)
        #expect(try String(contentsOfFile: cef, encoding: .utf8).contains(#"suser=dr\=house\\ward 7"#))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = FixturePath.root.deletingLastPathComponent().appendingPathComponent("scripts/cef-check.py").path
        process.arguments = ["python3", script, cef, jsonl]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("13 entries intact"))
    }
}
