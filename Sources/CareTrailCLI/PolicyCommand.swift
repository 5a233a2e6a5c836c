import ArgumentParser
import AuditCore
import Foundation

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract:
            "Print the sanitizer's default field lists as JSON: a starting point for the sanitizer_policy member of caretrail config set."
    )

    func run() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(SanitizerPolicy.default)
        print(String(decoding: data, as: UTF8.self))
    }
}
