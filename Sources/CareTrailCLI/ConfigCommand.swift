import ArgumentParser
import AuditAnalysis
import AuditChain
import AuditCore
import CareTrail
import Foundation

/// `caretrail config show|set`: the log's configuration, kept in the chain.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show or change the log's configuration: purpose restrictions per tenant, alert rules, review deadline.",
        subcommands: [Show.self, Set.self],
        defaultSubcommand: Show.self
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the configuration in force (JSON), defaults written out.")
        @OptionGroup var store: StoreOptions

        func run() throws {
            try runReportingFailures {
                print(JSONOutput.pretty(try store.openLog().configuration.jsonValue))
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append a configuration change to the chain (it applies to every writer from then on).",
            discussion:
                "FILE is JSON in the form `config show` prints; omitted keys take their defaults, unknown keys are refused. Exit code 2 for an invalid file."
        )
        @OptionGroup var store: StoreOptions
        @Argument(help: "The configuration JSON file.") var file: String
        @Option(help: "Who makes the change.") var by: String

        func run() throws {
            try runReportingFailures {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CLIFailure(exitCode: .ioError, message: "cannot read \(file)")
                }
                let configuration: LogConfiguration
                do {
                    configuration = try LogConfiguration(json: String(decoding: data, as: UTF8.self)) as LogConfiguration
                } catch {
                    throw CLIFailure(exitCode: .invalidInput, message: "\(file): \(error)")
                }
                let head = try store.openLog().setConfiguration(configuration, changedBy: by)
                print("configuration chained at seq \(head.seq) (\(head.hash.hex))")
            }
        }
    }
}
