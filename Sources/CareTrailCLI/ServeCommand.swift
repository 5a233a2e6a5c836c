import ArgumentParser
import AuditCore
import AuditServer
import Foundation
import CareTrail
import Hummingbird

/// `caretrail serve`: the HTTP API.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the HTTP API: agents append tool calls, privacy officers read and review.",
        discussion: "Every route but /health needs a bearer API key from `caretrail keys create`. Stops cleanly on SIGINT or SIGTERM."
    )

    @OptionGroup var store: StoreOptions
    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8080).") var port: Int?
    @Option(help: "Serve HTTPS with this PEM certificate chain (needs --tls-key).") var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "A JSON file with host, port and tls {cert, key}; options given on the command line win.") var config: String?

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
        let app: any ApplicationProtocol
        do {
            app = try CareTrailServer.application(log: log, host: host, port: port, tls: tls)
        } catch {
            printError("caretrail: cannot use the TLS certificate or key: \(error)")
            throw ExitCode(CLIExit.ioError.rawValue)
        }
        try await app.runService()
    }
}

/// `caretrail serve --config FILE`: `{"host": "0.0.0.0", "port": 8443, "tls": {"cert": "…", "key": "…"}}`,
/// every key optional, unknown keys refused.
struct ServerFile {
    var host: String?
    var port: Int?
    var tlsCert: String?
    var tlsKey: String?

    init() {}

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIFailure(exitCode: .ioError, message: "cannot read \(path)") }
        guard case .object(let members)? = try? JSONParser.parse(String(decoding: data, as: UTF8.self)) else {
            throw CLIFailure(exitCode: .invalidInput, message: "\(path): not a JSON object")
        }
        if let unknown = members.keys.sorted().first(where: { !["host", "port", "tls"].contains($0) }) {
            throw CLIFailure(exitCode: .invalidInput, message: "\(path): \(unknown): unknown key")
        }
        host = members["host"]?.stringValue
        port = members["port"]?.numberValue.map { Int($0) }
        if let tls = members["tls"] {
            guard case .object(let parts) = tls, Set(parts.keys).isSubset(of: ["cert", "key"]) else {
                throw CLIFailure(exitCode: .invalidInput, message: "\(path): tls must be {\"cert\": …, \"key\": …}")
            }
            tlsCert = parts["cert"]?.stringValue
            tlsKey = parts["key"]?.stringValue
        }
    }
}
