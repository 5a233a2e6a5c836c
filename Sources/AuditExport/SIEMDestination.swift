/// Where messages go.
///
/// Delivery is at least once: ``send(_:)`` hands messages over, and ``confirm()`` returns only
/// once the destination has accepted everything sent since the last confirmation. Only then
/// does the streamer advance the durable cursor, so whatever was not confirmed is sent again
/// after a failure or a restart.
public protocol SIEMDestination: AnyObject {
    /// A stable name for the cursor, e.g. `syslog+tls://siem.example:6514`.
    var name: String { get }
    /// Hands messages over, in order. Throws when the destination cannot take them (a send may
    /// report that an earlier one, still in flight, failed).
    func send(_ messages: [[UInt8]]) throws(SIEMError)
    /// Returns once the destination has accepted everything sent so far; throws when that
    /// cannot be known, in which case the messages count as not delivered.
    func confirm() throws(SIEMError)
    func close()
}

/// Why delivery stopped. The message names the destination, never an entry's content.
public struct SIEMError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The destination could not be reached or opened.
        case unreachable
        /// TLS failed: wrong CA, bad certificate, handshake refused.
        case tls
        /// The destination stopped taking bytes or did not confirm them.
        case notAccepted = "not_accepted"
        /// A destination or option the streamer cannot use.
        case invalidTarget = "invalid_target"
        /// The log could not be read or the cursor could not be stored.
        case store
    }

    public var code: Code
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
