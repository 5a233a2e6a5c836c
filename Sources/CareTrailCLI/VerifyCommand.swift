import ArgumentParser
import AuditArchive
import AuditChain
import AuditCore
import AuditStorage
import CareTrail
import Foundation

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every hash and link; exit 0 when the log is intact, 1 when it is not.",
        discussion:
            """
            With --expect-head SEQ:HASH (a head published earlier, e.g. in a SIEM), also prove that the log still holds \
            that head unchanged, which catches a truncated or rewritten log. With --checkpoint FILE (signed checkpoints \
            saved earlier), check each one's signature and a consistency proof from it to the head: a log rewritten or \
            truncated since fails with rewritten_since_checkpoint or truncated_since_checkpoint. With --archive DEST, \
            also check every archive segment the chain records: its data's SHA-256, its entries' chain, its Merkle \
            root and its checkpoint, and that no content a retention run deleted remains (see verify-archive for the \
            problems it names).
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var signing: SigningKeyOptions
    @Option(help: "An earlier head, SEQ:HASH, that the log must still contain.") var expectHead: String?
    @Option(name: .customLong("checkpoint"), help: "A checkpoint note saved earlier that the log must extend (repeatable).")
    var checkpoints: [String] = []
    @Option(help: "A verifier key file for --checkpoint (default: every key of the log's signing key file).") var key: String?
    @Option(help: "The log's archive, a directory or s3://bucket/prefix, to check as well.") var archive: String?
    @Option(help: "Output format.") var format: OutputFormat = .text

    func validate() throws {
        if let expectHead, ChainHead(expectHead) == nil {
            throw ValidationError("--expect-head must be SEQ:HASH, a sequence number and 64 hex digits")
        }
    }

    func run() async throws {
        try await runReportingFailures {
            let destination = try archive.map(archiveDestination)
            let log = try store.openLog()
            let started = Date()
            var report: VerificationReport
            report = try log.verify(expectHead: expectHead.flatMap(ChainHead.init))
            func verifierKeys() throws -> [NoteVerifierKey] {
                if let key { return [try readVerifierKey(key)] }
                return AuditLog.verifierKeys(try log.signingKeys(file: signing.path, create: false))
            }
            if report.isIntact, !checkpoints.isEmpty {
                let keys = try verifierKeys()
                for file in checkpoints {
                    let note = try readNote(file)
                    if let problem = try log.checkExtends(note, keys: keys) {
                        report.problem = problem
                        break
                    }
                }
            }
            var archiveReport: ArchiveVerification?
            if report.isIntact, let destination {
                archiveReport = try await log.verifyArchive(destination, keys: try verifierKeys())
            }
            let seconds = Date().timeIntervalSince(started)
            switch format {
            case .json:
                var object: [String: JSONValue] = [
                    "intact": .bool(report.isIntact), "entries_checked": .number(Double(report.entriesChecked)),
                    "head": report.head.map(\.jsonValue) ?? .null,
                ]
                if let expected = report.expectedHead { object["expected_head"] = expected.jsonValue }
                if let problem = report.problem {
                    object["problem"] = [
                        "seq": .number(Double(problem.seq)), "kind": .string(problem.kind.rawValue),
                        "message": .string(problem.message),
                    ]
                }
                if let archiveReport { object["archive"] = archiveReportJSON(archiveReport) }
                print(JSONOutput.compact(.object(object)))
            case .text:
                if let problem = report.problem {
                    print("BROKEN at seq \(problem.seq): \(problem.kind.rawValue): \(problem.message)")
                    print("(\(report.entriesChecked) entries before it verified)")
                } else {
                    let head = report.head.map(\.description) ?? "none (empty log)"
                    print("intact: \(report.entriesChecked) entries verified in \(String(format: "%.2f", seconds)) s; head \(head)")
                    if let expected = report.expectedHead { print("expected head \(expected) is present and unchanged") }
                    if !checkpoints.isEmpty { print("the log extends \(checkpoints.count) signed checkpoint(s)") }
                    if let archiveReport { printArchiveReport(archiveReport, format: .text) }
                }
            }
            if !report.isIntact || archiveReport?.isIntact == false { throw ExitCode(CLIExit.integrityFailure.rawValue) }
        }
    }
}
