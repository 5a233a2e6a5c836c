/// Why an archive operation failed. Messages name objects and sequence numbers, never an
/// entry's content.
public struct ArchiveError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The destination could not be reached, written or read.
        case destination = "archive_destination"
        /// An object of the archive is malformed: a manifest, an index, a frame, the catalog.
        case malformed = "archive_malformed"
        /// The destination's address or settings are unusable.
        case invalidDestination = "archive_invalid_destination"
        /// What was read back differs from what was written.
        case readBack = "archive_read_back"
    }

    public var code: Code
    public var message: String
    /// The underlying failure, when there is one (an I/O error, an HTTP status).
    public var cause: String?

    public init(code: Code, message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { cause.map { "\(message): \($0)" } ?? message }
}
