import ArgumentParser
import AuditAnalysis
import AuditCore
import AuditStorage
import CareTrail
import Foundation

/// `caretrail report patient`: the privacy officer's patient access report.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Reports for privacy officers.",
        subcommands: [PatientReportCommand.self]
    )
}

/// `--format table|json|csv|html`.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
    case csv
    case html
}

struct PatientReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient",
        abstract: "Every access to one patient in a period, with a summary, alerts and the log's integrity.",
        discussion: """
            Lists reads and changes of the patient's record and queries whose results named the patient, oldest first. \
            The log is verified first: incrementally (only what was appended since the last verification) unless \
            --verify-full; the report says which, and the head it was computed at. Both ends of the period are included; \
            a day (YYYY-MM-DD) runs from midnight to midnight in --time-zone (default UTC). Exit codes: 0 report written \
            and the log verified; 1 report written but the log does NOT verify; 2 bad arguments; 3 database unusable.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var archive: ArchiveReadOptions
    @OptionGroup var reader: ReaderOptions
    @Argument(help: "The patient's id (or use --pseudonym / --name).") var patientID: String?
    @Option(help: "Search by a pseudonym as the log stores it (hmac-sha256:…).") var pseudonym: String?
    @Option(help: "Search by a clear-text name or other identifier: pseudonymised with every key before the query, never stored or logged.")
    var name: String?
    @Option(help: "Start of the period (RFC 3339 or YYYY-MM-DD), included.") var from: String?
    @Option(help: "End of the period (RFC 3339 or YYYY-MM-DD), included.") var to: String?
    @Option(help: "IANA time zone for day-only dates (default UTC).") var timeZone: String?
    @Option(help: "Output format.") var format: ReportFormat = .table
    @Option(help: "Write the report to this file instead of standard output.") var out: String?
    @Flag(help: "Verify the whole log rather than only what was appended since the last verification.") var verifyFull = false

    func run() async throws {
        try await runReportingFailures {
            let subject = try reportSubject(patientID: patientID, pseudonym: pseudonym, name: name, idName: "PATIENT_ID")
            let (lower, upper) = try reportPeriod(from: from, to: to, timeZone: timeZone)
            let log = try await archive.openLog(store)
            let report = try log.patientReport(subject, from: lower, to: upper, verifyFull: verifyFull)
            let text: String
            switch format {
            case .table: text = report.table
            case .json: text = JSONOutput.pretty(report.jsonValue) + "\n"
            case .csv: text = report.csv
            case .html: text = report.html
            }
            try reader.record(
                log, "patient_report", report.accessParameters(from: from, to: to, format: format.rawValue), results: report.totalAccesses)
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else {
                    throw CLIFailure(exitCode: .ioError, message: "cannot write \(out)")
                }
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
            if !report.integrity.isIntact {
                printError("caretrail: the log does not verify: \(report.integrity.summaryLine)")
                throw ExitCode(CLIExit.integrityFailure.rawValue)
            }
        }
    }
}

extension AccessReport {
    /// What an ``AuditAccess`` records of the report's query: the patient id, or for a search
    /// by name or pseudonym the first pseudonym, never the name.
    func accessParameters(from: String?, to: String?, format: String? = nil) -> [String: String?] {
        ["patient": patientID, "pseudonym": patientID == nil ? pseudonyms.first : nil, "from": from, "to": to, "format": format]
    }
}

/// The patient a report or bundle is about, named exactly once: by record id, by pseudonym or
/// by a clear-text value (pseudonymised before the query, never stored or logged).
func reportSubject(patientID: String?, pseudonym: String?, name: String?, idName: String) throws -> AuditLog.ReportSubject {
    let subjects = [patientID != nil, pseudonym != nil, name != nil].filter { $0 }.count
    guard subjects == 1 else {
        throw CLIFailure(exitCode: .invalidInput, message: "name the patient once: \(idName), --pseudonym TOKEN or --name TEXT")
    }
    if let patientID { return .patientID(patientID) }
    if let pseudonym {
        guard pseudonym.hasPrefix("hmac-sha256:") else {
            throw CLIFailure(
                exitCode: .invalidInput, message: "--pseudonym: expected a token as the log stores it (hmac-sha256:<key>:<hex>)")
        }
        return .pseudonym(pseudonym)
    }
    return .clearText(name ?? "")
}

/// The period `--from ... --to`, both ends included; a day runs midnight to midnight in `timeZone`.
func reportPeriod(from: String?, to: String?, timeZone: String?) throws -> (Timestamp?, Timestamp?) {
    let lower = try from.map { try DateArgument.parse($0, option: "--from", endOfDay: false, timeZone: timeZone) }
    let upper = try to.map { try DateArgument.parse($0, option: "--to", endOfDay: true, timeZone: timeZone) }
    if let lower, let upper, lower > upper {
        throw CLIFailure(exitCode: .invalidInput, message: "--from is after --to")
    }
    return (lower, upper)
}
