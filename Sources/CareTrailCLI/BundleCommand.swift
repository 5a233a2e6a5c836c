import ArgumentParser
import AuditChain
import CareTrail
import Foundation

/// `caretrail bundle`: a patient's entries with their proofs and a signed checkpoint, for an
/// auditor to check offline.
struct BundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Write a verifiable export bundle: a patient's entries, their inclusion proofs and a signed checkpoint.",
        discussion: """
            The entries are those of the patient access report for the period (accesses, alerts, reviews), as the \
            canonical JSON lines that were hashed. Signs a checkpoint of the log as it is now (see caretrail \
            checkpoint). An auditor checks the file with caretrail verify-bundle FILE --key KEYFILE, or with any \
            implementation of the documented format.
            """
    )
    @OptionGroup var store: StoreOptions
    @OptionGroup var archive: ArchiveReadOptions
    @OptionGroup var signing: SigningKeyOptions
    @OptionGroup var reader: ReaderOptions
    @Option(help: "The patient's record id (or use --pseudonym / --name).") var patient: String?
    @Option(help: "The patient as a pseudonym the log stores (hmac-sha256:…).") var pseudonym: String?
    @Option(help: "The patient by a clear-text value: pseudonymised before the query, never stored or logged.") var name: String?
    @Option(help: "Start of the period (RFC 3339 or YYYY-MM-DD), included.") var from: String?
    @Option(help: "End of the period (RFC 3339 or YYYY-MM-DD), included.") var to: String?
    @Option(help: "IANA time zone for day-only dates (default UTC).") var timeZone: String?
    @Option(help: "The bundle file to write.") var out: String

    func run() async throws {
        try await runReportingFailures {
            let subject = try reportSubject(patientID: patient, pseudonym: pseudonym, name: name, idName: "--patient ID")
            let (lower, upper) = try reportPeriod(from: from, to: to, timeZone: timeZone)
            let log = try await archive.openLog(store)
            let bundle = try log.bundle(subject, from: lower, to: upper, keys: try log.signingKeys(file: signing.path, create: true))
            try reader.record(
                log, "patient_bundle",
                ["patient": patient, "pseudonym": pseudonym ?? name.flatMap { log.pseudonym(for: $0) }, "from": from, "to": to],
                results: bundle.entries.count)
            guard FileManager.default.createFile(atPath: out, contents: Data(bundle.serialized)) else {
                throw CLIFailure(exitCode: .ioError, message: "cannot write \(out)")
            }
            print(
                "wrote \(bundle.entries.count) entries, their proofs and the checkpoint of \(bundle.checkpoint.origin) at size \(bundle.checkpoint.size) to \(out)"
            )
        }
    }
}

/// `caretrail verify-bundle`: checks a bundle with nothing but the file and the verifier key.
struct VerifyBundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-bundle",
        abstract:
            "Check an export bundle offline: every entry hashes to its leaf, every proof reaches the checkpoint's root, and the signature is good.",
        discussion:
            "Needs no database. Exit 0 when the bundle holds, 1 when it does not (the reason is named), 2 when a file is unreadable as what it should be."
    )
    @Argument(help: "The bundle file.") var file: String
    @Option(help: "A file holding the log's verifier key line.") var key: String

    func run() throws {
        try runReportingFailures {
            let verifierKey = try readVerifierKey(key)
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIFailure(exitCode: .ioError, message: "cannot read the bundle \(file)")
            }
            do throws(LogBundle.Failure) {
                let bundle = try LogBundle.verified([UInt8](data), key: verifierKey)
                print(
                    "intact: \(bundle.entries.count) entries of \(bundle.checkpoint.origin) are in its tree of \(bundle.checkpoint.size) entries, signed by \(verifierKey.name)"
                )
            } catch {
                printError("caretrail: \(file): \(error.description)")
                throw ExitCode(error.reason == .malformed ? CLIExit.invalidInput.rawValue : CLIExit.integrityFailure.rawValue)
            }
        }
    }
}
