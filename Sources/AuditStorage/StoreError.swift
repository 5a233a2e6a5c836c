/// Why the store could not do what was asked. Messages never contain entry content.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// No database at the path.
        case notFound = "not_found"
        /// `create` found a database already there.
        case alreadyExists = "already_exists"
        /// The file is not a CareTrail log (or a newer format).
        case notACareTrailLog = "not_a_caretrail_log"
        /// An append could not be made durable; nothing of it was stored.
        case appendFailed = "append_failed"
        /// Reading failed.
        case readFailed = "read_failed"
        /// A sequence number or tree size beyond the log (a proof asked of entries it does
        /// not hold).
        case outOfRange = "out_of_range"
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
