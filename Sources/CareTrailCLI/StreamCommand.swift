import ArgumentParser
import AuditExport
import AuditStorage
import CareTrail
import Dispatch
import Foundation

/// `--format rfc5424-fhir|rfc5424-json|cef|jsonl`.
enum SIEMFormatArgument: String, ExpressibleByArgument, CaseIterable {
    case rfc5424FHIR = "rfc5424-fhir"
    case rfc5424JSON = "rfc5424-json"
    case cef
    case jsonl

    var format: SIEMFormat { SIEMFormat(rawValue: rawValue) ?? .jsonl }
}

/// `caretrail stream`: the log to a SIEM, at least once, resumable.
struct StreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Stream the log to a SIEM: syslog over TLS or TCP, or a file; at least once, in order, resumable.",
        discussion: """
            The cursor (per destination, kept in the log) advances only after the destination took the bytes; a restart \
            resumes after it. Every message carries the entry's sequence number, so the receiver can drop duplicates and see \
            gaps. --once delivers the backlog and a checkpoint (the head) and exits 0; otherwise the command follows the log \
            (new entries within a second), sends a checkpoint every --checkpoint-interval seconds even when idle, reconnects \
            with exponential backoff and jitter, and stops cleanly on SIGINT or SIGTERM.
            """
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var archive: ArchiveReadOptions
    @Option(help: "syslog+tls://HOST:PORT, syslog+tcp://HOST:PORT or file:PATH.") var to: String
    @Option(help: "Message format.") var format: SIEMFormatArgument = .rfc5424FHIR
    @Option(help: "The CA that signed the collector's certificate (syslog+tls).") var ca: String?
    @Option(help: "Client certificate for mutual TLS (PEM).") var cert: String?
    @Option(help: "Client private key for mutual TLS (PEM).") var key: String?
    @Option(help: "Start at this sequence number instead of the cursor.") var fromSeq: Int64?
    @Flag(help: "Deliver the backlog up to the current head, then exit.") var once = false
    @Option(help: "Seconds between checkpoints when following.") var checkpointInterval: Double = 60
    @Option(help: "Longest syslog message sent as is (bytes); longer bodies are replaced by a notice naming the entry.")
    var maxMessageLength: Int = 65_536

    @Option(help: "Entries per confirmed session: the cursor advances in such steps, and at most this many are sent twice after a failure.")
    var confirmEvery: Int = 10_000

    func run() async throws {
        try await runReportingFailures {
            let log = try await archive.openLog(store)
            let renderer = SIEMRenderer(format: format.format, maximumMessageLength: maxMessageLength)
            let target: SIEMTarget
            do throws(SIEMError) {
                target = try SIEMTarget(to, ca: ca, certificate: cert, key: key)
            } catch {
                throw CLIFailure(exitCode: .invalidInput, message: error.message)
            }
            guard confirmEvery > 0 else { throw CLIFailure(exitCode: .invalidInput, message: "--confirm-every must be at least 1") }
            if once {
                do throws(SIEMError) {
                    let destination = try target.open()
                    defer { destination.close() }
                    var streamer = SIEMStreamer(store: log.reader, renderer: renderer, destination: destination)
                    streamer.entriesPerConfirmation = confirmEvery
                    let delivered = try streamer.deliverBacklog(fromSeq: fromSeq)
                    printError("caretrail: \(delivered) entries delivered to \(destination.name)")
                } catch {
                    throw CLIFailure(
                        exitCode: .ioError, message: "\(error.message); the cursor stays at the last entry the destination confirmed")
                }
                return
            }
            follow(
                SIEMFollower(
                    target: target, store: log.reader, renderer: renderer, checkpointInterval: checkpointInterval,
                    entriesPerConfirmation: confirmEvery))
        }
    }

    /// Follows the log until SIGINT or SIGTERM.
    private func follow(_ follower: SIEMFollower) {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { follower.stop() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        follower.run(fromSeq: fromSeq) { error, wait in
            printError("caretrail: \(error.message); retrying in \(String(format: "%.1f", wait)) s")
        }
    }
}
