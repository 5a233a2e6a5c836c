/// The rules of emergency access (break the glass), checked at the door.
///
/// - A `break_glass` object must give a `reason` a privacy officer can judge: at least
///   ``minimumReasonLength`` characters, at least two words, and not a placeholder such as
///   `n/a`, `test`, `emergency` or `xxx`.
/// - Break-the-glass access must use an emergency purpose: `ETREAT` or one of its
///   descendants (`BTG`, `ERTREAT`).
/// - The purpose `BTG` (break the glass) needs a `break_glass.reason`.
public enum BreakGlassRule {
    /// The shortest reason accepted, in characters after trimming.
    public static let minimumReasonLength = 12

    /// Words that carry no reason on their own: a reason needs two words outside this list.
    static let emptyWords: Set<String> = [
        "n/a", "na", "none", "null", "nil", "test", "testing", "emergency", "urgent", "break", "the", "glass", "btg",
        "reason", "no", "tbd", "todo", "asdf", "xxx", "unknown", "other", "see", "notes", "access", "lorem", "ipsum",
    ]

    /// Reasons that say nothing, compared after lower-casing and trimming punctuation.
    static let placeholders: Set<String> = [
        "n/a", "na", "none", "null", "nil", "test", "testing", "emergency", "emergency access", "urgent",
        "break glass", "break the glass", "btg", "reason", "no reason", "tbd", "todo", "asdf", "xxx", "unknown",
        "see notes", "other", "not applicable", "lorem ipsum",
    ]

    /// Checks a tool call's `break_glass` against its purpose of use.
    public static func check(_ breakGlass: BreakGlass?, purpose: PurposeOfUse) throws(IngestError) {
        guard let breakGlass else {
            if purpose.code == PurposeOfUse.breakTheGlass.code {
                throw IngestError(
                    code: .breakGlassPurpose, field: "break_glass",
                    message: "purpose BTG (break the glass) needs a break_glass object with a reason"
                )
            }
            return
        }
        try checkReason(breakGlass.reason)
        guard purpose.isEmergency else {
            throw IngestError(
                code: .breakGlassPurpose, field: "purpose_of_use",
                message: "break-the-glass access needs an emergency purpose of use (ETREAT or BTG)"
            )
        }
    }

    /// Why a reason is not good enough, or nothing.
    static func checkReason(_ reason: String?) throws(IngestError) {
        guard let reason else {
            throw IngestError(
                code: .breakGlassReason, field: "break_glass.reason",
                message: "required: say why emergency access was needed"
            )
        }
        let trimmed = reason.trimmingWhitespace
        let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            .filter { $0.contains(where: \.isLetter) }
        let normalised = String(trimmed.lowercased().filter { $0.isLetter || $0 == " " || $0 == "/" })
            .trimmingWhitespace
        let distinct = Set(trimmed.lowercased().filter { !$0.isWhitespace })
        let meaningful = Set(words.map { String($0.lowercased().filter { $0.isLetter || $0 == "/" }) })
            .subtracting(emptyWords).filter { $0.count >= 2 }
        if trimmed.count < minimumReasonLength || words.count < 2 || placeholders.contains(normalised)
            || placeholders.contains(trimmed.lowercased()) || distinct.count < 4 || meaningful.count < 2
        {
            throw IngestError(
                code: .breakGlassReason, field: "break_glass.reason",
                message: "too short or a placeholder: give at least \(minimumReasonLength) characters and two words a reviewer can judge"
            )
        }
    }
}
