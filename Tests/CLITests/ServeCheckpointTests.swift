import AuditChain
import AuditTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("caretrail serve publishes signed checkpoints")
struct ServeCheckpointTests {
    let session = CLISession()

    /// The body and status of a GET without credentials.
    func get(_ url: URL) -> (status: Int?, body: String) {
        let result = Mutex<(Int?, String)>((nil, ""))
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: url) { data, response, _ in
            result.withLock { $0 = ((response as? HTTPURLResponse)?.statusCode, data.map { String(decoding: $0, as: UTF8.self) } ?? "") }
            done.signal()
        }.resume()
        done.wait()
        return result.withLock { $0 }
    }

    /// The cosignature's time (the 8 bytes after the key hash of the second signature line).
    func cosignedAt(_ note: String) throws -> UInt64 {
        let parsed = try SignedNote(parsing: Array(note.utf8))
        let bytes = try #require(parsed.signatures.last?.bytes)
        return bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    @Test func anIdleServerRenewsItsCheckpointWithoutGrowingTheLog() throws {
        #expect(try session.caretrail("init", "--db", session.db).status == 0)
        let workload = try sampleWorkload(lines: 30, in: session.folder)
        #expect(try session.caretrail("ingest", "--db", session.db, workload).status == 0)
        let port = freePort(in: 29_000...29_999)
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["serve", "--db", session.db, "--port", String(port), "--checkpoint-interval", "1"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let base = try #require(URL(string: "http://127.0.0.1:\(port)"))
        var first = (status: Int?.none, body: "")
        for _ in 0..<100 where first.status != 200 {
            Thread.sleep(forTimeInterval: 0.05)
            first = get(base.appendingPathComponent("v1/checkpoint"))
        }
        #expect(first.status == 200)
        #expect(first.body.split(separator: "\n")[1] == "30")
        let key = get(base.appendingPathComponent("v1/checkpoint/key"))
        #expect(key.status == 200)
        let verifierKey = try NoteVerifierKey(parsing: key.body)
        try SignedNote(parsing: Array(first.body.utf8)).verify(with: verifierKey)

        Thread.sleep(forTimeInterval: 2.5)
        let later = get(base.appendingPathComponent("v1/checkpoint"))
        // The log grew by the first checkpoint's entry only; later ones cover it and renew their time.
        #expect(later.body.split(separator: "\n")[1] == "31")
        try SignedNote(parsing: Array(later.body.utf8)).verify(with: verifierKey)
        #expect(try cosignedAt(later.body) > cosignedAt(first.body))
        Thread.sleep(forTimeInterval: 1.2)
        #expect(get(base.appendingPathComponent("v1/checkpoint")).body.split(separator: "\n")[1] == "31")
    }
}
