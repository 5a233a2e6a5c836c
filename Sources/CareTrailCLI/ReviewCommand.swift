import ArgumentParser
import AuditAnalysis
import AuditChain
import AuditCore
import CareTrail

/// `caretrail review ALERT-ID --by USER --decision D --note TEXT`.
struct ReviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Record a privacy officer's review of an alert, as an entry in the hash chain.",
        discussion:
            "The review names the reviewer, the decision and a note (identifiers in it are pseudonymised before it is stored). justified and unjustified close the alert; needs-follow-up keeps it open. An alert may be reviewed again; its state follows the latest review. Exit codes: 0 recorded, 2 unknown alert or bad arguments, 3 database unusable."
    )

    @OptionGroup var store: StoreOptions
    @Argument(help: "The alert's id, as `caretrail alerts` prints it (alert-<seq>).") var alertID: String
    @Option(help: "The reviewer's user id.") var by: String
    @Option(help: "justified, unjustified or needs-follow-up.") var decision: String
    @Option(help: "What the review found.") var note: String
    @Option(help: "Output format.") var format: OutputFormat = .text

    func run() throws {
        try runReportingFailures {
            guard let decision = ReviewDecision(rawValue: decision) else {
                throw CLIFailure(exitCode: .invalidInput, message: "--decision: must be justified, unjustified or needs-follow-up")
            }
            let log = try store.openLog()
            let head = try log.review(alertID: alertID, by: by, decision: decision, note: note)
            let status = try log.alerts().first { $0.alert.seq == AlertRecord.seq(fromID: alertID) }
            switch format {
            case .json:
                print(
                    JSONOutput.compact(
                        .object([
                            "review_seq": .number(Double(head.seq)), "hash": .string(head.hash.hex),
                            "alert": status?.jsonValue ?? .null,
                        ])))
            case .text:
                print(
                    "review of \(status?.alert.id ?? alertID) chained at seq \(head.seq) (\(head.hash.hex)); state \(status?.state ?? "?")")
            }
        }
    }
}
