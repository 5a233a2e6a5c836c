import ArgumentParser
import AuditChain
import AuditCore
import CareTrail

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Append tool calls from a JSON-lines file (or - for stdin), all or nothing.",
        discussion:
            "Every line is checked against the ingest contract. If any line is bad, nothing is appended, every bad line is reported with its line number and field, and the exit code is 2."
    )

    @OptionGroup var store: StoreOptions
    @Argument(help: "A JSON-lines file, or - for standard input.") var file: String
    @Option(help: "Output format.") var format: OutputFormat = .text

    func run() throws {
        try runReportingFailures {
            let log = try store.openLog()
            let summary = try log.ingest(path: file)
            switch format {
            case .json:
                print(
                    JSONOutput.compact([
                        "appended": .number(Double(summary.appended)), "alerts_raised": .number(Double(summary.alertsRaised)),
                        "head": summary.head.map(\.jsonValue) ?? .null,
                    ]))
            case .text:
                print(
                    "appended \(summary.appended) entries; \(summary.alertsRaised) alerts raised; head \(summary.head.map(\.description) ?? "none (empty log)")"
                )
            }
        }
    }
}
