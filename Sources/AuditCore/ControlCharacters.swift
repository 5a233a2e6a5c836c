/// The characters that no identifier, SIEM field or table cell may carry raw: C0 and C1
/// controls, DEL, and the Unicode line and paragraph separators. Any of them could end a line
/// and forge another record in a line-framed output, or move a terminal's cursor.
public enum ControlCharacters {
    /// Whether `scalar` is one of them.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (value >= 0x7F && value <= 0x9F) || value == 0x2028 || value == 0x2029
    }

    /// Whether `text` holds one of them; ASCII text without any is ruled out byte by byte.
    public static func occur(in text: String) -> Bool {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 >= 0xC2 }) else { return false }
        return text.unicodeScalars.contains(where: isControl)
    }
}
