import ArgumentParser
import AuditCore
import AuditKeys
import CareTrail

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract:
            "Create a new audit log (a SQLite file, or the schema and roles in a postgres:// database) and its pseudonymisation key file (mode 0600)."
    )

    @OptionGroup var store: StoreOptions
    @Option(help: "Output format.") var format: OutputFormat = .text

    func run() throws {
        try runReportingFailures {
            let path = try store.databasePath()
            let postgres = AuditLog.isPostgres(path)
            // A PostgreSQL log has no file to put the key file beside: it must be named.
            let named = store.keyFilePath ?? (postgres ? nil : AuditLog.defaultKeyFile(forDatabase: path))
            let log = try AuditLog.create(database: path, keyFile: named, policy: try store.sanitizerPolicy())
            let keyFile = named ?? ""
            let granted = postgres ? AuditLog.postgresGrants : []
            switch format {
            case .json:
                var output: [String: JSONValue] = [
                    "database": .string(log.location), "key_file": .string(keyFile), "key_id": .string(log.keyRing.currentID),
                ]
                if postgres { output["granted"] = .array(granted.map(JSONValue.string)) }
                print(JSONOutput.compact(.object(output)))
            case .text:
                print("created audit database \(log.location)")
                print("created key file \(keyFile) (mode 0600, key \(log.keyRing.currentID)); keep it apart from database backups")
                for grant in granted { print("granted \(grant)") }
            }
        }
    }
}
