import AuditCore
import AuditTestSupport
import Foundation
import Testing

/// The console in a real headless browser (Debian's chromium through selenium, see
/// `scripts/console-browser.py`), served by `caretrail serve` on a real log: an officer signs
/// in and reviews the alert a burst of ten accesses raised; the review is in the chain; the
/// report's CSV download is the command line's; the attacks fail; the Nu HTML checker and axe
/// judge every page. Screenshots of every page are kept in `.build/console-screenshots`.
@Suite("Console in a browser", .serialized)
struct ConsoleBrowserTests {
    let session = CLISession()

    static var repository: URL { FixturePath.root.deletingLastPathComponent() }

    func caretrail(_ arguments: [String]) throws -> CLI.Output {
        try CLI.run(arguments + ["--db", session.db], in: session.folder)
    }

    func secret(role: String, tenant: String) throws -> String {
        let output = try caretrail([
            "keys", "create", "--role", role, "--tenant", tenant, "--name", "\(role)-\(tenant)", "--format", "json",
        ])
        return try #require(try session.json(output)["secret"]?.stringValue)
    }

    @Test func anOfficerReviewsABurstAlertInTheBrowserAndTheAttacksFail() throws {
        #expect(try session.caretrail("init", "--db", session.db).status == 0)
        // Ten accesses to one patient by a user whose id and tool name hold markup, and a
        // break-the-glass access whose reason holds a script and a javascript: link.
        var calls = (0..<10).map { index in
            #"{"tenant_id":"hospital-1","conversation_id":"c-1","trace_id":"t-burst","user_id":"usr-7\"><img src=x onerror=alert(1)>","model":"m","tool_name":"<script>alert(\#(index))</script>","purpose_of_use":"TREAT","patient_id":"PAT-4242"}"#
        }
        calls.append(
            #"{"tenant_id":"hospital-1","conversation_id":"c-2","user_id":"usr-8","model":"m","tool_name":"get_patient_record","purpose_of_use":"ETREAT","patient_id":"PAT-4242","break_glass":{"reason":"<script>alert('btg')</script> javascript:alert(1)"}}"#
        )
        let workload = session.folder.appendingPathComponent("calls.jsonl")
        try calls.joined(separator: "\n").write(to: workload, atomically: true, encoding: .utf8)
        #expect(try caretrail(["ingest", workload.path]).status == 0)
        let officer = try secret(role: "privacy_officer", tenant: "hospital-1")
        let agent = try secret(role: "agent", tenant: "hospital-1")
        let other = try secret(role: "privacy_officer", tenant: "hospital-2")

        let port = freePort(in: 30_000...30_999)
        let server = Process()
        server.executableURL = CLI.binary
        server.arguments = ["serve", "--db", session.db, "--port", String(port), "--console-idle-timeout", "30"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        // Ready once /health answers.
        for _ in 0..<200 {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            probe.arguments = ["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:\(port)/health"]
            try probe.run()
            probe.waitUntilExit()
            if probe.terminationStatus == 0 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }

        let screenshots = Self.repository.appendingPathComponent(".build/console-screenshots")
        try? FileManager.default.removeItem(at: screenshots)
        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        browser.arguments = [
            "python3", Self.repository.appendingPathComponent("scripts/console-browser.py").path, "http://127.0.0.1:\(port)",
            screenshots.path, officer, agent, other, "PAT-4242", "30",
        ]
        let output = Pipe()
        browser.standardOutput = output
        browser.standardError = output
        try browser.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        browser.waitUntilExit()
        #expect(browser.terminationStatus == 0, "\(printed)")

        // The review is in the chain, and the command line sees the alert reviewed.
        #expect(try caretrail(["verify"]).status == 0)
        let alerts = try session.json(try caretrail(["alerts", "--format", "json"]))
        let burst = alerts.arrayValue?.first { $0["kind"]?.stringValue == "patient_access_burst" }
        #expect(burst?["state"]?.stringValue == "reviewed", "\(String(describing: burst))")
        // The download is the command line's report, byte for byte.
        let csv = try caretrail(["report", "patient", "PAT-4242", "--format", "csv"])
        let downloaded = try String(contentsOf: screenshots.appendingPathComponent("report.csv"), encoding: .utf8)
        #expect(downloaded == csv.stdout)
    }
}
