import ArgumentParser
import AuditAnalysis
import AuditChain
import AuditCore
import CareTrail
import Foundation

/// `caretrail retention policy|run`: how long the log keeps what agents recorded, and the
/// run that deletes what has expired.
struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Show the retention policy in force, or delete the entries whose retention period has ended.",
        subcommands: [Policy.self, Run.self],
        defaultSubcommand: Policy.self
    )

    struct Policy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the retention policy in force: hot days, categories and their tool patterns, the default.",
            discussion: "Change it with 'caretrail config set' (member retention); the change is chained like any other."
        )
        @OptionGroup var store: StoreOptions
        @Option(help: "Output format.") var format: OutputFormat = .text

        func run() throws {
            try runReportingFailures {
                let (policy, version) = try store.openLog().retentionPolicy
                switch format {
                case .json:
                    guard case .object(var members) = LogConfiguration.json(policy) else { return }
                    members["policy_version"] = .number(Double(version))
                    print(JSONOutput.pretty(.object(members)))
                case .text:
                    print("policy version \(version == 0 ? "0 (the defaults)" : "\(version) (configuration at seq \(version))")")
                    print("hot for \(policy.hotDays) days")
                    for category in policy.categories {
                        print("\(category.name): \(category.retentionDays) days; tools \(category.tools.joined(separator: ", "))")
                    }
                    print("\(policy.default.name) (every other tool): \(policy.default.retentionDays) days")
                }
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the content of entries whose category's period has ended and that no legal hold keeps.",
            discussion: """
                Age counts from recorded_at, the log's clock. Deleted entries keep their sequence number and hash, so the \
                chain, the Merkle tree and every proof still hold; a retention_purge entry records the ranges, their \
                Merkle roots, the counts per category and the policy version. With --archive, entries whose content is in \
                the archive are judged too, and each segment that loses entries is rewritten without their content and \
                checked before anything is deleted. With --format json it prints \
                {"deleted": {"<category>": N, ...}, "held": N, "archived": N}, where archived counts the deleted entries \
                whose content was in the archive. Exit code 2 for a bad argument, 3 when the log or the archive cannot be \
                written.
                """
        )
        @OptionGroup var store: StoreOptions
        @OptionGroup var signing: SigningKeyOptions
        @Option(help: "The log's archive (a directory, or s3://bucket/prefix): delete archived entries too.") var archive: String?
        @Flag(help: "Print what would be deleted; change nothing.") var dryRun = false
        @Option(help: "Output format.") var format: OutputFormat = .text

        func run() async throws {
            try await runReportingFailures {
                let log = try store.openLog()
                let result: AuditLog.RetentionRun
                if let archive {
                    let destination = try archiveDestination(archive)
                    let keys = try log.signingKeys(file: signing.path, create: true)
                    result = try await log.runRetention(dryRun: dryRun, archive: destination, keys: keys)
                } else {
                    result = try log.runRetention(dryRun: dryRun)
                }
                let plan = result.plan
                switch format {
                case .json:
                    print(JSONOutput.compact(plan.summary(archived: result.archived)))
                case .text:
                    let verb = dryRun ? "would delete" : "deleted"
                    let counts = plan.deleted.keys.sorted().map { "\($0) \(plan.deleted[$0] ?? 0)" }.joined(separator: ", ")
                    print(
                        "\(verb) \(plan.count) entries\(counts.isEmpty ? "" : " (\(counts))")\(archive == nil ? "" : ", \(result.archived) of them archived"); "
                            + "\(plan.held) kept by legal holds")
                    if let record = result.record { print("purge chained at seq \(record.seq) (\(record.hash.hex))") }
                }
            }
        }
    }
}

/// `caretrail hold add|release|list`: legal holds, which keep entries past their period.
struct HoldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Place, release or list legal holds: entries under a hold are never deleted.",
        subcommands: [Add.self, Release.self, List.self],
        defaultSubcommand: List.self
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Place a legal hold on a patient's entries or on a range of the chain (chained).",
            discussion: "Name exactly one of --patient and --range. The reason is scrubbed of identifiers before it is chained."
        )
        @OptionGroup var store: StoreOptions
        @Option(help: "Keep every entry about this patient id.") var patient: String?
        @Option(help: "Keep the entries FIRST..LAST (sequence numbers, both included).") var range: String?
        @Option(help: "Why the hold is placed (a case or matter reference).") var reason: String
        @Option(help: "Who places it.") var by: String
        @Option(help: "Output format.") var format: OutputFormat = .text

        func run() throws {
            try runReportingFailures {
                let scope: LegalHold.Scope
                switch (patient, range) {
                case (let patient?, nil): scope = .patient(patient)
                case (nil, let range?): scope = try Self.parseRange(range)
                default: throw CLIFailure(exitCode: .invalidInput, message: "name exactly one of --patient ID and --range FIRST..LAST")
                }
                let hold = try store.openLog().placeHold(scope, reason: reason, by: by)
                switch format {
                case .json: print(JSONOutput.compact(hold.jsonValue))
                case .text: print("\(hold.id) placed (chained at seq \(hold.seq))")
                }
            }
        }

        static func parseRange(_ text: String) throws -> LegalHold.Scope {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[1].isEmpty, let first = Int64(parts[0]), let last = Int64(parts[2]), first >= 1, first <= last
            else {
                throw CLIFailure(
                    exitCode: .invalidInput, message: "--range: expected FIRST..LAST, sequence numbers with 1 <= FIRST <= LAST")
            }
            return .range(first: first, last: last)
        }
    }

    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Release a legal hold (chained); its entries follow the policy again.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The hold's id (hold-<seq>).") var id: String
        @Option(help: "Who releases it.") var by: String

        func run() throws {
            try runReportingFailures {
                let hold = try store.openLog().releaseHold(id: id, by: by)
                print("\(hold.id) released (chained at seq \(hold.releasedSeq ?? 0))")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List legal holds, active and released.")
        @OptionGroup var store: StoreOptions
        @Option(help: "Output format.") var format: OutputFormat = .text

        func run() throws {
            try runReportingFailures {
                let holds = try store.openLog().holds()
                switch format {
                case .json: print(JSONOutput.pretty(.array(holds.map(\.jsonValue))))
                case .text:
                    for hold in holds {
                        let scope: String
                        switch hold.scope {
                        case .patient(let patient): scope = "patient \(patient)"
                        case .range(let first, let last): scope = "entries \(first)..\(last)"
                        }
                        let state = hold.releasedBy.map { "released by \($0)" } ?? "active"
                        print("\(hold.id)\t\(scope)\t\(state)\tplaced by \(hold.placedBy) at \(hold.placedAt): \(hold.reason)")
                    }
                }
            }
        }
    }
}
