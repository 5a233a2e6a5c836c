import ArgumentParser
import AuditExport
import AuditStore
import CareTrail
import Dispatch
import Foundation
import Synchronization

/// `--format rfc5424-fhir|rfc5424-json|cef|jsonl`.
enum SIEMFormatArgument: String, ExpressibleByArgument, CaseIterable {
    case rfc5424FHIR = "rfc5424-fhir"
    case rfc5424JSON = "rfc5424-json"
    case cef
    case jsonl

    var format: SIEMFormat { SIEMFormat(rawValue: rawValue) ?? .jsonl }
}

/// `caretrail stream`: the log to a SIEM, at least once, resumable.
struct StreamCommand: ParsableCommand {
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

    func makeDestination() throws -> any SIEMDestination {
        if to.hasPrefix("file:") { return try FileDestination(path: String(to.dropFirst(5))) }
        for (scheme, secure) in [("syslog+tls://", true), ("syslog+tcp://", false)] where to.hasPrefix(scheme) {
            let address = to.dropFirst(scheme.count)
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
                throw CLIFailure(exitCode: .invalidInput, message: "--to: expected \(scheme)HOST:PORT")
            }
            let host = String(address[..<colon])
            if secure {
                guard let ca else { throw CLIFailure(exitCode: .invalidInput, message: "--ca is required for syslog+tls") }
                return try SyslogDestination(host: host, port: port, tls: try SyslogDestination.tlsConfiguration(ca: ca, certificate: cert, key: key))
            }
            return try SyslogDestination(host: host, port: port, tls: nil)
        }
        throw CLIFailure(exitCode: .invalidInput, message: "--to: expected syslog+tls://HOST:PORT, syslog+tcp://HOST:PORT or file:PATH")
    }

    func run() throws {
        try runReportingFailures {
            let log = try store.openLog()
            let renderer = SIEMRenderer(format: format.format, maximumMessageLength: maxMessageLength)
            if once {
                let destination: any SIEMDestination
                do {
                    destination = try makeDestination()
                } catch let error as SIEMError {
                    throw CLIFailure(exitCode: .ioError, message: error.message)
                }
                defer { destination.close() }
                do {
                    let delivered = try SIEMStreamer(store: log.store, renderer: renderer, destination: destination).deliverBacklog(fromSeq: fromSeq)
                    printError("caretrail: \(delivered) entries delivered to \(destination.name)")
                } catch {
                    throw CLIFailure(exitCode: .ioError, message: "\(error); the cursor stays at the last entry the destination took")
                }
                return
            }
            try follow(log, renderer)
        }
    }

    /// Follows the log until SIGINT or SIGTERM.
    private func follow(_ log: AuditLog, _ renderer: SIEMRenderer) throws {
        let stopping = StopFlag()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stopping.set() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        var fromSeq = fromSeq
        var backoff = 0.5
        var lastCheckpoint = Date.distantPast
        while !stopping.isSet {
            do {
                let destination = try makeDestination()
                defer { destination.close() }
                backoff = 0.5
                while !stopping.isSet {
                    let due = Date().timeIntervalSince(lastCheckpoint) >= checkpointInterval
                    let delivered = try SIEMStreamer(store: log.store, renderer: renderer, destination: destination)
                        .deliverBacklog(fromSeq: fromSeq, checkpoint: due, stop: { stopping.isSet })
                    fromSeq = nil
                    if due { lastCheckpoint = Date() }
                    if delivered == 0 { Thread.sleep(forTimeInterval: 0.2) }
                }
            } catch {
                printError("caretrail: \(error); retrying in \(String(format: "%.1f", backoff)) s")
                Thread.sleep(forTimeInterval: backoff * Double.random(in: 0.5...1.5))
                backoff = min(backoff * 2, 30)
            }
        }
    }
}

/// Set from a signal handler, read by the delivery loop.
final class StopFlag: Sendable {
    private let value = Mutex(false)

    var isSet: Bool { value.withLock { $0 } }

    func set() { value.withLock { $0 = true } }
}
