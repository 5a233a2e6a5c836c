/// Finds PHI inside free text and replaces each finding with its keyed pseudonym.
///
/// It looks for SSN-, phone-, e-mail- and date-like substrings, for values that the same call
/// gave in an identifier field (a patient's name recurring in a note), and, for search terms
/// and messages, for name-like runs of capitalised words and for long numbers (years of birth).
/// Matching is done by hand over Unicode scalars: it is on the append path of every call.
/// ASCII text, most of what agents send, is matched over its bytes in place: the same code,
/// since each byte is then one scalar, without decoding the text into an array first.
struct TextScrubber {
    let pseudonymizer: any Pseudonymizer
    /// Values from identifier fields of this call, as given.
    let knownValueStrings: [String]
    let commonWords: Set<String>

    /// The known values of two bytes or more as lower-cased ASCII bytes, when every known
    /// value is ASCII: a quick test that rules them out of most strings without decoding
    /// anything. (Shorter values are never looked for.)
    let knownASCII: [[UInt8]]?
    /// Which lower-cased bytes start a known value of two bytes or more (bit `b` of word
    /// `b >> 6`): the quick test looks closer only at those.
    private let firstBytes: (UInt64, UInt64)

    init(pseudonymizer: any Pseudonymizer, knownValues: [String], commonWords: Set<String>) {
        self.pseudonymizer = pseudonymizer
        self.knownValueStrings = knownValues
        self.commonWords = commonWords
        var ascii: [[UInt8]] = []
        var firstBytes: (UInt64, UInt64) = (0, 0)
        ascii.reserveCapacity(knownValues.count)
        for value in knownValues {
            guard value.utf8.allSatisfy({ $0 < 0x80 }) else {
                knownASCII = nil
                self.firstBytes = (0, 0)
                return
            }
            let lowered = value.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 32 : $0 }
            if lowered.count >= 2 {
                ascii.append(lowered)
                if lowered[0] < 64 { firstBytes.0 |= 1 << lowered[0] } else { firstBytes.1 |= 1 << (lowered[0] - 64) }
            }
        }
        knownASCII = ascii
        self.firstBytes = firstBytes
    }

    /// The known values lower-cased as scalars, longest first: built only for the rare string
    /// that may contain one.
    private var knownValues: [[Unicode.Scalar]] {
        knownValueStrings.map { Array($0.lowercased().unicodeScalars) }.sorted { $0.count > $1.count }
    }

    /// Whether `text` may contain a known value (case-insensitively); `true` when unsure,
    /// which is whenever `text` is not ASCII. One pass over the text.
    private func mayContainKnownValue(_ text: String) -> Bool {
        guard let knownASCII else { return true }
        if knownASCII.isEmpty { return false }
        var text = text
        return text.withUTF8 { bytes in
            var start = 0
            while start < bytes.count {
                let byte = bytes[start]
                if byte >= 0x80 { return true }
                let lowered = byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte
                let candidate = lowered < 64 ? firstBytes.0 & (1 << lowered) != 0 : firstBytes.1 & (1 << (lowered - 64)) != 0
                if candidate {
                    for value in knownASCII where value[0] == lowered && start + value.count <= bytes.count {
                        var offset = 1
                        while offset < value.count {
                            let other = bytes[start + offset]
                            if other >= 0x80 { return true }
                            if (other >= 0x41 && other <= 0x5A ? other + 32 : other) != value[offset] { break }
                            offset += 1
                        }
                        if offset == value.count { return true }
                    }
                }
                start += 1
            }
            return false
        }
    }

    /// `text` with every finding replaced by its pseudonym. `names` turns on the stricter
    /// rules for search terms and messages.
    func scrub(_ text: String, names: Bool) -> String {
        let checkKnown = mayContainKnownValue(text)
        if !names && !checkKnown && !text.utf8.contains(where: { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x40 }) {
            return text
        }
        var utf8 = text
        let scrubbedASCII: String? = utf8.withUTF8 { bytes in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            let spans = findings(in: ASCIIText(bytes: bytes), names: names, checkKnown: checkKnown)
            if spans.isEmpty { return text }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + spans.count * 64)
            var position = 0
            for span in spans {
                out.append(contentsOf: bytes[position..<span.lowerBound])
                let found = String(decoding: UnsafeBufferPointer(rebasing: bytes[span]), as: UTF8.self)
                out.append(contentsOf: pseudonymizer.pseudonym(for: found).utf8)
                position = span.upperBound
            }
            out.append(contentsOf: bytes[position...])
            return String(decoding: out, as: UTF8.self)
        }
        if let scrubbedASCII { return scrubbedASCII }
        let scalars = Array(text.unicodeScalars)
        let spans = findings(in: scalars, names: names, checkKnown: checkKnown)
        if spans.isEmpty { return text }
        var out = String.UnicodeScalarView()
        var position = 0
        for span in spans {
            out.append(contentsOf: scalars[position..<span.lowerBound])
            let found = String(String.UnicodeScalarView(scalars[span]))
            out.append(contentsOf: pseudonymizer.pseudonym(for: found).unicodeScalars)
            position = span.upperBound
        }
        out.append(contentsOf: scalars[position...])
        return String(out)
    }

    /// Non-overlapping ranges to replace, in order; at each position the longest finding wins.
    func findings<Text: ScrubbedText>(in s: Text, names: Bool, checkKnown: Bool = true) -> [Range<Int>] {
        var candidates: [Range<Int>] = []
        // Values the call named in identifier fields, wherever they recur (case-insensitive, whole words).
        if checkKnown && !knownValueStrings.isEmpty {
            let lower = s.map { Self.lower($0) }
            for value in knownValues where value.count >= 2 && value.count <= lower.count {
                var start = 0
                while start + value.count <= lower.count {
                    if lower[start] == value[0], Self.matches(value, in: lower, at: start),
                        Self.isBoundary(s, before: start), Self.isBoundary(s, after: start + value.count)
                    {
                        candidates.append(start..<start + value.count)
                        start += value.count
                    } else {
                        start += 1
                    }
                }
            }
        }
        var index = 0
        while index < s.count {
            let c = s[index]
            if c == "@", let email = emailSpan(s, at: index) {
                candidates.append(email)
                index = email.upperBound
                continue
            }
            if Self.isDigit(c) || c == "(" || c == "+", Self.isBoundary(s, before: index) {
                // The longest pattern that matches here and ends at a word boundary.
                var longest: Int?
                for end in [
                    dateYMD(s, index), dateDMY(s, index), ssn(s, index), phone(s, index), longNumber(s, index, minimum: names ? 4 : 9),
                ] {
                    if let end, Self.isBoundary(s, after: end), end > (longest ?? index) { longest = end }
                }
                if let end = longest {
                    candidates.append(index..<end)
                    index = end
                    continue
                }
            }
            if names, Self.isUpper(c), Self.isBoundary(s, before: index), let run = nameRun(s, at: index) {
                candidates.append(run)
                index = run.upperBound
                continue
            }
            index += 1
        }
        candidates.sort { $0.lowerBound != $1.lowerBound ? $0.lowerBound < $1.lowerBound : $0.count > $1.count }
        var spans: [Range<Int>] = []
        for candidate in candidates {
            if let last = spans.last, candidate.lowerBound < last.upperBound {
                if candidate.upperBound > last.upperBound { spans[spans.count - 1] = last.lowerBound..<candidate.upperBound }
                continue
            }
            spans.append(candidate)
        }
        return spans
    }

    // MARK: Patterns

    /// `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD`.
    private func dateYMD<Text: ScrubbedText>(_ s: Text, _ i: Int) -> Int? {
        guard let a = Self.digits(s, i, 4, 4), a < s.count, "-/.".unicodeScalars.contains(s[a]) else { return nil }
        let separator = s[a]
        guard let b = Self.digits(s, a + 1, 1, 2), b < s.count, s[b] == separator else { return nil }
        return Self.digits(s, b + 1, 1, 2)
    }

    /// `DD.MM.YYYY`, `MM/DD/YY` and the like.
    private func dateDMY<Text: ScrubbedText>(_ s: Text, _ i: Int) -> Int? {
        guard let a = Self.digits(s, i, 1, 2), a < s.count, "-/.".unicodeScalars.contains(s[a]) else { return nil }
        let separator = s[a]
        guard let b = Self.digits(s, a + 1, 1, 2), b < s.count, s[b] == separator,
            let c = Self.digits(s, b + 1, 2, 4), c - (b + 1) != 3
        else { return nil }
        return c
    }

    /// `123-45-6789` or `123 45 6789`.
    private func ssn<Text: ScrubbedText>(_ s: Text, _ i: Int) -> Int? {
        guard let a = Self.digits(s, i, 3, 3), a < s.count, s[a] == "-" || s[a] == " " else { return nil }
        let separator = s[a]
        guard let b = Self.digits(s, a + 1, 2, 2), b < s.count, s[b] == separator else { return nil }
        return Self.digits(s, b + 1, 4, 4)
    }

    /// North-American and international shapes: `+1 (555) 123-4567`, `555.123.4567`, `+44 20 7946 0958`.
    private func phone<Text: ScrubbedText>(_ s: Text, _ i: Int) -> Int? {
        var j = i
        var digitCount = 0
        var groups = 0
        if s[j] == "+" { j += 1 }
        while j < s.count {
            if s[j] == "(" {
                guard let end = Self.digits(s, j + 1, 1, 4), end < s.count, s[end] == ")" else { break }
                digitCount += end - j - 1
                groups += 1
                j = end + 1
            } else if let end = Self.digits(s, j, 1, 4) {
                digitCount += end - j
                groups += 1
                j = end
            } else {
                break
            }
            // One separator between groups, then another group must follow.
            if j < s.count, " .-".unicodeScalars.contains(s[j]), j + 1 < s.count,
                Self.isDigit(s[j + 1]) || s[j + 1] == "("
            {
                j += 1
            } else {
                break
            }
        }
        guard digitCount >= 10, digitCount <= 15, groups >= 2 || s[i] == "+" else { return nil }
        // Do not end on a separator.
        while j > i, !Self.isDigit(s[j - 1]), s[j - 1] != ")" { j -= 1 }
        return j
    }

    /// A run of at least `minimum` digits standing alone.
    private func longNumber<Text: ScrubbedText>(_ s: Text, _ i: Int, minimum: Int) -> Int? {
        Self.digits(s, i, minimum, 64)
    }

    private func emailSpan<Text: ScrubbedText>(_ s: Text, at: Int) -> Range<Int>? {
        var start = at
        while start > 0, Self.isEmailLocal(s[start - 1]) { start -= 1 }
        guard start < at else { return nil }
        var end = at + 1
        var lastDot = -1
        while end < s.count, Self.isAlnum(s[end]) || s[end] == "-" || s[end] == "." {
            if s[end] == "." { lastDot = end }
            end += 1
        }
        while end > at + 1, s[end - 1] == "." { end -= 1 }
        guard lastDot > at + 1, lastDot < end - 2 else { return nil }
        return start..<end
    }

    /// A run of capitalised words (`Maria Garcia`, `O'Neil-Smith`), without common words.
    private func nameRun<Text: ScrubbedText>(_ s: Text, at i: Int) -> Range<Int>? {
        var words: [Range<Int>] = []
        var j = i
        while j < s.count, Self.isUpper(s[j]) {
            var end = j + 1
            while end < s.count,
                Self.isLetter(s[end])
                    || ((s[end] == "'" || s[end] == "-" || s[end] == "’") && end + 1 < s.count && Self.isLetter(s[end + 1]))
            {
                end += 1
            }
            let word = String(String.UnicodeScalarView(s[j..<end].map(Self.lower)))
            if commonWords.contains(word) || !Self.isBoundary(s, after: end) { break }
            words.append(j..<end)
            guard end + 1 < s.count, s[end] == " ", Self.isUpper(s[end + 1]) else { break }
            j = end + 1
        }
        guard let first = words.first, let last = words.last else { return nil }
        return first.lowerBound..<last.upperBound
    }

    // MARK: Character classes

    /// Whether `value` occurs in `text` at `start` (the caller checked it fits).
    static func matches(_ value: [Unicode.Scalar], in text: [Unicode.Scalar], at start: Int) -> Bool {
        var offset = 0
        while offset < value.count {
            if text[start + offset] != value[offset] { return false }
            offset += 1
        }
        return true
    }

    /// The end of a run of `min...max` digits starting at `i`, or `nil`.
    static func digits<Text: ScrubbedText>(_ s: Text, _ i: Int, _ min: Int, _ max: Int) -> Int? {
        var j = i
        while j < s.count, j - i < max, isDigit(s[j]) { j += 1 }
        guard j - i >= min else { return nil }
        if j < s.count, isDigit(s[j]) { return nil }  // longer than max
        return j
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }
    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        c.value < 0x80 ? (c.value | 0x20 >= 0x61 && c.value | 0x20 <= 0x7A) : c.properties.isAlphabetic
    }
    static func isUpper(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 0x41 && c.value <= 0x5A) || (c.value > 0x7F && c.properties.isUppercase)
    }
    static func isAlnum(_ c: Unicode.Scalar) -> Bool {
        isDigit(c) || (c.value < 0x80 ? (c.value | 0x20 >= 0x61 && c.value | 0x20 <= 0x7A) : c.properties.isAlphabetic)
    }
    static func isEmailLocal(_ c: Unicode.Scalar) -> Bool { isAlnum(c) || "._%+-".unicodeScalars.contains(c) }
    static func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
        if c.value >= 0x41 && c.value <= 0x5A { return Unicode.Scalar(c.value + 32) ?? c }
        if c.value < 0x80 { return c }
        return c.properties.lowercaseMapping.unicodeScalars.first ?? c
    }

    /// No letter or digit (nor an identifier joiner such as `PAT-`) right before `i`.
    static func isBoundary<Text: ScrubbedText>(_ s: Text, before i: Int) -> Bool {
        guard i > 0 else { return true }
        let previous = s[i - 1]
        if isAlnum(previous) || previous == "_" { return false }
        if previous == "-" || previous == "." || previous == "/" {
            return i < 2 || !isAlnum(s[i - 2])
        }
        return true
    }

    /// No letter or digit right at `i`.
    static func isBoundary<Text: ScrubbedText>(_ s: Text, after i: Int) -> Bool {
        i >= s.count || !(isAlnum(s[i]) || s[i] == "_")
    }
}

/// Text the scrubber matches: Unicode scalars at integer positions.
protocol ScrubbedText: RandomAccessCollection where Element == Unicode.Scalar, Index == Int {}

extension Array: ScrubbedText where Element == Unicode.Scalar {}

/// ASCII bytes seen as scalars, one per byte, without copying them.
struct ASCIIText: ScrubbedText {
    let bytes: UnsafeBufferPointer<UInt8>
    var startIndex: Int { 0 }
    var endIndex: Int { bytes.count }
    subscript(position: Int) -> Unicode.Scalar { Unicode.Scalar(bytes[position]) }
}
