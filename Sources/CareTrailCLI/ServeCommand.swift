import ArgumentParser
import AuditArchive
import AuditCore
import AuditExport
import AuditKeys
import AuditServer
import AuditStorage
import CareTrail
import Foundation

/// `caretrail serve`: the HTTP API.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API: agents append tool calls, privacy officers read and review.",
        discussion: """
            Every route but /health, /metrics and /fhir/metadata needs a bearer API key from `caretrail keys create`. \
            Streams to the SIEM destinations listed under "streams" in --config, with their lag in /metrics. \
            Stops cleanly on SIGINT or SIGTERM.
            """
    )

    @OptionGroup var store: StoreOptions
    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8080).") var port: Int?
    @Option(help: "Serve HTTPS with this PEM certificate chain (needs --tls-key).") var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "A JSON file with host, port and tls {cert, key}; options given on the command line win.") var config: String?
    @OptionGroup var signing: SigningKeyOptions
    @Option(help: "Seconds between two signed checkpoints, published at GET /v1/checkpoint (1 to 86400; default 60).")
    var checkpointInterval: Double = 60
    @Option(help: "Seconds between two retention runs, the first at start (60 to 31536000; 0: none; default 86400, daily).")
    var retentionInterval: Double = 86_400
    @Option(
        help:
            "The log's archive (a directory, or s3://bucket/prefix; default: the log's configured archive): each retention run first archives old entries there, and reads see archived entries."
    )
    var archive: String?
    @Option(help: "Seconds a console session may stay idle before the officer signs in again (10 to 86400; default 900).")
    var consoleIdleTimeout: Double = 900

    func validate() throws {
        guard consoleIdleTimeout >= 10, consoleIdleTimeout <= 86_400 else {
            throw ValidationError("--console-idle-timeout must be from 10 to 86400 seconds")
        }
        guard checkpointInterval >= 1, checkpointInterval <= 86_400 else {
            throw ValidationError("--checkpoint-interval must be from 1 to 86400 seconds")
        }
        guard retentionInterval == 0 || (60...31_536_000).contains(retentionInterval) else {
            throw ValidationError("--retention-interval must be 0 (none) or from 60 to 31536000 seconds")
        }
    }

    func run() async throws {
        let log: AuditLog
        do {
            log = try store.openLog()
        } catch let failure as CLIFailure {
            printError("caretrail: \(failure.message)")
            throw ExitCode(failure.exitCode.rawValue)
        }
        let file: ServerFile
        do {
            file = try config.map(ServerFile.init(path:)) ?? ServerFile()
        } catch {
            printError("caretrail: \(error)")
            throw ExitCode(CLIExit.invalidInput.rawValue)
        }
        let host = host ?? file.host ?? "127.0.0.1"
        let port = port ?? file.port ?? 8080
        let tlsCert = tlsCert ?? file.tlsCert
        let tlsKey = tlsKey ?? file.tlsKey
        if (tlsCert == nil) != (tlsKey == nil) {
            printError("caretrail: --tls-cert and --tls-key go together")
            throw ExitCode(64)
        }
        let tls = tlsCert.flatMap { cert in tlsKey.map { (certificate: cert, key: $0) } }
        let followers = file.streams.map { stream in
            SIEMFollower(
                target: stream.target, store: log.reader,
                renderer: SIEMRenderer(format: stream.format, maximumMessageLength: stream.maximumMessageLength),
                checkpointInterval: stream.checkpointInterval, entriesPerConfirmation: stream.confirmEvery
            )
        }
        let checkpoints: CheckpointSchedule
        do {
            checkpoints = CheckpointSchedule(
                log: log, keys: try log.signingKeys(file: signing.path, create: true), interval: checkpointInterval)
        } catch {
            printError("caretrail: \(error.message)")
            throw ExitCode(CLIExit.ioError.rawValue)
        }
        var archiving: (destination: any ArchiveDestination, keys: SigningKeyRing)?
        if let archive = archive ?? log.configuredArchive {
            do {
                archiving = (try ArchiveLocation.destination(archive), checkpoints.keys)
            } catch {
                printError("caretrail: --archive: \(error.description)")
                throw ExitCode(CLIExit.invalidInput.rawValue)
            }
        }
        // Reads (reports, traces, exports, streams) see archived entries as if they were hot.
        if let archiving {
            do {
                try await log.attachArchive(archiving.destination)
            } catch {
                printError("caretrail: --archive: \(error.message)")
                throw ExitCode(CLIExit.ioError.rawValue)
            }
        }
        let retention = retentionInterval > 0 ? RetentionSchedule(log: log, interval: retentionInterval, archive: archiving) : nil
        let app: PreparedServer
        do {
            app = try CareTrailServer.prepare(
                log: log, host: host, port: port, tls: tls, streams: followers.map(\.target.name),
                metricsNeedKey: file.metricsNeedKey, checkpoints: checkpoints, retention: retention,
                consoleIdleTimeout: consoleIdleTimeout
            )
        } catch {
            printError("caretrail: cannot use the TLS certificate or key: \(error)")
            throw ExitCode(CLIExit.ioError.rawValue)
        }
        // Alert detection reads its recent history before the first request, not inside the
        // first append's transaction (seconds on a busy log, with every append queued behind it).
        // A failure here is not fatal: the first append tries again.
        do {
            try log.prepareDetection()
        } catch {
            printError("caretrail: alert detection will read its history at the first append: \(error.message)")
        }
        // Each stream runs on a thread of its own (it blocks on its socket) until the server stops.
        for follower in followers {
            let name = follower.target.name
            follower.start { error, wait in
                printError("caretrail: stream to \(name): \(error.message); retrying in \(String(format: "%.1f", wait)) s")
            }
        }
        defer { followers.forEach { $0.stopAndWait() } }
        // Checkpoints are signed from the start, then every interval, until the server stops.
        let signing = Task {
            await checkpoints.run { error in printError("caretrail: cannot sign a checkpoint: \(error.message); retrying") }
        }
        defer { signing.cancel() }
        // Retention runs at start, then every interval, on a task of its own.
        let retaining = Task {
            await retention?.run { error in printError("caretrail: retention run failed: \(error.message); retrying at the next interval") }
        }
        defer { retaining.cancel() }
        // An archive or retention run by another process changes the segments: reload them.
        let refreshing = Task {
            guard archiving != nil else { return }
            await log.keepArchiveFresh(every: 60) { error in
                printError("caretrail: cannot reload the archive: \(error.message); retrying")
            }
        }
        defer { refreshing.cancel() }
        try await app.run()
    }
}

/// One entry of `streams` in the server's configuration file.
struct StreamFile {
    var target: SIEMTarget
    var format: SIEMFormat
    var checkpointInterval: Double
    var maximumMessageLength: Int
    var confirmEvery: Int

    static let keys: Set<String> = ["to", "format", "ca", "cert", "key", "checkpoint_interval", "max_message_length", "confirm_every"]

    init(_ value: JSONValue, index: Int, path: String) throws {
        let at = "\(path): streams[\(index)]"
        guard case .object(let members) = value else { throw CLIFailure(exitCode: .invalidInput, message: "\(at): not an object") }
        if let unknown = members.keys.sorted().first(where: { !Self.keys.contains($0) }) {
            throw CLIFailure(exitCode: .invalidInput, message: "\(at).\(unknown): unknown key")
        }
        func text(_ key: String) throws -> String? {
            guard let member = members[key] else { return nil }
            guard let string = member.stringValue else {
                throw CLIFailure(exitCode: .invalidInput, message: "\(at).\(key): expected a string")
            }
            return string
        }
        func number(_ key: String, default fallback: Double, minimum: Double, maximum: Double = 1e9) throws -> Double {
            guard let member = members[key] else { return fallback }
            guard let number = member.numberValue, number >= minimum, number <= maximum else {
                throw CLIFailure(
                    exitCode: .invalidInput, message: "\(at).\(key): expected a number from \(minimum) to \(maximum)")
            }
            return number
        }
        guard let to = try text("to") else { throw CLIFailure(exitCode: .invalidInput, message: "\(at).to: required") }
        do {
            target = try SIEMTarget(to, ca: try text("ca"), certificate: try text("cert"), key: try text("key"))
        } catch let error as SIEMError {
            throw CLIFailure(exitCode: .invalidInput, message: "\(at): \(error.message)")
        }
        let formatName = try text("format") ?? SIEMFormat.rfc5424FHIR.rawValue
        guard let format = SIEMFormat(rawValue: formatName) else {
            throw CLIFailure(
                exitCode: .invalidInput,
                message: "\(at).format: expected one of \(SIEMFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.format = format
        checkpointInterval = try number("checkpoint_interval", default: 60, minimum: 0.1)
        maximumMessageLength = Int(try number("max_message_length", default: 65_536, minimum: 480))
        confirmEvery = Int(try number("confirm_every", default: 10_000, minimum: 1))
    }
}

/// `caretrail serve --config FILE`: `{"host": "0.0.0.0", "port": 8443, "tls": {"cert": "…", "key": "…"},
/// "streams": [{"to": "syslog+tls://siem:6514", "ca": "…", "format": "rfc5424-fhir"}]}`, every key optional,
/// unknown keys refused.
struct ServerFile {
    var host: String?
    var port: Int?
    var tlsCert: String?
    var tlsKey: String?
    var streams: [StreamFile] = []
    /// `"metrics": {"require_key": true}` puts `/metrics` behind a siem or admin key.
    var metricsNeedKey = false

    init() {}

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIFailure(exitCode: .ioError, message: "cannot read \(path)")
        }
        guard case .object(let members)? = try? JSONParser.parse(String(decoding: data, as: UTF8.self)) else {
            throw CLIFailure(exitCode: .invalidInput, message: "\(path): not a JSON object")
        }
        if let unknown = members.keys.sorted().first(where: { !["host", "port", "tls", "streams", "metrics"].contains($0) }) {
            throw CLIFailure(exitCode: .invalidInput, message: "\(path): \(unknown): unknown key")
        }
        host = members["host"]?.stringValue
        if let value = members["port"] {
            guard let number = value.numberValue, let port = Int(exactly: number), (1...65_535).contains(port) else {
                throw CLIFailure(exitCode: .invalidInput, message: "\(path): port must be an integer from 1 to 65535")
            }
            self.port = port
        }
        if let tls = members["tls"] {
            guard case .object(let parts) = tls, Set(parts.keys).isSubset(of: ["cert", "key"]) else {
                throw CLIFailure(exitCode: .invalidInput, message: "\(path): tls must be {\"cert\": …, \"key\": …}")
            }
            tlsCert = parts["cert"]?.stringValue
            tlsKey = parts["key"]?.stringValue
        }
        if let metrics = members["metrics"] {
            guard case .object(let parts) = metrics, Set(parts.keys).isSubset(of: ["require_key"]),
                let flag = parts["require_key"]?.boolValue
            else {
                throw CLIFailure(exitCode: .invalidInput, message: "\(path): metrics must be {\"require_key\": true|false}")
            }
            metricsNeedKey = flag
        }
        if let list = members["streams"] {
            guard case .array(let items) = list else {
                throw CLIFailure(exitCode: .invalidInput, message: "\(path): streams must be a list")
            }
            streams = try items.enumerated().map { try StreamFile($0.element, index: $0.offset, path: path) }
            let names = streams.map(\.target.name)
            if Set(names).count != names.count {
                throw CLIFailure(exitCode: .invalidInput, message: "\(path): streams: a destination is listed twice")
            }
        }
    }
}
