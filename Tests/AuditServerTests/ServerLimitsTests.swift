import AuditChain
import AuditCore
import AuditSQLite
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import AuditServer

@Suite("Server limits and errors")
struct ServerLimitsTests {
    /// Every error is problem details, an unknown route included; a body over the limit is a
    /// 413 answer, not a reset connection.
    @Test func errorsAreProblemDetailsAndAnOversizedBodyIs413() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            try await client.execute(uri: "/nowhere", method: .get, headers: fixture.headers("admin")) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try json(response)
                #expect(problem["status"] == 404)
            }
            let big = ByteBuffer(repeating: UInt8(ascii: "x"), count: 70_000)
            try await client.execute(
                uri: "/v1/alerts/alert-1/review", method: .post, headers: fixture.headers("privacy_officer"), body: big
            ) { response in
                #expect(response.status == .contentTooLarge || response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            try await client.execute(uri: "/fhir/AuditEvent?_after=9223372036854775807", method: .get, headers: fixture.headers("admin")) {
                response in
                #expect(response.status == .badRequest)
                let problem = try json(response)
                #expect(problem["detail"]?.stringValue?.contains("_after") == true)
            }
            try await client.execute(
                uri: "/fhir/AuditEvent?_count=1&_at=99999999999999999999", method: .get, headers: fixture.headers("admin")
            ) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/v1/export/fhir?from=0000-01-01", method: .get, headers: fixture.headers("admin")) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    /// The 64 MiB limit of a batch, over a real socket: the client reads a 413.
    @Test func aBatchOverTheLimitIsAnswered413OverTheWire() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.live) { client in
            let body = ByteBuffer(repeating: UInt8(ascii: " "), count: IngestLimits.maximumBatchBytes + 1)
            try await client.execute(uri: "/v1/tool-calls", method: .post, headers: fixture.headers("agent"), body: body) { response in
                #expect(response.status == .contentTooLarge)
            }
        }
    }

    /// `/health` does not wait for SQLite's write lock: while another process holds it, health
    /// answers at once. An append that cannot get the lock is a 503 with `Retry-After`, and
    /// `/health` then says not ready, also with `Retry-After`, until an append succeeds again.
    @Test func healthNeverWaitsForTheWriteLockAndReportsFailedAppends() async throws {
        let fixture = try ServerFixture()
        let log = try AuditLog.open(database: fixture.database, busyTimeout: 0.3)
        let app = Application(router: CareTrailServer.router(log: log))
        let other = try WriteLockHolder(database: fixture.database)
        try await app.test(.router) { client in
            try other.lock()
            // Ready: it did not try the lock (an attempt would fail after the busy timeout).
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
            try await client.execute(
                uri: "/v1/tool-calls", method: .post, headers: fixture.headers("agent"), body: ByteBuffer(string: ServerFixture.call())
            ) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] != nil)
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] != nil)
            }
            other.release()
            try await client.execute(
                uri: "/v1/tool-calls", method: .post, headers: fixture.headers("agent"), body: ByteBuffer(string: ServerFixture.call())
            ) { response in
                #expect(response.status == .created)
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    /// Heavy requests beyond their limit are answered 429 with `Retry-After`, and a slot is
    /// free again once released.
    @Test func heavyRequestsBeyondTheirLimitAre429() throws {
        let limit = ConcurrencyLimit(maximum: 2, code: "too_many_exports", what: "exports are")
        try limit.acquire()
        try limit.acquire()
        do {
            try limit.acquire()
            Issue.record("a third export was let in")
        } catch let error as APIError {
            #expect(error.status == .tooManyRequests)
            #expect(error.retryAfter != nil)
        }
        #expect(limit.inUse == 2)
        limit.release()
        try limit.acquire()
        #expect(limit.inUse == 2)
    }

    /// Every pair of search parameters filters exactly as a brute-force filter over the same
    /// log does; `agent` is honoured beside `patient`.
    @Test func everyPairOfSearchParametersMatchesABruteForceFilter() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        let values: [(String, String)] = [
            ("patient", "PAT-100"), ("agent", "usr-2"), ("type", "rest"), ("subtype", "read"), ("outcome", "0"),
            ("purpose", "TREAT"), ("date", "ge2026-01-10"),
        ]
        // Every AuditEvent id with its attributes, read one page at a time without filters.
        try await app.test(.router) { client in
            let page = try await client.execute(uri: "/fhir/AuditEvent?_count=1000", method: .get, headers: fixture.headers("admin"))
            var all: [String: JSONValue] = [:]
            for entry in try json(page)["entry"]?.arrayValue ?? [] {
                if let resource = entry["resource"], let id = resource["id"]?.stringValue { all[id] = resource }
            }
            #expect(all.count > 5)
            for (i, first) in values.enumerated() {
                for second in values[(i + 1)...] {
                    let query = "\(first.0)=\(first.1)&\(second.0)=\(second.1)"
                    let expected = Set(all.filter { Self.matches($0.value, first) && Self.matches($0.value, second) }.keys)
                    let response = try await client.execute(
                        uri: "/fhir/AuditEvent?_count=1000&\(query)", method: .get, headers: fixture.headers("admin"))
                    #expect(response.status == .ok)
                    let entries = try json(response)["entry"]?.arrayValue ?? []
                    let found = Set(entries.compactMap { $0["resource"]?["id"]?.stringValue })
                    #expect(found == expected, "\(query)")
                }
            }
        }
    }

    /// The brute-force filter: one search parameter against one R4 AuditEvent.
    static func matches(_ event: JSONValue, _ parameter: (String, String)) -> Bool {
        func codes(_ value: JSONValue?) -> [String] {
            switch value {
            case .array(let items)?: items.flatMap { codes($0) }
            case .object(let members)?: (members["code"]?.stringValue.map { [$0] } ?? []) + codes(members["coding"])
            default: []
            }
        }
        let (name, value) = parameter
        switch name {
        case "patient":
            return (event["entity"]?.arrayValue ?? []).contains { $0["what"]?["reference"]?.stringValue == "Patient/\(value)" }
        case "agent":
            return (event["agent"]?.arrayValue ?? []).contains { $0["who"]?["identifier"]?["value"]?.stringValue == value }
        case "type": return codes(event["type"]).contains(value)
        case "subtype": return codes(event["subtype"]).contains(value)
        case "outcome": return event["outcome"]?.stringValue == value
        case "purpose": return codes(event["purposeOfEvent"]).contains(value)
        case "date":
            let time = event["period"]?["start"]?.stringValue ?? event["recorded"]?.stringValue ?? ""
            return time >= "2026-01-10"
        default: return false
        }
    }
}

/// Another process that holds SQLite's write lock on a database (Python's sqlite3, `BEGIN
/// IMMEDIATE`) until it is released.
final class WriteLockHolder: @unchecked Sendable {
    let process = Process()
    let input = Pipe()
    let output = Pipe()

    init(database: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
            sys.stdin.readline()
            c.execute('BEGIN IMMEDIATE')
            print('locked', flush=True)
            sys.stdin.readline()
            c.execute('ROLLBACK')
            """
        process.arguments = ["python3", "-c", script, database]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    /// Takes the lock; returns once it is held.
    func lock() throws {
        input.fileHandleForWriting.write(Data("lock\n".utf8))
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        #expect(String(decoding: line, as: UTF8.self).hasPrefix("locked"))
    }

    func release() {
        input.fileHandleForWriting.write(Data("release\n".utf8))
        process.waitUntilExit()
    }
}

@Suite("Exports that fail")
struct ExportFailureTests {
    /// An export that fails after its 200 was sent aborts the connection: the client never
    /// holds a truncated export that looks whole.
    @Test func aFailureMidStreamAbortsTheConnection() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        // Break a table a patient's export reads (an attacker or a failing disk).
        let breaker = Process()
        breaker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        breaker.arguments = [
            "python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('DROP TABLE meta'); c.commit()",
            fixture.database,
        ]
        try breaker.run()
        breaker.waitUntilExit()
        #expect(breaker.terminationStatus == 0)
        try await app.test(.live) { client in
            do {
                let response = try await client.execute(
                    uri: "/v1/export/fhir?format=json&patient=PAT-100", method: .get, headers: fixture.headers("admin")
                )
                Issue.record("a failed export ended as a complete \(response.status.code) answer of \(response.body.readableBytes) bytes")
            } catch {
                // The connection was aborted: what must happen.
            }
        }
    }
}

@Suite("Slow clients")
struct SlowClientTests {
    /// A client that sends part of a body and stalls gets 408 once the body timeout passes,
    /// instead of holding the request open.
    @Test func aBodyThatStallsIsAnswered408() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log, bodyTimeoutSeconds: 1))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let secret = try #require(fixture.secrets["agent"])
            let script = """
                import socket, sys, time
                s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=120)
                s.sendall(b"POST /v1/tool-calls HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer " + sys.argv[2].encode()
                          + b"\\r\\nContent-Length: 100\\r\\n\\r\\n{\\"tenant_id\\"")
                start = time.time()
                data = s.recv(4096)
                print(data.split(b"\\r\\n")[0].decode(), round(time.time() - start))
                """
            // Waited for on a thread of its own: the server answering it runs in this process, on
            // the same few threads as the tests.
            let result = try await withCheckedThrowingContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(with: Result { try runProgram(["python3", "-c", script, String(port), secret]) })
                }
            }
            #expect(result.output.hasPrefix("HTTP/1.1 408"), "\(result.output)")
        }
    }
}
