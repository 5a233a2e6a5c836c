import ArgumentParser
import AuditChain
import AuditCore
import AuditStorage
import CareTrail
import Foundation

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every hash and link; exit 0 when the log is intact, 1 when it is not.",
        discussion:
            "With --expect-head SEQ:HASH (a head published earlier, e.g. in a SIEM), also prove that the log still holds that head unchanged, which catches a truncated or rewritten log."
    )

    @OptionGroup var store: StoreOptions
    @Option(help: "An earlier head, SEQ:HASH, that the log must still contain.") var expectHead: String?
    @Option(help: "Output format.") var format: OutputFormat = .text

    func validate() throws {
        if let expectHead, ChainHead(expectHead) == nil {
            throw ValidationError("--expect-head must be SEQ:HASH, a sequence number and 64 hex digits")
        }
    }

    func run() throws {
        try runReportingFailures {
            let log = try store.openLog()
            let started = Date()
            let report: VerificationReport
            report = try log.verify(expectHead: expectHead.flatMap(ChainHead.init))
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
                print(JSONOutput.compact(.object(object)))
            case .text:
                if let problem = report.problem {
                    print("BROKEN at seq \(problem.seq): \(problem.kind.rawValue): \(problem.message)")
                    print("(\(report.entriesChecked) entries before it verified)")
                } else {
                    let head = report.head.map(\.description) ?? "none (empty log)"
                    print("intact: \(report.entriesChecked) entries verified in \(String(format: "%.2f", seconds)) s; head \(head)")
                    if let expected = report.expectedHead { print("expected head \(expected) is present and unchanged") }
                }
            }
            if !report.isIntact { throw ExitCode(CLIExit.integrityFailure.rawValue) }
        }
    }
}
