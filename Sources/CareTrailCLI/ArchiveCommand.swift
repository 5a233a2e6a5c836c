import ArgumentParser
import AuditArchive
import AuditChain
import AuditCore
import CareTrail
import Foundation

/// `caretrail archive`: moves old entries' content to a sealed cold archive.
struct ArchiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Move the content of entries older than the policy's hot_days into sealed segments at DEST.",
        discussion: """
            DEST is a directory or s3://bucket/prefix (endpoint, region and credentials from AWS_ENDPOINT_URL, \
            AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). Each segment holds its entries' canonical bytes in \
            deflate frames, an index of everything a report or search looks entries up by, and a manifest with its Merkle root and a signed \
            checkpoint. Each segment is read back and checked before its entries leave the hot log, which keeps their \
            sequence numbers and hashes; an archive entry is chained for it. Then the database file is compacted \
            (VACUUM; writers wait) unless --no-compact is given. Exit code 2 for a bad argument, 3 when the \
            destination or the log cannot be used.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var signing: SigningKeyOptions
    @Option(help: "The archive: a directory, or s3://bucket/prefix.") var to: String
    @Option(help: "Archive only entries recorded before this time (RFC 3339, or YYYY-MM-DD), besides hot_days.") var before: String?
    @Option(help: "Entries per segment (1 to 1048576).") var segmentEntries: Int64 = 65_536
    @Flag(help: "Leave the hot database's file as it is after sealing (no VACUUM): quicker, but the space stays taken.")
    var noCompact = false
    @Option(help: "Output format.") var format: OutputFormat = .text

    func run() async throws {
        try await runReportingFailures {
            // Bad values exit 2 like every other bad argument, not ArgumentParser's 64.
            if let before, parseDate(before) == nil {
                throw CLIFailure(
                    exitCode: .invalidInput, message: "--before: a time in RFC 3339 (2020-01-31T00:00:00Z) or a date (2020-01-31)")
            }
            guard (1...1_048_576).contains(segmentEntries) else {
                throw CLIFailure(exitCode: .invalidInput, message: "--segment-entries: 1 to 1048576")
            }
            let destination = try archiveDestination(to)
            let log = try store.openLog()
            let keys = try log.signingKeys(file: signing.path, create: true)
            let run = try await log.archive(
                to: destination, before: before.flatMap(parseDate), keys: keys, segmentEntries: segmentEntries)
            if !noCompact, !run.segments.isEmpty { try log.compactStorage() }
            let through = run.segments.last?.last ?? 0
            switch format {
            case .json:
                print(
                    JSONOutput.compact(
                        .object([
                            "segments": .number(Double(run.segments.count)), "entries": .number(Double(run.entries)),
                            "archived": .number(Double(run.withContent)), "bytes": .number(Double(run.bytes)),
                            "through": .number(Double(through)),
                        ])))
            case .text:
                if run.segments.isEmpty {
                    print("nothing to archive: no entry older than the hot period is left in the hot log")
                } else {
                    let perEntry = run.withContent > 0 ? Double(run.bytes) / Double(run.withContent) : 0
                    print(
                        "archived \(run.withContent) entries (\(run.entries) sequence numbers, through \(through)) in "
                            + "\(run.segments.count) segment(s) to \(destination.address): \(run.bytes) bytes, "
                            + String(format: "%.0f", perEntry) + " bytes per archived entry")
                }
            }
        }
    }
}

/// `caretrail verify-archive`: checks an archive with nothing but its objects and the key.
struct VerifyArchiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-archive",
        abstract: "Check an archive without the database: exit 0 when intact, 1 when it is not, 2 for a malformed key.",
        discussion: """
            Checks the signed catalog, then every segment: its data's SHA-256, the hash chain of its entries and from \
            segment to segment, its Merkle root, and the consistency of its range with the signed checkpoint in its \
            manifest. Problems are named: segment_missing, segment_out_of_place, segment_replayed, segment_foreign, \
            segment_unlisted, stale_generation, manifest_edited, data_edited, index_edited, entry_mismatch, \
            root_mismatch, checkpoint_mismatch, deleted_content_remains, catalog_invalid.
            """
    )

    @Argument(help: "The archive: a directory, or s3://bucket/prefix.") var destination: String
    @Option(help: "A file holding the log's verifier key line ('caretrail checkpoint key').") var key: String
    @Option(help: "Output format.") var format: OutputFormat = .text

    func run() async throws {
        try await runReportingFailures {
            let verifierKey = try readVerifierKey(key)
            let archive = try archiveDestination(destination)
            let report: ArchiveVerification
            do {
                report = try await ArchiveVerifier(destination: archive, keys: [verifierKey]).verify(.catalog)
            } catch {
                throw CLIFailure(exitCode: .ioError, message: "\(archive.address): \(error)")
            }
            printArchiveReport(report, format: format)
            if !report.isIntact { throw ExitCode(CLIExit.integrityFailure.rawValue) }
        }
    }
}

/// Prints an archive check: one line, then each problem.
func printArchiveReport(_ report: ArchiveVerification, format: OutputFormat) {
    switch format {
    case .json:
        print(JSONOutput.compact(archiveReportJSON(report)))
    case .text:
        if report.isIntact {
            print(
                "archive intact: \(report.segments) segment(s), \(report.withContent) archived entries, through seq \(report.through)")
        } else {
            print("archive BROKEN: \(report.problems.count) problem(s)")
            for problem in report.problems { print("  \(problem)") }
        }
    }
}

func archiveReportJSON(_ report: ArchiveVerification) -> JSONValue {
    .object([
        "intact": .bool(report.isIntact), "segments": .number(Double(report.segments)),
        "archived": .number(Double(report.withContent)), "through": .number(Double(report.through)),
        "problems": .array(
            report.problems.map { problem in
                var object: [String: JSONValue] = ["kind": .string(problem.kind.rawValue), "message": .string(problem.message)]
                if let segment = problem.segment { object["segment"] = .string(segment) }
                if let seq = problem.seq { object["seq"] = .number(Double(seq)) }
                return .object(object)
            }),
    ])
}

/// The destination a DEST argument names; exit 2 when malformed.
func archiveDestination(_ text: String) throws -> any ArchiveDestination {
    do {
        return try ArchiveLocation.destination(text)
    } catch {
        throw CLIFailure(exitCode: .invalidInput, message: error.description)
    }
}

/// An RFC 3339 time, or a date at midnight UTC.
func parseDate(_ text: String) -> Timestamp? {
    if let time = Timestamp(rfc3339: text) { return time }
    guard text.count == 10 else { return nil }
    return Timestamp(rfc3339: text + "T00:00:00Z")
}
