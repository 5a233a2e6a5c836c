import ArgumentParser
import AuditCore
import AuditKeys
import CareTrail

struct PseudonymCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pseudonym",
        abstract: "Print the keyed pseudonym of a value, to find every entry about a person.",
        discussion:
            "The value is normalised (lower-cased, whitespace collapsed) as stored values are. It is never logged or stored. Entries written under an older key carry that key's id in their tokens: use --all-keys to print one token per key."
    )

    @OptionGroup var store: StoreOptions
    @Argument(help: "The value, e.g. a name, SSN or birth date.") var value: String
    @Option(help: "Use this key id instead of the current key.") var keyID: String?
    @Flag(help: "Print the token under every key.") var allKeys = false
    @Option(help: "Output format.") var format: OutputFormat = .text

    func run() throws {
        try runReportingFailures {
            let log = try store.openLog()
            let ids = allKeys ? log.keyRing.keys.map(\.id) : [keyID ?? log.keyRing.currentID]
            var tokens: [(String, String)] = []
            for id in ids {
                guard let token = log.pseudonym(for: value, keyID: id) else {
                    throw CLIFailure(exitCode: .ioError, message: "no key with id \(id) in the key file")
                }
                tokens.append((id, token))
            }
            switch format {
            case .json:
                print(JSONOutput.compact(.array(tokens.map { ["key_id": .string($0.0), "pseudonym": .string($0.1)] })))
            case .text:
                for (_, token) in tokens { print(token) }
            }
        }
    }
}
