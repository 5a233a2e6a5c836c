import AuditChain
import AuditCore
import AuditTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("caretrail serve, killed mid-stream")
struct ServeCrashTests {
    let session = CLISession()

    /// Starts `caretrail serve` on a free port; returns the process and its base URL once healthy.
    func startServer() throws -> (Process, URL) {
        for _ in 0..<5 {
            let port = freePort(in: 27_000...28_999)
            let process = Process()
            process.executableURL = CLI.binary
            process.arguments = ["serve", "--db", session.db, "--port", String(port)]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let base = URL(string: "http://127.0.0.1:\(port)")!
            for _ in 0..<100 {
                if status(base.appendingPathComponent("health")) == 200 {
                    return (process, base)
                }
                if !process.isRunning { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            process.terminate()
        }
        throw CocoaError(.fileReadUnknown)
    }

    /// The status of a GET, or `nil` when nothing answered.
    func status(_ url: URL) -> Int? {
        let result = Mutex<Int?>(nil)
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: url) { _, response, _ in
            result.withLock { $0 = (response as? HTTPURLResponse)?.statusCode }
            done.signal()
        }.resume()
        done.wait()
        return result.withLock { $0 }
    }

    @Test func killingTheServerLosesNothingAcknowledged() async throws {
        #expect(try session.caretrail("init", "--db", session.db).status == 0)
        let created = try session.json(
            try session.caretrail("keys", "create", "--db", session.db, "--role", "agent", "--tenant", "hospital-1", "--format", "json"))
        let secret = try #require(created["secret"]?.stringValue)
        let (server, base) = try startServer()
        let acknowledged = Acknowledged()
        let lines = try String(contentsOfFile: try sampleWorkload(lines: 400, in: session.folder), encoding: .utf8)
            .split(separator: "\n").map {
                $0.replacingOccurrences(of: #""tenant_id":"hospital-\d""#, with: #""tenant_id":"hospital-1""#, options: .regularExpression)
            }
        // Eight clients post one call each, over and over; the server is killed while they do.
        let killer = Task.detached {
            try await Task.sleep(for: .milliseconds(700))
            kill(server.processIdentifier, SIGKILL)
        }
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<8 {
                group.addTask {
                    var index = client
                    while index < lines.count {
                        var request = URLRequest(url: base.appendingPathComponent("v1/tool-calls"))
                        request.httpMethod = "POST"
                        request.timeoutInterval = 3
                        request.setValue("Bearer \(secret)", forHTTPHeaderField: "Authorization")
                        request.httpBody = Data(lines[index].utf8)
                        guard let (data, response) = try? await URLSession.shared.data(for: request) else { return }
                        guard (response as? HTTPURLResponse)?.statusCode == 201,
                            let body = try? JSONParser.parse(String(decoding: data, as: UTF8.self)),
                            let entry = body["entries"]?.arrayValue?.first, let seq = entry["seq"]?.numberValue,
                            let hash = entry["hash"]?.stringValue.flatMap(ChainHash.init(hex:))
                        else { return }
                        acknowledged.heads.withLock { $0.append(ChainHead(seq: Int64(seq), hash: hash)) }
                        index += 8
                    }
                }
            }
        }
        _ = try await killer.value
        server.waitUntilExit()
        #expect(server.terminationReason == .uncaughtSignal)
        let heads = acknowledged.heads.withLock { $0 }
        #expect(heads.count > 5, "the clients should have been acknowledged before the kill")
        // Every acknowledged entry is there with the hash it was acknowledged with, and the chain verifies.
        let verify = try session.caretrail("verify", "--db", session.db)
        #expect(verify.status == 0, "\(verify.stdout)")
        for head in heads {
            let entry = try session.json(try session.caretrail("show", "--db", session.db, "--seq", String(head.seq)))
            #expect(entry["entry_hash"]?.stringValue == head.hash.hex, "seq \(head.seq)")
        }
        // And the log takes appends again.
        let (restarted, _) = try startServer()
        restarted.terminate()
        restarted.waitUntilExit()
    }
}

/// What the server acknowledged, from several client tasks.
final class Acknowledged: Sendable {
    let heads = Mutex<[ChainHead]>([])
}
