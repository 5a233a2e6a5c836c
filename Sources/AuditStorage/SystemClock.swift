public import AuditCore
import Foundation

/// The system clock, in whole milliseconds: the default clock of a log.
public enum SystemClock {
    /// Now, by the system clock.
    public static let now: @Sendable () -> Timestamp = {
        Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
