import Foundation

/// Values an agent or a reader can send that once crashed the server, poisoned an export or
/// slipped past a bound: numbers at and beyond every limit, dates at the edges of the
/// calendar, control characters, formula starts, long and empty strings.
public enum Hostile {
    public static let numbers: [String] = [
        "-1", "0", "0.5", "1", "3.25", "2147483647", "2147483648", "604800000", "604800001", "1e19", "-1e19",
        "9007199254740993", "1e308", "1e-7", "1000000", "1000001", "\"12\"", "null", "true",
    ]
    public static let timestamps: [String] = [
        "0000-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59-01:00", "2026-01-05T08:00:00Z", "2999-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "garbage",
        "2026-01-05T08:00:00", "1970-01-01T00:00:00Z",
    ]
    public static let strings: [String] = [
        "usr-1", "a\nb", "=HYPERLINK(\"http://x\",\"y\")", "+cmd", "@SUM(1)", "tool|name", "x\u{2028}y", "Ünïcödé",
        String(repeating: "a", count: 300), "", "dr=house\\ward 7", "]\"\\", "\u{1B}[2J", "PAT-1", "<b>x</b>&amp;",
        "CEF:0|forged|event", "-1", "\t=1",
    ]
    public static let purposes: [String] = ["TREAT", "ETREAT", "HPAYMT", "BTG", "treat", "X"]
    public static let actions: [String] = ["R", "C", "U", "D", "E", "Z"]

    /// A JSON string literal of `text`.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 {
                    out +=
                        "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// One tool-call line built from the choices, some fields valid, some not.
    public static func record(
        number: Int, timestamp: Int, string: Int, purpose: Int, action: Int, shape: Int
    ) -> String {
        let value = numbers[number % numbers.count]
        let time = timestamps[timestamp % timestamps.count]
        let text = strings[string % strings.count]
        var fields: [String] = [
            #""tenant_id":"hospital-1""#, #""conversation_id":"c-1""#, #""model":"m""#,
            #""purpose_of_use":"\#(purposes[purpose % purposes.count])""#,
            #""action":"\#(actions[action % actions.count])""#,
        ]
        fields.append(#""user_id":"# + (shape % 3 == 0 ? quoted(text) : #""usr-1""#))
        fields.append(#""tool_name":"# + (shape % 3 == 1 ? quoted(text) : #""get_patient_record""#))
        if actions[action % actions.count] == "E" {
            fields.append(#""patient_ids":["PAT-1","PAT-2"]"#)
        } else {
            fields.append(#""patient_id":"# + (shape % 5 == 2 ? quoted(text) : #""PAT-1""#))
        }
        switch shape % 7 {
        case 0: fields.append(#""duration_ms":\#(value)"#)
        case 1: fields.append(#""turn_number":\#(value)"#)
        case 2: fields.append(#""usage":{"input_tokens":\#(value),"output_tokens":1,"cost_usd":\#(value)}"#)
        case 3: fields.append(#""timestamp":"\#(time)""#)
        case 4: fields.append(#""timestamp":"\#(time)","duration_ms":\#(value)"#)
        case 5: fields.append(#""error":\#(quoted(text)),"arguments":{"family":"Garcia","note":\#(quoted(text))}"#)
        default: fields.append(#""trace_id":\#(quoted(text)),"user_role":\#(quoted(text))"#)
        }
        if purposes[purpose % purposes.count] == "ETREAT" || purposes[purpose % purposes.count] == "BTG" {
            fields.append(#""break_glass":{"reason":"Patient unconscious in ED, no consent possible"}"#)
        }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

/// Named counts shared by the iterations of a property check, which may run concurrently.
public final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Int] = [:]

    public init() {}

    /// Adds `amount` to the count `name`.
    public func add(_ amount: Int = 1, to name: String) { lock.withLock { values[name, default: 0] += amount } }

    /// The count `name`.
    public subscript(name: String) -> Int { lock.withLock { values[name, default: 0] } }
}
