public import AuditCore
import Foundation

/// A bound of a time range as people type it, on the command line or in a query string:
/// RFC 3339 with an offset, or a calendar day (`YYYY-MM-DD`) that starts at midnight or, as an
/// upper bound, ends at 23:59:59.999, in a time zone (IANA; UTC by default). The one parser
/// of dates: the CLI and the HTTP API both read their bounds through it.
public enum TimeBound {
    /// Why a bound was refused.
    public enum Failure: Error, Sendable, Equatable {
        /// Neither RFC 3339 with an offset nor an existing day between 0001-01-01 and 9999-12-31.
        case notATime
        /// The time zone is not an IANA identifier.
        case unknownTimeZone
    }

    /// The instant `text` names; `endOfDay` makes a day its last millisecond.
    public static func parse(_ text: String, endOfDay: Bool, timeZone: String? = nil) throws(Failure) -> Timestamp {
        if let timestamp = Timestamp(rfc3339: text) { return timestamp }
        let zone: TimeZone
        if let timeZone {
            guard let named = TimeZone(identifier: timeZone) else { throw .unknownTimeZone }
            zone = named
        } else {
            zone = TimeZone(identifier: "UTC") ?? .current
        }
        let parts = text.split(separator: "-")
        // The day must exist (the RFC 3339 reader refuses February 30 and years past 9999).
        guard text.utf8.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            Timestamp(rfc3339: text + "T00:00:00Z") != nil
        else { throw .notATime }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var components = DateComponents()
        (components.year, components.month, components.day) = (year, month, day + (endOfDay ? 1 : 0))
        guard let date = calendar.date(from: components) else { throw .notATime }
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded()) - (endOfDay ? 1 : 0)
        return Timestamp(millisecondsSinceEpoch: milliseconds)
    }
}
