/// HTML written by the console without a template, where a template is too slow: the rows of a
/// long table. Every value goes through ``escaped(_:)``, which escapes what the templates
/// escape.
enum ConsoleHTML {
    /// `text` with `&`, `<`, `>`, `"` and `'` escaped, safe as element content and as a quoted
    /// attribute value.
    static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
