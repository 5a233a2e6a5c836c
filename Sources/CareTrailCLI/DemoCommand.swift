import ArgumentParser
import AuditAnalysis
import AuditChain
import AuditCore
import AuditExport
import AuditFHIR
import AuditKeys
import AuditStorage
import CareTrail
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Create a database in a new folder, ingest the sample workload from fixtures/, verify it, and show what was stored."
    )

    @Option(help: "The folder to create (default: a new folder under the system's temporary directory).")
    var dir: String?

    @Option(help: "The JSON-lines workload to ingest (default: fixtures/workload/sample.jsonl).")
    var workload: String?

    func run() throws {
        try runReportingFailures {
            let input = try workload ?? Fixtures.sampleWorkload()
            let folder =
                dir
                ?? FileManager.default.temporaryDirectory
                .appendingPathComponent("caretrail-demo-\(UUID().uuidString.prefix(8).lowercased())").path
            guard (try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)) != nil else {
                throw CLIFailure(exitCode: .ioError, message: "cannot create \(folder)")
            }
            let database = (folder as NSString).appendingPathComponent("audit.sqlite")
            print("CareTrail demo in \(folder)")

            let log = try AuditLog.create(database: database)
            print(
                "1. created \(database) and its key file \(AuditLog.defaultKeyFile(forDatabase: database)) (key \(log.keyRing.currentID), mode 0600)"
            )

            var started = Date()
            let summary = try log.ingest(path: input)
            let ingestSeconds = Date().timeIntervalSince(started)
            print(
                "2. ingested \(input): \(summary.appended) records (tool calls and agent requests) in \(String(format: "%.2f", ingestSeconds)) s, one atomic batch; \(summary.alertsRaised) alerts raised and chained with them"
            )

            started = Date()
            let report: VerificationReport
            report = try log.verify()
            let head = report.head.map(\.description) ?? "none"
            print(
                "3. verified: \(report.isIntact ? "intact" : "BROKEN"), \(report.entriesChecked) hashes recomputed and linked in \(String(format: "%.2f", Date().timeIntervalSince(started))) s"
            )
            print("   head \(head)")

            if let call = try firstEntry(log, where: { $0.content.kind == "tool_call" && $0.content.body.contains("patient_name") }) {
                print("4. a stored tool call (names, birth dates and SSNs are keyed pseudonyms; results summarised):")
                print(indent(JSONOutput.pretty(call.jsonValue)))
            }
            if let request = try firstEntry(log, where: { $0.content.kind == "agent_request" }) {
                print("5. a stored agent request (input and output kept only as keyed hash and scrubbed preview):")
                print(indent(JSONOutput.pretty(request.jsonValue)))
            }
            let token = log.pseudonym(for: "Maria Garcia") ?? ""
            print("6. a privacy officer looks for \"Maria Garcia\": caretrail pseudonym --db \(database) \"Maria Garcia\"")
            print("   -> \(token)")

            let alerts = try log.alerts()
            print("7. alerts (caretrail alerts --db \(database)):")
            for status in alerts.prefix(4) {
                print(
                    "   \(status.alert.id)  \(status.alert.kind.rawValue)  \(status.alert.severity.rawValue)  \(status.state)  entries \(status.alert.entrySeqs.map(String.init).joined(separator: ","))"
                )
            }
            if alerts.count > 4 { print("   … \(alerts.count - 4) more") }
            if let breakGlass = alerts.first(where: { $0.alert.kind == .breakGlass }) {
                let review = try log.review(
                    alertID: breakGlass.alert.id, by: "privacy-officer-1", decision: .justified,
                    note: "Confirmed with the ED attending: patient arrived unconscious."
                )
                let after = try log.alerts().first { $0.alert.seq == breakGlass.alert.seq }
                print(
                    "   a privacy officer reviews \(breakGlass.alert.id): caretrail review \(breakGlass.alert.id) --by privacy-officer-1 --decision justified --note ..."
                )
                print("   -> review chained at seq \(review.seq); the alert's state is now \(after?.state ?? "?")")
            }
            let scan = try log.scanAlerts()
            print(
                "8. caretrail alerts scan: replaying \(scan.entriesScanned) entries raises \(scan.recomputed.count) alerts, \(scan.matches ? "the same as live detection" : "NOT the same as live detection")"
            )

            // The key-spellings workload: one call per identifier spelling of FHIR, HL7 v2 and
            // EHR tool schemas, names in free text, errors and member names, secrets in plural.
            var clearText = try ClearTextScan(jsonLines: input, sanitizer: log.sanitizer)
            if workload == nil, let spellings = try? Fixtures.find("sanitizer/key-spellings.jsonl"),
                let needles = try? String(contentsOfFile: try Fixtures.find("sanitizer/key-spellings.needles"), encoding: .utf8)
            {
                let more = try log.ingest(path: spellings)
                clearText = clearText.merged(with: ClearTextScan(needles: Set(needles.split(separator: "\n").map(String.init))))
                print(
                    "9. ingested \(spellings): \(more.appended) calls spelling identifiers, secrets and free text the ways FHIR, HL7 v2 and EHR tools do"
                )
            }
            var files = [database, database + "-wal"]
            for version in FHIRVersion.allCases {
                for format in [FHIRExporter.Format.ndjson, .xml] {
                    let path = (folder as NSString).appendingPathComponent(
                        "export-\(version.rawValue).\(format == .xml ? "xml" : "ndjson")")
                    var bytes: [UInt8] = []
                    do {
                        _ = try FHIRExporter(version: version, format: format).export(
                            store: log.reader, selection: .init(), bundleID: "demo", timestamp: log.now()
                        ) { chunk in bytes += chunk }
                    } catch {
                        throw CLIFailure(exitCode: .ioError, message: "the FHIR export failed")
                    }
                    try write(bytes, to: path)
                    files.append(path)
                }
            }
            for format in SIEMFormat.allCases {
                let path = (folder as NSString).appendingPathComponent("siem.\(format.rawValue)")
                let renderer = SIEMRenderer(format: format)
                var bytes: [UInt8] = []
                let last = try log.head()?.seq ?? 0
                var low: Int64 = 1
                while low <= last {
                    for entry in (try log.entries(from: low, through: low + 4095, limit: 4096)) {
                        bytes += renderer.render(entry)
                        // Syslog messages carry no line end of their own; in a file, one per line.
                        if format == .rfc5424FHIR || format == .rfc5424JSON { bytes.append(0x0A) }
                    }
                    low += 4096
                }
                try write(bytes, to: path)
                files.append(path)
            }
            let leaks = clearText.leaks(inFiles: files)
            print(
                "10. scanned the database file, its WAL, the FHIR R4 and R5 exports and the four SIEM formats (\(files.count) files) for the \(clearText.needles.count) distinct clear-text names, SSNs, birth dates, phones, e-mails, API keys and tokens of the input: \(leaks.count) found"
            )
            print("")
            print(
                "Try: caretrail verify --db \(database)   |   caretrail alerts --db \(database) --open   |   caretrail show --db \(database) --trace tr-00000000"
            )
            if !report.isIntact || !leaks.isEmpty || !scan.matches { throw ExitCode(CLIExit.integrityFailure.rawValue) }
        }
    }

    private func firstEntry(_ log: AuditLog, where predicate: (StoredEntry) -> Bool) throws -> StoredEntry? {
        try log.entries(from: 1, through: 500, limit: 500)
            .first(where: predicate)
    }

    private func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw CLIFailure(exitCode: .ioError, message: "cannot write \(path)")
        }
    }

    private func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { "   " + $0 }.joined(separator: "\n")
    }
}

/// Finds the project's `fixtures/` folder: in the current directory, under `$CARETRAIL_FIXTURES`,
/// or beside the sources this binary was built from.
enum Fixtures {
    static func sampleWorkload() throws -> String {
        try find("workload/sample.jsonl")
    }

    /// The path of `relative` under `fixtures/`.
    static func find(_ relative: String) throws -> String {
        var candidates = ["fixtures/" + relative]
        if let root = ProcessInfo.processInfo.environment["CARETRAIL_FIXTURES"] {
            candidates.insert((root as NSString).appendingPathComponent(relative), at: 0)
        }
        let source = URL(fileURLWithPath: #filePath)
        candidates.append(
            source.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("fixtures").appendingPathComponent(relative).path
        )
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw CLIFailure(
                exitCode: .ioError, message: "cannot find fixtures/\(relative); run from the project root or pass --workload FILE")
        }
        return found
    }
}
