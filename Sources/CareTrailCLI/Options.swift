import ArgumentParser
import AuditCore
import AuditStorage
import CareTrail
import Foundation

/// Where the log and its keys are: `--db` (or `CARETRAIL_DB`), `--key-file` (or
/// `CARETRAIL_KEY_FILE`, default `<db>.keys.json`), `--policy` (or `CARETRAIL_POLICY`).
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The database: a SQLite file, or postgres://user@host[:port]/dbname (default: $CARETRAIL_DB).")
    var db: String?

    @Option(name: .long, help: "The pseudonymisation key file (default: $CARETRAIL_KEY_FILE, else <db>.keys.json).")
    var keyFile: String?

    @Option(name: .long, help: "A sanitizer policy JSON file (default: $CARETRAIL_POLICY); it must be the policy chained in the log.")
    var policy: String?

    func databasePath() throws -> String {
        if let db { return db }
        if let db = ProcessInfo.processInfo.environment["CARETRAIL_DB"], !db.isEmpty { return db }
        throw ValidationError("no database: pass --db PATH or set CARETRAIL_DB")
    }

    var keyFilePath: String? {
        keyFile ?? ProcessInfo.processInfo.environment["CARETRAIL_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The policy named by `--policy` or `CARETRAIL_POLICY`, if any. A log runs the policy
    /// chained in it; a process given another one is refused (exit 2).
    func sanitizerPolicy() throws -> SanitizerPolicy? {
        guard let path = policy ?? ProcessInfo.processInfo.environment["CARETRAIL_POLICY"], !path.isEmpty else {
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIFailure(exitCode: .ioError, message: "cannot read the policy file \(path)")
        }
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(SanitizerPolicy.self, from: data)
        } catch {
            throw CLIFailure(exitCode: .ioError, message: "the policy file \(path) is not a valid sanitizer policy")
        }
    }

    func openLog() throws -> AuditLog {
        do {
            return try AuditLog.open(database: try databasePath(), keyFile: keyFilePath, policy: try sanitizerPolicy())
        } catch let error as CareTrailError {
            // A policy the log has not chained is bad input (exit 2); anything else an I/O failure.
            throw CLIFailure(exitCode: error.code == .invalidArgument ? .invalidInput : .ioError, message: error.message)
        }
    }
}

/// `--format text|json`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// The exit codes scripts can rely on.
enum CLIExit: Int32 {
    /// Success; for `verify`, the log is intact.
    case success = 0
    /// `verify`: the log is damaged (or does not hold the expected head).
    case integrityFailure = 1
    /// Input records broke the contract; nothing was appended.
    case invalidInput = 2
    /// The database, key file or an input file could not be used.
    case ioError = 3
}

/// A failure with a message for stderr and a documented exit code.
/// Where commands that read entries find the archived ones.
struct ArchiveReadOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "The cold archive to read archived entries from: a directory or s3://bucket/prefix (default: the log's configured archive)."
    )
    var archive: String?

    /// Opens the log and attaches the archive `--archive` or the log's configuration names.
    func openLog(_ store: StoreOptions) async throws -> AuditLog {
        let log = try store.openLog()
        try await log.attachArchive(named: archive)
        return log
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    var exitCode: CLIExit
    var message: String
    var description: String { message }
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs a command body, turning failures into a message on stderr and the right exit code.
func runReportingFailures(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch {
        throw reported(error)
    }
}

/// ``runReportingFailures(_:)`` for asynchronous commands.
func runReportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        throw reported(error)
    }
}

/// Prints a failure's message on stderr and returns the exit code to throw; any other error
/// (an `ExitCode`, a validation error) passes through.
private func reported(_ error: any Error) -> any Error {
    if let failure = error as? CLIFailure {
        printError("caretrail: \(failure.message)")
        return ExitCode(failure.exitCode.rawValue)
    }
    if let error = error as? CareTrailError {
        printError("caretrail: \(error.description)")
        let invalid: Set<CareTrailError.Code> = [.invalidRecords, .noRecords, .invalidArgument, .notFound, .forbidden]
        return ExitCode(invalid.contains(error.code) ? CLIExit.invalidInput.rawValue : CLIExit.ioError.rawValue)
    }
    return error
}
