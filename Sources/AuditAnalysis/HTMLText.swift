/// Text made safe for HTML: the one escaping that the printable report and the console's
/// hand-written rows share, the same that the console's templates apply.
public enum HTMLText {
    /// `text` with `&`, `<`, `>`, `"` and `'` escaped, safe as element content and as a quoted
    /// attribute value. Works on Unicode scalars, so a quote followed by a combining mark is
    /// escaped too.
    public static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
