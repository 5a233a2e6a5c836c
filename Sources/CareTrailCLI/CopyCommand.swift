import ArgumentParser
import AuditChain
import AuditCore
import CareTrail
import Foundation

/// `caretrail copy --from DB --to DB`: a log moved between backends (SQLite file ⇄ PostgreSQL),
/// entry for entry, with the same head.
struct CopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a log into a new one, SQLite ⇄ PostgreSQL, verifying as it goes; the copy has the same head.",
        discussion: """
            The destination must hold no log yet: a file that does not exist, or a PostgreSQL database (owner's credentials) \
            where the schema is installed. Each entry is checked against the one before it as it is copied, and the copy is \
            verified in full at the end; exit 1 if it is not intact. The copy shares the source's pseudonymisation keys: \
            written to --to-key-file (default: beside a destination file; a PostgreSQL destination needs it named, or uses the \
            source's key file).
            """
    )

    @Option(help: "The log to copy: a SQLite file or postgres://user@host[:port]/dbname.") var from: String
    @Option(help: "The new log: a SQLite file or postgres://user@host[:port]/dbname.") var to: String
    @Option(help: "The source's key file (default: $CARETRAIL_KEY_FILE, else beside a source file).") var keyFile: String?
    @Option(help: "The copy's key file (default: beside a destination file, else the source's key file).") var toKeyFile: String?
    @Option(help: "Output format.") var format: OutputFormat = .text

    func run() throws {
        try runReportingFailures {
            let sourceKeys = keyFile ?? ProcessInfo.processInfo.environment["CARETRAIL_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            let source = try AuditLog.open(database: from, keyFile: sourceKeys)
            let targetKeys = toKeyFile ?? (AuditLog.isPostgres(to) ? source.keyRingPath : nil)
            let result = try source.copy(to: to, keyFile: targetKeys)
            let head = result.head?.description ?? "none"
            switch format {
            case .json:
                print(
                    JSONOutput.compact(
                        .object([
                            "copied": .number(Double(result.entries)), "head": result.head?.jsonValue ?? .null,
                            "verified": .bool(result.verified),
                        ])))
            case .text:
                print("copied \(result.entries) entries; head \(head); copy \(result.verified ? "verified intact" : "NOT intact")")
            }
            if !result.verified { throw ExitCode(CLIExit.integrityFailure.rawValue) }
        }
    }
}
