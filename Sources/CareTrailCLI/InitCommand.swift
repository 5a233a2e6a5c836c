import ArgumentParser
import AuditCore
import AuditKeys
import CareTrail

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a new audit database and its pseudonymisation key file (mode 0600)."
    )

    @OptionGroup var store: StoreOptions
    @Option(help: "Output format.") var format: OutputFormat = .text

    func run() throws {
        try runReportingFailures {
            let path = try store.databasePath()
            let keyFile = store.keyFilePath ?? AuditLog.defaultKeyFile(forDatabase: path)
            let log = try AuditLog.create(database: path, keyFile: keyFile, policy: try store.sanitizerPolicy())
            switch format {
            case .json:
                print(
                    JSONOutput.compact([
                        "database": .string(path), "key_file": .string(keyFile), "key_id": .string(log.keyRing.currentID),
                    ]))
            case .text:
                print("created audit database \(path)")
                print("created key file \(keyFile) (mode 0600, key \(log.keyRing.currentID)); keep it apart from database backups")
            }
        }
    }
}
