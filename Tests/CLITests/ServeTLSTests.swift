import AuditCore
import AuditTestSupport
import Foundation
import Testing

@Suite("caretrail serve over TLS")
struct ServeTLSTests {
    let session = CLISession()

    @Test func httpsWithTheGivenCertificateAndNoPlainHTTP() throws {
        #expect(try session.caretrail("init", "--db", session.db).status == 0)
        let cert = session.folder.appendingPathComponent("cert.pem").path
        let key = session.folder.appendingPathComponent("key.pem").path
        let made = try runProgram([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        #expect(made.status == 0)
        let port = freePort(in: 29_000...29_999)
        // Port and TLS from a configuration file.
        let config = session.folder.appendingPathComponent("serve.json").path
        try #"{"host": "127.0.0.1", "port": \#(port), "tls": {"cert": "\#(cert)", "key": "\#(key)"}}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let server = Process()
        server.executableURL = CLI.binary
        server.arguments = ["serve", "--db", session.db, "--config", config]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        var answer = ""
        for _ in 0..<100 {
            let result = try runProgram(["curl", "-s", "--cacert", cert, "https://127.0.0.1:\(port)/health"])
            if result.status == 0 {
                answer = result.output
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(try JSONParser.parse(answer)["ready"] == true)
        // Plain HTTP on the TLS port gets no answer; TLS 1.1 is refused.
        #expect(try runProgram(["curl", "-s", "--max-time", "2", "http://127.0.0.1:\(port)/health"]).output.isEmpty)
        #expect(try runProgram(["curl", "-s", "--cacert", cert, "--tls-max", "1.1", "https://127.0.0.1:\(port)/health"]).status != 0)
        #expect(try session.caretrail("serve", "--db", session.db, "--tls-cert", cert).status == 64)
        let typo = session.folder.appendingPathComponent("typo.json").path
        try #"{"hots": "0.0.0.0"}"#.write(toFile: typo, atomically: true, encoding: .utf8)
        let refused = try session.caretrail("serve", "--db", session.db, "--config", typo)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("hots: unknown key"))
    }
}
