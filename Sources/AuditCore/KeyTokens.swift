/// Splits a JSON member name into lower-case word tokens, whatever its spelling, so that the
/// sanitizer can match keys by their parts: `patient_first_name`, `patientFirstName`,
/// `Patient-First-Name`, `PATIENT.FIRST.NAME` and `PID.5 patient name` all hold the token
/// `name`.
///
/// Tokens break at every character that is not a letter or a digit, at a lower-case letter
/// followed by an upper-case one (`firstName`), at the last capital of an upper-case run that
/// a lower-case letter follows (`SSNNumber` → `ssn`, `number`), and between letters and
/// digits (`address2` → `address`, `2`).
public enum KeyTokens {
    public static func split(_ key: String) -> [String] {
        var tokens: [String] = []
        var current: [Unicode.Scalar] = []
        let scalars = Array(key.unicodeScalars)
        func flush() {
            if !current.isEmpty {
                tokens.append(String(String.UnicodeScalarView(current)).lowercased())
                current.removeAll(keepingCapacity: true)
            }
        }
        for (index, scalar) in scalars.enumerated() {
            let properties = scalar.properties
            let isLetter = properties.isAlphabetic
            let isDigit = scalar.value >= 0x30 && scalar.value <= 0x39
            guard isLetter || isDigit else {
                flush()
                continue
            }
            if let previous = current.last {
                let previousDigit = previous.value >= 0x30 && previous.value <= 0x39
                let previousUpper = previous.properties.isUppercase
                let previousLower = previous.properties.isLowercase
                if previousDigit != isDigit {
                    flush()
                } else if properties.isUppercase && previousLower {
                    flush()
                } else if properties.isUppercase && previousUpper, index + 1 < scalars.count,
                    scalars[index + 1].properties.isLowercase
                {
                    flush()
                }
            }
            current.append(scalar)
        }
        flush()
        return tokens
    }
}
