import ArgumentParser
import AuditChain
import AuditCore
import AuditStorage
import CareTrail

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print stored entries as JSON: one by sequence number, or a whole trace (its agent request, then its tool calls)."
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var archive: ArchiveReadOptions
    @OptionGroup var reader: ReaderOptions
    @Option(help: "The entry's sequence number.") var seq: Int64?
    @Option(help: "A trace id: print the trace's request and tool calls.") var trace: String?

    func validate() throws {
        guard (seq == nil) != (trace == nil) else { throw ValidationError("pass exactly one of --seq N or --trace ID") }
    }

    func run() async throws {
        try await runReportingFailures {
            let log = try await archive.openLog(store)
            do {
                if let seq {
                    let entry = try log.entry(seq: seq)
                    try reader.record(log, "entry", ["seq": String(seq)], results: entry == nil ? 0 : 1)
                    guard let entry else { throw CLIFailure(exitCode: .ioError, message: "no entry with seq \(seq)") }
                    print(JSONOutput.pretty(entry.jsonValue))
                } else if let trace {
                    let entries = try log.entries(trace: trace)
                    // The request first, then its tool calls in log order.
                    let ordered =
                        entries.filter { $0.content.kind == .agentRequest }
                        + entries.filter { $0.content.kind != .agentRequest }
                    try reader.record(log, "trace", ["trace": trace], results: ordered.count)
                    print(JSONOutput.pretty(.array(ordered.map(\.jsonValue))))
                }
            } catch let error as CLIFailure {
                throw error
            } catch {
                throw CLIFailure(exitCode: .ioError, message: "cannot read the log")
            }
        }
    }
}
