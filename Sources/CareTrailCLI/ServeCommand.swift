import ArgumentParser
import AuditServer
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
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "Port to listen on.") var port: Int = 8080
    @Option(help: "Serve HTTPS with this PEM certificate chain (needs --tls-key).") var tlsCert: String?
    @Option(help: "The PEM private key of --tls-cert.") var tlsKey: String?

    func run() async throws {
        let log: AuditLog
        do {
            log = try store.openLog()
        } catch let failure as CLIFailure {
            printError("caretrail: \(failure.message)")
            throw ExitCode(failure.exitCode.rawValue)
        }
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
