import ArgumentParser
import AuditAnalysis
import AuditCore
import CareTrail
import Foundation

/// `caretrail alerts`: the alerts of the log with their review state, and `alerts scan`.
struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "List alerts with their review state, or recompute them over history.",
        subcommands: [AlertsListCommand.self, AlertsScanCommand.self],
        defaultSubcommand: AlertsListCommand.self
    )
}

/// `--format table|json` of the privacy officers' commands.
enum TableFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
}

struct AlertsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List alerts, oldest first, with state (open, reviewed), overdue flag and the entries behind each.",
        discussion:
            "An alert is open until a review closes it (justified or unjustified); needs-follow-up keeps it open. Open alerts past the review deadline (configuration review_deadline_days, default 7) are overdue."
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var reader: ReaderOptions
    @Flag(help: "Only alerts still open (no closing review).") var open = false
    @Flag(help: "Only open alerts past their review deadline.") var overdue = false
    @Option(help: "Only alerts of this kind: \(AlertKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var kind: String?
    @Option(help: "Output format.") var format: TableFormat = .table

    func run() throws {
        try runReportingFailures {
            var wanted: AlertKind?
            if let kind {
                guard let parsed = AlertKind(rawValue: kind) else {
                    throw CLIFailure(
                        exitCode: .invalidInput,
                        message: "--kind: must be one of \(AlertKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                wanted = parsed
            }
            let log = try store.openLog()
            let alerts = try log.alerts().filter { status in
                (!open || status.state == AlertStatus.open) && (!overdue || status.overdue)
                    && (wanted.map { status.alert.kind == $0 } ?? true)
            }
            try reader.record(
                log, "alerts", ["open": open ? "true" : nil, "overdue": overdue ? "true" : nil, "kind": kind], results: alerts.count)
            switch format {
            case .json:
                print(JSONOutput.pretty(.array(alerts.map(\.jsonValue))))
            case .table:
                let rows = alerts.map { status in
                    [
                        status.alert.id, status.alert.kind.rawValue, status.alert.severity.rawValue,
                        status.state + (status.overdue ? " (overdue)" : ""), status.decision?.rawValue ?? "-",
                        status.alert.raisedAt, status.alert.patientID ?? status.alert.userID ?? "-",
                        status.alert.entrySeqs.count > 6
                            ? status.alert.entrySeqs.prefix(5).map(String.init).joined(separator: ",")
                                + ",…(\(status.alert.entrySeqs.count))"
                            : status.alert.entrySeqs.map(String.init).joined(separator: ","),
                    ]
                }
                print(
                    TextTable.render(
                        header: ["ID", "KIND", "SEVERITY", "STATE", "DECISION", "RAISED AT", "CONCERNS", "ENTRIES"], rows: rows
                    ))
                print("\(alerts.count) alert\(alerts.count == 1 ? "" : "s")")
            }
        }
    }
}

struct AlertsScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Recompute alerts over history with the rules in force and compare them with those raised live.",
        discussion:
            "Changes nothing but chaining the read as an audit_access entry. Exit code 0 when the recomputed alerts equal the logged ones, 1 when they differ (alerts missing from the log, or logged alerts the rules do not raise)."
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var reader: ReaderOptions
    @Option(help: "Only alerts whose triggering access is at or after this time (RFC 3339 or YYYY-MM-DD).") var from: String?
    @Option(help: "Only alerts whose triggering access is at or before this time (RFC 3339 or YYYY-MM-DD, whole day).") var to: String?
    @Option(help: "Output format.") var format: TableFormat = .table

    func run() throws {
        try runReportingFailures {
            let lower = try from.map { try DateArgument.parse($0, option: "--from", endOfDay: false) }
            let upper = try to.map { try DateArgument.parse($0, option: "--to", endOfDay: true) }
            let log = try store.openLog()
            let scan = try log.scanAlerts(from: lower, to: upper)
            try reader.record(log, "alerts_scan", ["from": from, "to": to], results: scan.recomputed.count)
            switch format {
            case .json:
                print(
                    JSONOutput.pretty(
                        .object([
                            "entries_scanned": .number(Double(scan.entriesScanned)),
                            "matches": .bool(scan.matches),
                            "alerts": .array(
                                scan.recomputed.map { draft in
                                    .object([
                                        "kind": .string(draft.kind.rawValue), "severity": .string(draft.severity.rawValue),
                                        "trigger_seq": .number(Double(draft.triggerSeq)),
                                        "entries": .array(draft.entrySeqs.map { .number(Double($0)) }),
                                        "patient_id": draft.patientID.map(JSONValue.string) ?? .null,
                                        "user_id": draft.userID.map(JSONValue.string) ?? .null,
                                        "event_time": .string(Timestamp(millisecondsSinceEpoch: draft.time).description),
                                        "logged": .bool(!scan.missing.contains(draft)),
                                    ])
                                }),
                            "missing_from_log": .array(scan.missing.map { .number(Double($0.triggerSeq)) }),
                            "not_raised_by_rules": .array(scan.unexpected.map { .string($0.id) }),
                        ])))
            case .table:
                let rows = scan.recomputed.map { draft in
                    [
                        draft.kind.rawValue, draft.severity.rawValue, String(draft.triggerSeq),
                        Timestamp(millisecondsSinceEpoch: draft.time).description,
                        draft.patientID ?? draft.userID ?? "-", scan.missing.contains(draft) ? "MISSING" : "logged",
                    ]
                }
                print(TextTable.render(header: ["KIND", "SEVERITY", "TRIGGER SEQ", "EVENT TIME", "CONCERNS", "IN LOG"], rows: rows))
                print(
                    "replayed \(scan.entriesScanned) entries: \(scan.recomputed.count) alerts recomputed, \(scan.logged.count) logged; \(scan.missing.count) missing from the log, \(scan.unexpected.count) logged but not raised by the rules"
                )
            }
            if !scan.matches { throw ExitCode(CLIExit.integrityFailure.rawValue) }
        }
    }
}

/// Aligned plain-text columns.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

/// Dates given on the command line, read by the library's one date parser (``TimeBound``).
enum DateArgument {
    static func parse(_ text: String, option: String, endOfDay: Bool, timeZone: String? = nil) throws -> Timestamp {
        do throws(TimeBound.Failure) {
            return try TimeBound.parse(text, endOfDay: endOfDay, timeZone: timeZone)
        } catch .unknownTimeZone {
            throw CLIFailure(exitCode: .invalidInput, message: "--time-zone: not an IANA time zone (e.g. Europe/Berlin)")
        } catch {
            throw CLIFailure(
                exitCode: .invalidInput, message: "\(option): expected RFC 3339 with an offset (2026-01-05T08:00:00Z) or a day (2026-01-05)"
            )
        }
    }
}
