import ArgumentParser
import AuditCore
import AuditKeys
import CareTrail
import Foundation

struct PIIKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pii-key",
        abstract: "Manage the pseudonymisation keys: list them, or rotate to a new one.",
        subcommands: [List.self, Rotate.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List key ids and which one is current (never the secrets).")
        @OptionGroup var store: StoreOptions
        @Option(help: "Output format.") var format: OutputFormat = .text

        func run() throws {
            try runReportingFailures {
                let log = try store.openLog()
                let keys = log.keyRing.keys
                switch format {
                case .json:
                    print(
                        JSONOutput.compact(
                            .array(
                                keys.map {
                                    [
                                        "id": .string($0.id), "created_at": .string($0.createdAt),
                                        "current": .bool($0.id == log.keyRing.currentID),
                                    ]
                                })))
                case .text:
                    for key in keys { print("\(key.id)\t\(key.createdAt)\(key.id == log.keyRing.currentID ? "\tcurrent" : "")") }
                }
            }
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a new key and make it current. Old keys stay, so old entries stay searchable under their key id."
        )
        @OptionGroup var store: StoreOptions

        func run() throws {
            try runReportingFailures {
                let path = try store.databasePath()
                let keyFile = URL(fileURLWithPath: store.keyFilePath ?? AuditLog.defaultKeyFile(forDatabase: path))
                do throws(KeyRing.FileError) {
                    var ring = try KeyRing.load(from: keyFile)
                    let id = ring.rotate()
                    try ring.save(to: keyFile, overwrite: true)
                    print("new entries now use key \(id); \(ring.keys.count) keys in \(keyFile.path)")
                } catch {
                    throw CLIFailure(exitCode: .ioError, message: error.message)
                }
            }
        }
    }
}
