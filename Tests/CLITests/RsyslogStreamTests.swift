import AuditCore
import AuditTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `caretrail stream` against a real rsyslog collector (rsyslog and rsyslog-gnutls from Debian).
@Suite("caretrail stream to rsyslog", .enabled(if: Rsyslog.executable != nil, "rsyslogd is not installed"))
struct RsyslogStreamTests {
    let session = CLISession()
    var db: String { session.db }

    func caretrail(_ arguments: String...) throws -> CLI.Output { try CLI.run(arguments, in: session.folder) }

    /// A log of the report fixture plus `lines` calls of the sample workload; returns the head's seq.
    func makeLog(lines: Int) throws -> Int {
        #expect(try caretrail("init", "--db", db).status == 0)
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("report/calls.jsonl").path).status == 0)
        if lines > 0 {
            #expect(try caretrail("ingest", "--db", db, try sampleWorkload(lines: lines, in: session.folder)).status == 0)
        }
        return try headSeq()
    }

    func headSeq() throws -> Int {
        let head = try session.json(try caretrail("head", "--db", db))
        return Int(try #require(head["seq"]?.numberValue))
    }

    func cursor(_ destination: String) throws -> Int {
        let queue = try DatabaseQueue(path: db)
        return try queue.read {
            try Int.fetchOne($0, sql: "SELECT seq FROM stream_cursor WHERE destination = ?", arguments: [destination]) ?? 0
        }
    }

    /// `caretrail stream` left running (follow mode), its standard error in a file.
    func startStream(_ arguments: [String]) throws -> Process {
        let process = unblockedProcess(CLI.binary.path)
        process.arguments! += ["stream", "--db", db] + arguments
        process.currentDirectoryURL = session.folder
        let errors = session.folder.appendingPathComponent("stream-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        return process
    }

    /// What the streams started here wrote to standard error.
    func streamErrors() throws -> String {
        try FileManager.default.contentsOfDirectory(atPath: session.folder.path).filter { $0.hasPrefix("stream-") }
            .map { try String(contentsOfFile: session.folder.appendingPathComponent($0).path, encoding: .utf8) }.joined()
    }

    /// Entries only (checkpoints carry the head's seq and are told apart by their MSGID).
    static func entrySeqs(_ collector: Rsyslog) -> [Int] { collector.entrySequenceNumbers }

    /// Checks at-least-once delivery of 1...head: everything arrived, and what came again
    /// came in at most `resends` runs, each of at most `step` entries starting right after a
    /// cursor position (a multiple of `step` counted from `cursor`, the cursor the stream
    /// started from), the order increasing but where a run starts.
    static func expectEverythingOnce(orResentAfterACursor seqs: [Int], head: Int, step: Int, resends: Int = 1, cursor: Int = 0) {
        let missing = Set(1...head).subtracting(seqs)
        #expect(missing.isEmpty, "\(missing.count) entries missing, the first \(missing.min() ?? 0)")
        var runs: [[Int]] = [[]]
        for seq in seqs {
            if let last = runs[runs.count - 1].last, seq <= last { runs.append([]) }
            runs[runs.count - 1].append(seq)
        }
        #expect(runs.count <= resends + 1, "\(runs.count - 1) resends")
        for (previous, run) in zip(runs, runs.dropFirst()) {
            let first = run.first ?? 0
            let resent = (previous.last ?? 0) - first + 1
            #expect(resent <= step, "\(resent) entries sent again")
            #expect(first > cursor && (first - 1 - cursor) % step == 0, "a resend starts right after a cursor position, not at \(first)")
        }
    }

    @Test func everythingArrivesInOrderOverTCPAndOverMutualTLS() throws {
        let head = try makeLog(lines: 300)
        let pki = try TestPKI(in: session.folder)

        let tcp = try Rsyslog(folder: session.folder, port: freePort())
        defer { tcp.stop() }
        #expect(
            try caretrail("stream", "--db", db, "--to", "syslog+tcp://127.0.0.1:\(tcp.port)", "--format", "rfc5424-json", "--once").status
                == 0)
        #expect(tcp.wait { $0.count == head + 1 })
        #expect(tcp.sequenceNumbers == Array(1...head) + [head])

        let tls = try Rsyslog(
            folder: session.folder, port: freePort(),
            tls: .init(
                certificate: pki.serverCertificate, key: pki.serverKey, ca: pki.ca, requireClientCertificate: true))
        defer { tls.stop() }
        let to = "syslog+tls://127.0.0.1:\(tls.port)"
        // A collector certificate the given CA did not sign: refused, nothing marked delivered.
        let wrongCA = try caretrail(
            "stream", "--db", db, "--to", to, "--ca", pki.otherCA, "--cert", pki.clientCertificate, "--key", pki.clientKey, "--once")
        #expect(wrongCA.status == 3)
        // No client certificate, which this collector requires: not confirmed, nothing marked delivered.
        let noClientCertificate = try caretrail("stream", "--db", db, "--to", to, "--ca", pki.ca, "--once")
        #expect(noClientCertificate.status == 3)
        #expect(try cursor(to) == 0)
        let delivered = try caretrail(
            "stream", "--db", db, "--to", to, "--ca", pki.ca, "--cert", pki.clientCertificate, "--key", pki.clientKey, "--once")
        #expect(delivered.status == 0, "\(delivered.stderr)")
        #expect(try cursor(to) == head)
        #expect(tls.wait { $0.count == head + 1 })
        #expect(tls.sequenceNumbers == Array(1...head) + [head])
        let first = try #require(tls.received.first)
        #expect(first.hasPrefix("<86>1 "))
        #expect(first.contains("[caretrail@32473 seq=\"1\" hash=\""))
    }

    @Test func aCollectorStoppedMidStreamAndRestartedGetsEveryEntry() throws {
        // Twice the sample workload, so the stream is still busy when the collector goes away.
        _ = try makeLog(lines: 5167)
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("workload/sample.jsonl").path).status == 0)
        let pki = try TestPKI(in: session.folder)
        let collector = try Rsyslog(
            folder: session.folder, port: freePort(), tls: .init(certificate: pki.serverCertificate, key: pki.serverKey, ca: pki.ca))
        defer { collector.stop() }
        let to = "syslog+tls://127.0.0.1:\(collector.port)"
        let stream = try startStream(["--to", to, "--ca", pki.ca, "--format", "rfc5424-json", "--confirm-every", "250"])
        defer { if stream.isRunning { kill(stream.processIdentifier, SIGKILL) } }
        // Stopped by its administrator mid-stream, then restarted.
        #expect(collector.wait { $0.count >= 1000 }, "before the stop: \(Self.entrySeqs(collector).count) entries at the collector")
        collector.stop()
        // Appended while the collector is away, so that it misses something whatever the speed.
        #expect(try caretrail("ingest", "--db", db, try sampleWorkload(lines: 300, in: session.folder)).status == 0)
        let head = try headSeq()
        Thread.sleep(forTimeInterval: 1)
        try collector.start()
        // The stream retries with a backoff of up to 45 s; under a loaded machine the first retry
        // after the restart may come that late.
        #expect(
            collector.wait(seconds: 120) { _ in Set(Self.entrySeqs(collector)).count == head },
            "after the restart: \(Set(Self.entrySeqs(collector)).count) of \(head) entries at the collector, stream \(stream.isRunning ? "running" : "exited"), its errors: \((try? streamErrors().suffix(2_000)) ?? "")"
        )
        Thread.sleep(forTimeInterval: 0.5)
        stream.terminate()
        stream.waitUntilExit()
        let errors = try streamErrors()
        #expect(stream.terminationStatus == 0, "\(errors)")
        #expect(try cursor(to) == head)
        Self.expectEverythingOnce(orResentAfterACursor: Self.entrySeqs(collector), head: head, step: 250)
    }

    @Test func aRestartedStreamResumesFromTheCursor() throws {
        let delivered = try makeLog(lines: 5167)
        let collector = try Rsyslog(folder: session.folder, port: freePort())
        defer { collector.stop() }
        let to = "syslog+tcp://127.0.0.1:\(collector.port)"
        let stream = try startStream(["--to", to, "--format", "rfc5424-json", "--confirm-every", "250"])
        defer { if stream.isRunning { kill(stream.processIdentifier, SIGKILL) } }
        // Everything so far is confirmed.
        #expect(waitFor { (try? cursor(to)) == delivered })
        // The collector freezes (SIGSTOP): the next session goes out but cannot be confirmed,
        // and the stream is killed while it waits, whatever the machine's speed.
        collector.pause()
        #expect(try caretrail("ingest", "--db", db, try sampleWorkload(lines: 600, in: session.folder)).status == 0)
        let head = try headSeq()
        Thread.sleep(forTimeInterval: 1)
        kill(stream.processIdentifier, SIGKILL)
        stream.waitUntilExit()
        collector.resume()
        #expect(try cursor(to) == delivered, "nothing sent while the collector was frozen is confirmed")
        // A restart resumes after the cursor; what the frozen collector read at last comes twice.
        #expect(try caretrail("stream", "--db", db, "--to", to, "--format", "rfc5424-json", "--confirm-every", "250", "--once").status == 0)
        #expect(collector.wait { Set($0).count == head && $0.last == head })
        Self.expectEverythingOnce(orResentAfterACursor: Self.entrySeqs(collector), head: head, step: 250, cursor: delivered)
    }

    /// Waits until `condition` holds, up to `seconds`.
    func waitFor(seconds: Double = 30, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }

    @Test func followingDeliversNewEntriesWithinASecondAndCheckpointsWhileIdle() throws {
        let head = try makeLog(lines: 0)
        let collector = try Rsyslog(folder: session.folder, port: freePort())
        defer { collector.stop() }
        let to = "syslog+tcp://127.0.0.1:\(collector.port)"
        let stream = try startStream(["--to", to, "--format", "rfc5424-fhir", "--checkpoint-interval", "1"])
        defer { if stream.isRunning { kill(stream.processIdentifier, SIGKILL) } }
        #expect(collector.wait { $0.contains(head) })
        #expect(try caretrail("ingest", "--db", db, try sampleWorkload(lines: 5, in: session.folder)).status == 0)
        let appended = Date()
        let newHead = try headSeq()
        #expect(collector.wait(seconds: 5) { $0.contains(newHead) })
        #expect(Date().timeIntervalSince(appended) < 1.5)
        // Idle: a checkpoint each second, with the head, which `verify --expect-head` accepts.
        Thread.sleep(forTimeInterval: 2.5)
        let checkpoints = collector.received.filter { $0.contains(" CHECKPOINT ") }
        #expect(checkpoints.count >= 3)
        let last = try #require(checkpoints.last)
        let hash = try #require(last.range(of: #"hash=""#).map { String(last[$0.upperBound...].prefix(64)) })
        #expect(try caretrail("verify", "--db", db, "--expect-head", "\(newHead):\(hash)").status == 0)
        // SIGTERM: a clean stop with the cursor at the head.
        let stopping = Date()
        stream.terminate()
        stream.waitUntilExit()
        #expect(stream.terminationStatus == 0)
        #expect(Date().timeIntervalSince(stopping) < 3)
        #expect(try cursor(to) == newHead)
        #expect(Self.entrySeqs(collector) == Array(1...newHead))
    }

    @Test func aBacklogOf100000EntriesIsDeliveredWithFlatMemory() throws {
        // 20 copies of the sample workload: 103,340 calls.
        #expect(try caretrail("init", "--db", db).status == 0)
        let sample = try String(contentsOf: FixturePath.url("workload/sample.jsonl"), encoding: .utf8)
        let input = session.folder.appendingPathComponent("backlog.jsonl").path
        try String(repeating: sample.hasSuffix("\n") ? sample : sample + "\n", count: 20).write(
            toFile: input, atomically: true, encoding: .utf8)
        #expect(try caretrail("ingest", "--db", db, input).status == 0)
        let head = try headSeq()
        #expect(head >= 100_000)
        let collector = try Rsyslog(folder: session.folder, port: freePort())
        defer { collector.stop() }
        let to = "syslog+tcp://127.0.0.1:\(collector.port)"
        // Peak memory for the last 5,000 entries, then for the whole backlog.
        let small = try peakResidentKilobytes([
            "stream", "--db", db, "--to", to, "--format", "rfc5424-json", "--from-seq", String(head - 4999), "--once",
        ])
        let large = try peakResidentKilobytes(["stream", "--db", db, "--to", to, "--format", "rfc5424-json", "--from-seq", "1", "--once"])
        #expect(collector.wait(seconds: 120) { $0.count == 5001 + head + 1 })
        #expect(Array(collector.sequenceNumbers.suffix(head + 1)) == Array(1...head) + [head])
        // Flat: twenty times the entries, about the same memory.
        #expect(large < small + 40_000, "peak RSS \(small) kB for 5,000 entries, \(large) kB for \(head)")
    }

    @Test func serveStreamsToItsConfiguredDestinationsWithTheLagInMetrics() throws {
        let head = try makeLog(lines: 0)
        let collector = try Rsyslog(folder: session.folder, port: freePort())
        let to = "syslog+tcp://127.0.0.1:\(collector.port)"
        let config = session.folder.appendingPathComponent("serve.json")
        try #"{"streams": [{"to": "\#(to)", "format": "rfc5424-json", "checkpoint_interval": 1, "confirm_every": 100}]}"#
            .write(to: config, atomically: true, encoding: .utf8)
        let port = freePort(in: 26_000...26_999)
        let server = unblockedProcess(CLI.binary.path)
        server.arguments! += ["serve", "--db", db, "--port", String(port), "--config", config.path]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        let metrics = URL(string: "http://127.0.0.1:\(port)/metrics")!
        func scrape() -> String {
            let body = Mutex("")
            let done = DispatchSemaphore(value: 0)
            URLSession.shared.dataTask(with: metrics) { data, _, _ in
                body.withLock { $0 = data.map { String(decoding: $0, as: UTF8.self) } ?? "" }
                done.signal()
            }.resume()
            done.wait()
            return body.withLock { $0 }
        }
        func lag(_ text: String) -> Int? {
            let line = text.split(separator: "\n").first { $0.hasPrefix("caretrail_stream_lag_entries{destination=\"\(to)\"}") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) }
        }
        #expect(collector.wait { $0.contains(head) })
        // Entries appended while it runs (here by another process) follow within a second.
        #expect(try caretrail("ingest", "--db", db, try sampleWorkload(lines: 250, in: session.folder)).status == 0)
        let newHead = try headSeq()
        #expect(collector.wait(seconds: 10) { $0.contains(newHead) })
        var text = ""
        for _ in 0..<50 where lag(text) != 0 {
            text = scrape()
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(lag(text) == 0)
        #expect(text.contains("caretrail_stream_cursor_seq{destination=\"\(to)\"} \(newHead)"))
        // The collector goes away: the lag grows with what is appended meanwhile.
        collector.stop()
        #expect(try caretrail("ingest", "--db", db, FixturePath.url("siem/awkward-characters.jsonl").path).status == 0)
        Thread.sleep(forTimeInterval: 0.5)
        text = scrape()
        #expect(lag(text) == 2)
        #expect(text.contains("caretrail_stream_lag_seconds{destination=\"\(to)\"}"))
        try collector.start()
        #expect(collector.wait(seconds: 30) { $0.contains(newHead + 2) })
        // SIGTERM: the server and its streams stop cleanly.
        server.terminate()
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
        #expect(try cursor(to) == newHead + 2)
        Self.expectEverythingOnce(orResentAfterACursor: Self.entrySeqs(collector), head: newHead + 2, step: 100)
    }
}
