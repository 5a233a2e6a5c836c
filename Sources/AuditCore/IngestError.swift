/// Why a record was refused at the door.
///
/// The message names the field (and, for files and batches, the line) and says what is wrong
/// with it; it never repeats the field's value, which may be PHI or a secret.
public struct IngestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable, machine-readable reason.
    public enum Code: String, Sendable, Equatable, Codable {
        /// The line is not JSON at all.
        case invalidJSON = "invalid_json"
        /// The line is JSON but not an object.
        case notAnObject = "not_an_object"
        /// A required field is absent or null.
        case missingField = "missing_field"
        /// A field the contract does not define (often a typo).
        case unknownField = "unknown_field"
        /// A field of the wrong JSON type.
        case wrongType = "wrong_type"
        /// A field of the right type whose value the contract does not allow.
        case invalidValue = "invalid_value"
        /// A number or date outside the bounds of ``IngestLimits``.
        case outOfRange = "out_of_range"
        /// A `timestamp` further ahead of the log's clock than the allowed skew.
        case timestampSkew = "timestamp_skew"
        /// `purpose_of_use` is not an HL7 v3 PurposeOfUse code.
        case unknownPurpose = "unknown_purpose"
        /// `purpose_of_use` is a valid code this tenant does not allow.
        case purposeNotAllowed = "purpose_not_allowed"
        /// `break_glass.reason` is missing, too short or a placeholder.
        case breakGlassReason = "break_glass_reason"
        /// Break-the-glass access with a non-emergency purpose, or `BTG` without a break-the-glass reason.
        case breakGlassPurpose = "break_glass_purpose"
    }

    public var code: Code
    /// The offending field, as a dotted path (`usage.input_tokens`), when there is one.
    public var field: String?
    /// The 1-based line of the file or batch, when the record came from one.
    public var line: Int?
    /// What is wrong, in words; never the value.
    public var message: String

    public init(code: Code, field: String?, line: Int? = nil, message: String) {
        self.code = code
        self.field = field
        self.line = line
        self.message = message
    }

    /// The same error, placed on a line of a file or batch.
    public func at(line: Int) -> IngestError {
        var copy = self
        copy.line = line
        return copy
    }

    public var description: String {
        var parts: [String] = []
        if let line { parts.append("line \(line)") }
        if let field { parts.append("field '\(field)'") }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}
