import AuditCore
import CareTrail
import Foundation
import Hummingbird

/// Values read from a request's query string, checked at the boundary: every integer and date
/// is range-checked before anything is read, and a bad value is a 400 naming the parameter
/// (never echoing the value, which may be PHI).
enum QueryValue {
    /// The integer parameter `name` when present: decimal digits only, within `range`.
    static func integer(_ request: Request, _ name: String, in range: ClosedRange<Int64>) throws -> Int64? {
        guard let text = request.uri.queryParameters[name[...]].map(String.init) else { return nil }
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = Int64(text), range.contains(value)
        else {
            throw APIError.badRequest("\(name): must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A time parameter: RFC 3339, or a UTC day (`endOfDay` runs it to the day's last
    /// millisecond), between 0001-01-01 and 9999-12-31 in UTC.
    static func time(_ request: Request, _ name: String, endOfDay: Bool) throws -> Timestamp? {
        guard let text = request.uri.queryParameters[name[...]].map(String.init) else { return nil }
        if let bound = try? TimeBound.parse(text, endOfDay: endOfDay) { return bound }
        throw APIError.badRequest("\(name): expected RFC 3339 or YYYY-MM-DD, from 0001-01-01 to 9999-12-31 in UTC")
    }

    /// A parameter name fit to quote in an error: plain ASCII letters, digits, `_` and `-`,
    /// at most 40 of them; anything else is described, not quoted.
    static func printable(_ name: String) -> String {
        let plain =
            name.utf8.count <= 40
            && name.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2D
            }
        return plain ? name : "(a name that is not a plain identifier)"
    }

    /// `text` percent-encoded for a query component: only unreserved characters stay as they are.
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
                UInt8(ascii: "|"), UInt8(ascii: "/"), UInt8(ascii: ":"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
