import ArgumentParser
import AuditAnalysis
import CareTrail
import Foundation

/// Who runs a read from the command line. Every report, search, export and alert listing the
/// CLI prints is chained first as an `audit_access` entry naming this reader, as the console
/// and the HTTP API do for their readers: HIPAA asks who looked at the audit trail too.
///
/// The command line has no API key: whoever can open the database reads every tenant, so the
/// entry records the role `operator` and the tenant `*`.
struct ReaderOptions: ParsableArguments {
    @Option(help: "Who is reading, as the audit_access entry this read chains names them (default: $CARETRAIL_READER, else $USER).")
    var reader: String?

    /// The longest reader name accepted.
    static let maximumLength = 128

    /// The reader: `--reader`, `CARETRAIL_READER`, `USER`, else `cli`. Commands that stream
    /// call it before they print anything, so that a bad name exits 2 with nothing written.
    func name() throws -> String {
        if let reader { return try Self.checked(reader, option: "--reader") }
        let environment = ProcessInfo.processInfo.environment
        if let name = environment["CARETRAIL_READER"], !name.isEmpty { return try Self.checked(name, option: "CARETRAIL_READER") }
        return KeysCommand.currentUser()
    }

    /// `text` when it names someone: not blank, at most ``maximumLength`` characters, no
    /// control characters.
    static func checked(_ text: String, option: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= maximumLength,
            !trimmed.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) })
        else {
            throw CLIFailure(exitCode: .invalidInput, message: "\(option): a name of 1 to \(maximumLength) printable characters")
        }
        return trimmed
    }

    /// Chains the read `query` with its `parameters` (empty ones left out) and the number of
    /// entries or alerts it returned. A read that cannot be chained fails with exit 3.
    func record(_ log: AuditLog, _ query: String, _ parameters: [String: String?] = [:], results: Int) throws {
        let reader = try name()
        let parameters = parameters.compactMapValues { value in value.flatMap { $0.isEmpty ? nil : $0 } }
        do {
            try log.recordAuditAccess(
                AuditAccess(
                    reader: reader, role: "operator", tenant: "*", query: query, parameters: parameters, results: results, channel: "cli"))
        } catch {
            throw CLIFailure(exitCode: .ioError, message: "cannot chain this read as an audit_access entry: \(error.message)")
        }
    }
}
