import AuditArchive
public import AuditCore
public import AuditStorage

/// Why the audit log refused or failed an operation: the one error type of ``AuditLog``, for
/// the CLI, the HTTP API and agents alike. It has a stable ``code``, a message that never
/// contains PHI, and the lower-level error that caused it, if any (a ``StoreError``,
/// whose message is PHI-free too).
public struct CareTrailError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// One or more records broke the ingest contract; nothing was appended.
        case invalidRecords = "invalid_records"
        /// The key file is missing, unreadable or too open.
        case keyFile = "key_file"
        /// The database could not be opened, read or written.
        case store
        /// A tool call could not be recorded, so its result was withheld (fail closed).
        case auditWriteFailed = "audit_write_failed"
        /// An input file could not be read.
        case input
        /// An argument is missing or not acceptable (e.g. a review without reviewer).
        case invalidArgument = "invalid_argument"
        /// What was asked for (an alert id) is not in the log.
        case notFound = "not_found"
        /// The input held no record (an empty file or body, or blank lines only); nothing was
        /// appended. Every way in refuses it alike: an empty ingest usually means a wrong file
        /// or a broken pipe, and an audit log must not report success for records it never saw.
        case noRecords = "no_records"
        /// The caller may not append these records (an API key appending another tenant's);
        /// nothing was appended.
        case forbidden
        /// The cold archive could not be written, read or checked; the hot log is unchanged.
        case archive
    }

    public var code: Code
    public var message: String
    /// For ``Code/invalidRecords``: each bad record, with its line.
    public var recordErrors: [IngestError]
    /// The error that caused this one, if any.
    public var cause: (any Error & Sendable)?

    public init(code: Code, message: String, recordErrors: [IngestError] = [], cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.recordErrors = recordErrors
        self.cause = cause
    }

    /// A storage failure, with its cause.
    public init(_ error: StoreError) {
        // A proof asked of entries the log does not hold is a bad argument, not a broken store.
        self.init(code: error.code == .outOfRange ? .invalidArgument : .store, message: error.message, cause: error)
    }

    public var description: String {
        // An archive failure says what the destination answered (an HTTP status, an I/O error).
        if code == .archive, let cause = cause as? ArchiveError { return "\(message): \(cause.description)" }
        guard !recordErrors.isEmpty else { return message }
        return ([message] + recordErrors.map { "  \($0)" }).joined(separator: "\n")
    }
}
