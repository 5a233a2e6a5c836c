import ArgumentParser
import AuditChain
import AuditCore
import AuditStorage
import CareTrail
import Foundation

/// What the query commands print of one stored entry.
struct EntryLine {
    let entry: StoredEntry
    let body: [String: JSONValue]

    init(_ entry: StoredEntry) {
        self.entry = entry
        if case .object(let body)? = try? JSONParser.parse(entry.content.body) { self.body = body } else { self.body = [:] }
    }

    var succeeded: Bool { entry.content.outcome != .failure }
    var mark: String { entry.content.kind == .toolCall ? (succeeded ? "✓" : "✗") : "·" }
    var turn: Int? { body["turn_number"]?.numberValue.flatMap { Int(exactly: $0) } }
    var durationMS: Double? { body["duration_ms"]?.numberValue }
    var time: String { entry.content.timestamp ?? entry.recordedAt }
    var arguments: String { body["arguments"].map(CanonicalJSON.string) ?? "{}" }

    /// The result in a few words: the error, or the result's size and first members.
    var resultSummary: String {
        if let error = body["error"] { return "error: " + Self.clip(error.stringValue ?? CanonicalJSON.string(error), 80) }
        if let result = body["result"] {
            if case .object(let members) = result, let inner = members["error"], inner != .null {
                return "error: " + Self.clip(inner.stringValue ?? CanonicalJSON.string(inner), 80)
            }
            return Self.clip(CanonicalJSON.string(result), 80)
        }
        if entry.content.kind == .agentRequest, let preview = body["output"]?["preview"]?.stringValue {
            return "answer: " + Self.clip(preview, 80)
        }
        return "-"
    }

    static func clip(_ text: String, _ length: Int) -> String {
        text.count <= length ? text : String(text.prefix(length - 1)) + "…"
    }

    var usage: (input: Double, output: Double, cost: Double) {
        let usage = body["usage"]
        let cost = (usage?["cost_usd"]?.numberValue ?? 0) + (body["cost_usd"]?.numberValue ?? 0)
        return (usage?["input_tokens"]?.numberValue ?? 0, usage?["output_tokens"]?.numberValue ?? 0, cost)
    }

    /// One line for a table.
    var cells: [String] {
        [
            String(entry.seq), time, mark, entry.content.toolName ?? entry.content.kind.rawValue, entry.content.userID,
            entry.content.patientID ?? entry.content.patientIDs ?? "-", Self.clip(arguments, 60), resultSummary,
            durationMS.map { String(format: "%.1f ms", $0) } ?? "-",
        ]
    }

    static let header = ["SEQ", "TIME", "", "TOOL", "USER", "PATIENT", "ARGUMENTS", "RESULT", "DURATION"]

    /// The entry for `--format json`: `seq`, `time`, `kind`, `ok`, `tool_name`, `user_id`,
    /// `patient_id`, `patient_ids`, `purpose_of_use`, `turn_number`, `arguments`,
    /// `result_summary`, `duration_ms`, `conversation_id`, `trace_id`, `model`, `usage`.
    var jsonValue: JSONValue {
        let content = entry.content
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        let ok: JSONValue = content.kind == RecordKind.toolCall ? .bool(succeeded) : .null
        return .object([
            "seq": .number(Double(entry.seq)), "time": .string(time), "kind": .string(content.kind.rawValue), "ok": ok,
            "tool_name": text(content.toolName), "user_id": .string(content.userID), "patient_id": text(content.patientID),
            "patient_ids": .array(content.patientIDList.map(JSONValue.string)), "purpose_of_use": text(content.purposeOfUse),
            "turn_number": turn.map { .number(Double($0)) } ?? .null, "arguments": body["arguments"] ?? .null,
            "result_summary": .string(resultSummary), "duration_ms": durationMS.map(JSONValue.number) ?? .null,
            "conversation_id": text(content.conversationID), "trace_id": text(content.traceID), "model": .string(content.model),
            "usage": body["usage"] ?? .null,
        ])
    }
}

/// Prints entries as a table or a JSON array.
func printEntries(_ lines: [EntryLine], format: TableFormat, footer: String? = nil) {
    switch format {
    case .json: print(JSONOutput.pretty(.array(lines.map(\.jsonValue))))
    case .table:
        print(TextTable.render(header: EntryLine.header, rows: lines.map(\.cells)))
        if let footer { print(footer) }
    }
}

/// `caretrail timeline CONVERSATION_ID`.
struct TimelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "A conversation's tool calls in turn order: ✓/✗, tool, sanitised arguments, result summary, duration."
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var archive: ArchiveReadOptions
    @OptionGroup var reader: ReaderOptions
    @Argument(help: "The conversation id.") var conversationID: String
    @Option(help: "Output format.") var format: TableFormat = .table

    func run() async throws {
        try await runReportingFailures {
            let log = try await archive.openLog(store)
            var lines: [EntryLine] = []
            try log.forEachEntry(.conversation(conversationID)) { lines.append(EntryLine($0)) }
            lines.sort { ($0.turn ?? Int.max, $0.entry.seq) < ($1.turn ?? Int.max, $1.entry.seq) }
            let failed = lines.filter { !$0.succeeded }.count
            try reader.record(log, "conversation_timeline", ["conversation": conversationID], results: lines.count)
            printEntries(lines, format: format, footer: "\(lines.count) entries, \(failed) failed")
        }
    }
}

/// `caretrail trace TRACE_ID`.
struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace", abstract: "Every tool call of one agent request (and the request itself), with token usage and cost totals."
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var archive: ArchiveReadOptions
    @OptionGroup var reader: ReaderOptions
    @Argument(help: "The trace id.") var traceID: String
    @Option(help: "Output format.") var format: TableFormat = .table

    func run() async throws {
        try await runReportingFailures {
            let log = try await archive.openLog(store)
            var lines: [EntryLine] = []
            try log.forEachEntry(.trace(traceID)) { lines.append(EntryLine($0)) }
            try reader.record(log, "trace", ["trace": traceID], results: lines.count)
            let input = lines.reduce(0) { $0 + $1.usage.input }
            let output = lines.reduce(0) { $0 + $1.usage.output }
            let cost = lines.reduce(0) { $0 + $1.usage.cost }
            let calls = lines.filter { $0.entry.content.kind == .toolCall }
            let duration = calls.reduce(0) { $0 + ($1.durationMS ?? 0) }
            switch format {
            case .json:
                print(
                    JSONOutput.pretty(
                        .object([
                            "trace_id": .string(traceID), "entries": .array(lines.map(\.jsonValue)),
                            "totals": .object([
                                "tool_calls": .number(Double(calls.count)), "failed": .number(Double(calls.filter { !$0.succeeded }.count)),
                                "input_tokens": .number(input), "output_tokens": .number(output), "cost_usd": .number(cost),
                                "tool_duration_ms": .number(duration),
                            ]),
                        ])))
            case .table:
                printEntries(
                    lines, format: .table,
                    footer: String(
                        format: "%d tool calls (%d failed); tokens in %.0f, out %.0f; cost $%.4f; tool time %.1f ms",
                        calls.count, calls.filter { !$0.succeeded }.count, input, output, cost, duration
                    ))
            }
        }
    }
}

/// `caretrail user USER_ID --since DATE`.
struct UserActivityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "A user's activity since a date, oldest first.")
    @OptionGroup var store: StoreOptions
    @OptionGroup var archive: ArchiveReadOptions
    @OptionGroup var reader: ReaderOptions
    @Argument(help: "The user id.") var userID: String
    @Option(help: "From this time on (RFC 3339 or YYYY-MM-DD).") var since: String?
    @Option(help: "At most this many entries.") var limit: Int = 10_000
    @Option(help: "Output format.") var format: TableFormat = .table

    func run() async throws {
        try await runReportingFailures {
            let lower = try since.map { try DateArgument.parse($0, option: "--since", endOfDay: false) }
            _ = try reader.name()
            let log = try await archive.openLog(store)
            let count = try streamEntries(log, .user(userID), from: lower, limit: limit, format: format)
            try reader.record(log, "user_activity", ["user": userID, "since": since], results: count)
        }
    }
}

/// `caretrail failures --since DATE`.
struct FailuresCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "failures", abstract: "Failed tool calls since a date, oldest first.")
    @OptionGroup var store: StoreOptions
    @OptionGroup var archive: ArchiveReadOptions
    @OptionGroup var reader: ReaderOptions
    @Option(help: "From this time on (RFC 3339 or YYYY-MM-DD).") var since: String?
    @Option(help: "At most this many entries.") var limit: Int = 10_000
    @Option(help: "Output format.") var format: TableFormat = .table

    func run() async throws {
        try await runReportingFailures {
            let lower = try since.map { try DateArgument.parse($0, option: "--since", endOfDay: false) }
            _ = try reader.name()
            let log = try await archive.openLog(store)
            let count = try streamEntries(log, .failures, from: lower, limit: limit, format: format)
            try reader.record(log, "failures", ["since": since], results: count)
        }
    }
}

/// Prints entries as they stream from the store (JSON: one array, written element by element)
/// and returns how many it printed. A streamed read is chained when it ends, with its count.
func streamEntries(_ log: AuditLog, _ query: EntryQuery, from: Timestamp?, limit: Int, format: TableFormat) throws -> Int {
    var count = 0
    switch format {
    case .json:
        var first = true
        FileHandle.standardOutput.write(Data("[".utf8))
        try log.forEachEntry(query, from: from, limit: limit) { entry in
            FileHandle.standardOutput.write(Data(((first ? "\n" : ",\n") + JSONOutput.compact(EntryLine(entry).jsonValue)).utf8))
            first = false
            count += 1
        }
        print(first ? "]" : "\n]")
    case .table:
        print(EntryLine.header.joined(separator: "\t"))
        try log.forEachEntry(query, from: from, limit: limit) { entry in
            print(EntryLine(entry).cells.joined(separator: "\t"))
            count += 1
        }
        print("\(count) entries")
    }
    return count
}

/// `caretrail tool-stats [TOOL]`.
struct ToolStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tool-stats",
        abstract: "Per tool: calls, success rate, mean and p95 duration, unique users.",
        discussion:
            "Computed from per-tool, per-day counters written with each block of postings, and for the block still filling from its index in memory (no scan of the log). p95 comes from a histogram of buckets about 2% wide."
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var reader: ReaderOptions
    @Argument(help: "Only this tool.") var tool: String?
    @Option(help: "From this UTC day on (YYYY-MM-DD).") var since: String?
    @Option(help: "Output format.") var format: TableFormat = .table

    func run() throws {
        try runReportingFailures {
            if let since, (try? DateArgument.parse(since, option: "--since", endOfDay: false)) == nil || since.count != 10 {
                throw CLIFailure(exitCode: .invalidInput, message: "--since: expected a day (YYYY-MM-DD)")
            }
            let log = try store.openLog()
            let stats = try log.toolStatistics(tool: tool, fromDay: since)
            try reader.record(log, "tool_stats", ["tool": tool, "since": since], results: stats.count)
            switch format {
            case .json:
                print(
                    JSONOutput.pretty(
                        .array(
                            stats.map { stat in
                                .object([
                                    "tool_name": .string(stat.toolName), "calls": .number(Double(stat.calls)),
                                    "failures": .number(Double(stat.failures)),
                                    "success_rate": .number((stat.successRate * 10_000).rounded() / 10_000),
                                    "mean_duration_ms": stat.meanDurationMS.map { .number(($0 * 100).rounded() / 100) } ?? .null,
                                    "p95_duration_ms": stat.p95DurationMS.map { .number(($0 * 100).rounded() / 100) } ?? .null,
                                    "unique_users": .number(Double(stat.uniqueUsers)),
                                ])
                            })))
            case .table:
                print(
                    TextTable.render(
                        header: ["TOOL", "CALLS", "SUCCESS", "MEAN", "P95", "USERS"],
                        rows: stats.map { stat in
                            [
                                stat.toolName, String(stat.calls), String(format: "%.1f%%", stat.successRate * 100),
                                stat.meanDurationMS.map { String(format: "%.1f ms", $0) } ?? "-",
                                stat.p95DurationMS.map { String(format: "%.1f ms", $0) } ?? "-", String(stat.uniqueUsers),
                            ]
                        }
                    ))
            }
        }
    }
}
