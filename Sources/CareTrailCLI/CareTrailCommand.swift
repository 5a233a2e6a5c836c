public import ArgumentParser

/// `caretrail`: the access-audit log for clinical AI agents.
public struct CareTrailCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "caretrail",
        abstract: "A tamper-evident access-audit log for clinical AI agents' tool calls.",
        discussion: """
            Exit codes: 0 success (verify: intact); 1 verify found damage; 2 invalid input records \
            (nothing appended), or a bad argument or unknown alert; 3 database, key file or input unusable; 64 usage error.
            """,
        subcommands: [
            DemoCommand.self, InitCommand.self, IngestCommand.self, VerifyCommand.self, HeadCommand.self,
            ShowCommand.self, ReportCommand.self, TimelineCommand.self, TraceCommand.self, UserActivityCommand.self,
            FailuresCommand.self, ToolStatsCommand.self, ExportCommand.self, ImportCommand.self, AlertsCommand.self, KeysCommand.self,
            ServeCommand.self, StreamCommand.self, ReviewCommand.self, ConfigCommand.self, PseudonymCommand.self,
            PIIKeyCommand.self, PolicyCommand.self, CheckpointCommand.self, RetentionCommand.self, HoldCommand.self, ProofCommand.self,
            BundleCommand.self, VerifyBundleCommand.self, ArchiveCommand.self, VerifyArchiveCommand.self, CopyCommand.self,
        ]
    )

    public init() {}

    /// Parses the command line and runs the command, awaiting the asynchronous ones (`serve`).
    public static func runFromCommandLine() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
