import Foundation

/// Which fields the ``Sanitizer`` redacts, pseudonymises, hashes as free text, or keeps
/// from a tool's result. Every list is configurable; ``default`` documents the defaults.
///
/// Keys are compared after normalisation: lower-cased, with `_`, `-`, `.` and spaces removed,
/// so `API-Key`, `api_key` and `apiKey` are one key. A plural `s` is also tried (`phones`).
public struct SanitizerPolicy: Sendable, Hashable, Codable {
    /// Keys whose values are secrets: replaced by `"***REDACTED***"`.
    public var secretKeys: [String]
    /// Substrings that make any key a secret key (`db_password`, `x_auth_token`).
    public var secretKeyFragments: [String]
    /// Keys whose values identify a person: every scalar under them becomes a keyed pseudonym.
    public var identifierKeys: [String]
    /// Endings that make any key an identifier key (`home_phone`, `work_email`).
    public var identifierKeySuffixes: [String]
    /// Search terms and messages: stored as a keyed hash of the whole text plus a preview in
    /// which patterns and name-like words are pseudonymised.
    public var freeTextKeys: [String]
    /// Result members kept when a result is summarised (besides every key ending in `_id`).
    public var resultIdentifierKeys: [String]
    /// Results larger than this many bytes of JSON keep only their identifiers, size and a
    /// truncation flag.
    public var resultSizeLimit: Int
    /// Characters of a free-text field's preview.
    public var freeTextPreviewLength: Int
    /// Characters of an agent request's input preview.
    public var inputPreviewLength: Int
    /// Characters of an agent request's output preview.
    public var outputPreviewLength: Int
    /// Capitalised words that are not names, left readable in previews.
    public var commonCapitalisedWords: [String]

    public init(
        secretKeys: [String], secretKeyFragments: [String], identifierKeys: [String],
        identifierKeySuffixes: [String], freeTextKeys: [String], resultIdentifierKeys: [String],
        resultSizeLimit: Int, freeTextPreviewLength: Int, inputPreviewLength: Int, outputPreviewLength: Int,
        commonCapitalisedWords: [String]
    ) {
        self.secretKeys = secretKeys
        self.secretKeyFragments = secretKeyFragments
        self.identifierKeys = identifierKeys
        self.identifierKeySuffixes = identifierKeySuffixes
        self.freeTextKeys = freeTextKeys
        self.resultIdentifierKeys = resultIdentifierKeys
        self.resultSizeLimit = resultSizeLimit
        self.freeTextPreviewLength = freeTextPreviewLength
        self.inputPreviewLength = inputPreviewLength
        self.outputPreviewLength = outputPreviewLength
        self.commonCapitalisedWords = commonCapitalisedWords
    }

    /// The defaults, as documented in docs/privacy.md.
    public static let `default` = SanitizerPolicy(
        secretKeys: [
            "password", "passwd", "pwd", "passphrase", "token", "api_key", "apikey", "secret", "authorization",
            "auth", "credit_card", "card_number", "cvv", "cvc", "pin", "private_key", "access_key", "cookie",
            "set_cookie", "session_id", "bearer", "credentials", "signature",
        ],
        secretKeyFragments: ["password", "secret", "apikey", "token", "privatekey", "creditcard", "accesskey"],
        identifierKeys: [
            "patient_name", "name", "first_name", "last_name", "full_name", "given_name", "family_name",
            "middle_name", "maiden_name", "surname", "ssn", "social_security_number", "date_of_birth", "dob",
            "birth_date", "birthdate", "birthday", "address", "street", "address_line", "city", "zip", "zip_code",
            "postal_code", "phone", "phone_number", "mobile", "telephone", "fax", "email", "email_address",
            "next_of_kin", "emergency_contact", "guardian", "guardian_name", "insured_name", "subscriber_name",
            "contact_name", "drivers_license", "passport", "passport_number", "license_number",
            // FHIR Patient search parameters and HumanName parts, and a coding's display text.
            "given", "family", "display", "telecom", "phonetic", "prefix", "suffix",
        ],
        identifierKeySuffixes: ["patient_name", "phone", "email", "ssn", "address", "birth_date", "date_of_birth", "dob"],
        freeTextKeys: [
            "query", "q", "search", "search_term", "search_text", "text", "prompt", "message", "msg", "note",
            "notes", "comment", "comments", "description", "free_text", "content", "instructions", "summary",
            "narrative", "question", "answer", "input", "output", "body",
        ],
        resultIdentifierKeys: [
            "id", "order_id", "patient_id", "encounter_id", "status", "count", "total", "success", "error",
            "error_type", "error_code", "code",
        ],
        resultSizeLimit: 1000,
        freeTextPreviewLength: 120,
        inputPreviewLength: 120,
        outputPreviewLength: 200,
        commonCapitalisedWords: [
            "a", "an", "the", "and", "or", "of", "for", "to", "in", "on", "at", "by", "with", "from", "since",
            "find", "show", "get", "list", "search", "lookup", "look", "fetch", "open", "view", "check", "order",
            "please", "what", "who", "when", "where", "why", "how", "which", "is", "are", "was", "were", "i",
            "my", "me", "we", "our", "patient", "patients", "born", "dob", "lab", "labs", "results", "result",
            "record", "records", "chart", "notes", "note", "today", "yesterday", "tomorrow", "dr", "mr", "mrs",
            "ms", "md", "rn", "ed", "er", "icu", "mri", "ct", "ecg", "ekg", "bp", "hr", "ok", "no", "yes", "pull",
            "give", "tell", "bring", "send", "update", "create", "add", "summarize", "summarise", "compare",
            "review", "schedule", "can", "could", "would", "should", "do", "does", "did", "any", "all", "latest",
            "last", "new", "recent", "has", "have", "he", "she", "they", "his", "her", "their", "it", "this", "that",
        ]
    )

    // MARK: Tokens

    /// Word tokens that make any key a secret key, whatever its spelling (`access_token`,
    /// `refreshTokens`, `X-Auth-Header`, `otp_code`). See ``KeyTokens`` for how keys split.
    public static let secretTokens: Set<String> = [
        "password", "passwords", "passwd", "pwd", "passphrase", "passcode", "secret", "secrets", "token", "tokens",
        "jwt", "jwts", "otp", "otps", "totp", "bearer", "authorization", "auth", "cookie", "cookies", "credential",
        "credentials", "signature", "signatures", "cvv", "cvc", "pin", "pins", "apikey", "apikeys", "privatekey",
        "sessionid", "nonce",
    ]

    /// Pairs of adjacent tokens that make a secret key (`api_key`, `private-key`, `card number`).
    public static let secretTokenPairs: Set<[String]> = [
        ["api", "key"], ["api", "keys"], ["private", "key"], ["access", "key"], ["secret", "key"], ["session", "id"],
        ["credit", "card"], ["card", "number"], ["client", "secret"], ["set", "cookie"],
    ]

    /// Tokens that make a `token` key a counter rather than a secret (`input_tokens`,
    /// `max_tokens`, `completionTokenCount`).
    public static let countingTokens: Set<String> = [
        "input", "output", "prompt", "completion", "total", "max", "min", "count", "limit", "used", "cached", "reasoning",
        "remaining", "budget", "num", "usage",
    ]

    /// Word tokens that make any key an identifier key: names, birth, SSN, phone, e-mail,
    /// address and contact parts, in the spellings of FHIR, HL7 v2 and common EHR APIs
    /// (`patient_first_name`, `PatientLastName`, `birthDate`, `DateTimeOfBirth`,
    /// `home-phone`, `e_mail`, `postalCode`, `StreetAddress2`).
    public static let identifierTokens: Set<String> = [
        "name", "names", "fname", "lname", "mname", "firstname", "lastname", "fullname", "givenname", "familyname",
        "surname", "surnames", "maiden", "nickname", "alias", "aliases", "initials", "birth", "birthdate", "birthday",
        "dob", "ssn", "ssns", "phone", "phones", "telephone", "tel", "mobile", "cellphone", "fax", "telecom", "email",
        "emails", "mail", "address", "addresses", "addr", "street", "city", "zip", "zipcode", "postcode", "postal",
        "postalcode", "kin", "guardian", "insured", "subscriber", "passport", "license", "licence", "contact",
        "contacts", "phonetic",
    ]

    /// Pairs of adjacent tokens that make an identifier key (`social_security_number`).
    public static let identifierTokenPairs: Set<[String]> = [["social", "security"], ["given", "name"], ["family", "name"]]

    /// Tokens that say a `name` is not a person's (`tool_name`, `drugName`, `file-name`): with
    /// one of these, a key whose only identifier token is `name`, `names` or `display` is not
    /// an identifier key.
    public static let nonPersonNameTokens: Set<String> = [
        "tool", "file", "filename", "model", "host", "hostname", "server", "service", "drug", "medication", "med",
        "medicine", "test", "lab", "procedure", "department", "dept", "facility", "organization", "organisation", "org",
        "resource", "field", "key", "class", "type", "event", "function", "method", "table", "column", "app",
        "application", "product", "brand", "generic", "code", "unit", "ward", "clinic", "hospital", "practice", "payer",
        "plan", "document", "report", "form", "template", "category", "vaccine", "allergen", "condition", "diagnosis",
        "device", "study", "trial", "protocol", "queue", "bucket", "schema", "attribute", "parameter", "param", "bed",
        "room", "location", "site", "insurance", "company", "vendor", "manufacturer", "specimen", "panel", "order",
        "observation", "component", "analyte", "section", "tag", "label", "metric", "feature", "variable", "property",
        "index", "database", "db", "queue", "channel", "topic", "role", "group", "team", "project", "workflow", "step",
        "task", "action", "operation", "query", "search", "tenant", "environment", "region", "zone", "bundle",
    ]

    /// Word tokens that make a key hold search terms or messages (`search_query`,
    /// `clinicalNote`, `free-text`, `chief_complaint`).
    public static let freeTextTokens: Set<String> = [
        "query", "queries", "search", "searches", "term", "terms", "keyword", "keywords", "text", "texts", "prompt",
        "prompts", "message", "messages", "msg", "note", "notes", "comment", "comments", "description", "narrative",
        "summary", "question", "answer", "input", "output", "body", "content", "instructions", "instruction", "remark",
        "remarks", "memo", "complaint", "history", "hpi", "impression", "findings", "transcript", "dictation",
    ]

    /// Tokens that make a free-text-looking key a plain one (`content_type`, `note_id`,
    /// `message_count`): such keys hold codes, counts and identifiers of things, not prose.
    public static let plainQualifierTokens: Set<String> = [
        "type", "code", "codes", "id", "ids", "count", "status", "length", "size", "format", "language", "lang",
        "encoding", "url", "uri", "version", "hash", "mime", "hmac", "tokens",
    ]

    /// Lower-cased, without `_`, `-`, `.` or spaces.
    static func normalize(_ key: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(key.utf8.count)
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: " "): continue
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): bytes.append(byte + 32)
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The policy compiled for fast lookups.
///
/// Classifying a key costs a normalisation and several set lookups; agents use a few dozen
/// distinct keys, so each key's class is remembered (up to ``cacheLimit`` keys, so hostile input
/// with ever-new keys cannot grow it without bound).
final class CompiledPolicy: @unchecked Sendable {
    enum KeyClass: Sendable { case secret, identifier, freeText, plain }

    let policy: SanitizerPolicy
    let secretKeys: Set<String>
    let secretFragmentBytes: [[UInt8]]
    let identifierKeys: Set<String>
    let identifierSuffixes: [String]
    let freeTextKeys: Set<String>
    let resultKeys: Set<String>
    let commonWords: Set<String>

    init(_ policy: SanitizerPolicy) {
        self.policy = policy
        secretKeys = Set(policy.secretKeys.map(SanitizerPolicy.normalize))
        secretFragmentBytes = policy.secretKeyFragments.map { Array(SanitizerPolicy.normalize($0).utf8) }
        identifierKeys = Set(policy.identifierKeys.map(SanitizerPolicy.normalize))
        identifierSuffixes = policy.identifierKeySuffixes.map(SanitizerPolicy.normalize)
        freeTextKeys = Set(policy.freeTextKeys.map(SanitizerPolicy.normalize))
        resultKeys = Set(policy.resultIdentifierKeys.map(SanitizerPolicy.normalize))
        commonWords = Set(policy.commonCapitalisedWords.map { $0.lowercased() })
    }

    static let cacheLimit = 4096
    // Guarded by `lock`; everything else is immutable after init.
    private var cache: [String: KeyClass] = [:]
    private let lock = NSLock()

    func classify(_ key: String) -> KeyClass {
        lock.lock()
        let cached = cache[key]
        lock.unlock()
        if let cached { return cached }
        let keyClass = classifyUncached(key)
        lock.lock()
        if cache.count < Self.cacheLimit { cache[key] = keyClass }
        lock.unlock()
        return keyClass
    }

    private func classifyUncached(_ key: String) -> KeyClass {
        let normalized = SanitizerPolicy.normalize(key)
        let singular = normalized.hasSuffix("s") ? String(normalized.dropLast()) : normalized
        let tokens = KeyTokens.split(key)
        let tokenSet = Set(tokens)
        let pairs = zip(tokens, tokens.dropFirst()).map { [$0, $1] }
        let counting =
            !tokenSet.isDisjoint(with: SanitizerPolicy.countingTokens)
            || SanitizerPolicy.countingTokens.contains { normalized.hasPrefix($0) }

        // Secrets: exact keys, then tokens, then fragments inside run-together keys.
        if secretKeys.contains(normalized) || secretKeys.contains(singular) { return .secret }
        let secretTokens = tokenSet.intersection(SanitizerPolicy.secretTokens)
        if !secretTokens.isEmpty {
            // `input_tokens` and `max_tokens` count tokens; they are not tokens.
            let onlyCounted = secretTokens.isSubset(of: ["token", "tokens"]) && counting
            if !onlyCounted { return .secret }
        }
        if pairs.contains(where: { SanitizerPolicy.secretTokenPairs.contains($0) }) { return .secret }
        let bytes = Array(normalized.utf8)
        for fragment in secretFragmentBytes {
            if Self.endOfFirstMatch(of: fragment, in: bytes) != nil {
                // Counters such as `inputtokens` are not secrets; `accesstokens` is.
                if !(fragment.elementsEqual("token".utf8) && counting) { return .secret }
            }
        }

        // Identifiers: exact keys and suffixes, then tokens.
        for candidate in [normalized, singular] {
            if identifierKeys.contains(candidate) { return .identifier }
            if identifierSuffixes.contains(where: { candidate.hasSuffix($0) }) { return .identifier }
        }
        let identifierTokens = tokenSet.intersection(SanitizerPolicy.identifierTokens)
        if !identifierTokens.isEmpty {
            let onlyName = identifierTokens.isSubset(of: ["name", "names"])
            if !(onlyName && !tokenSet.isDisjoint(with: SanitizerPolicy.nonPersonNameTokens)) { return .identifier }
        }
        if pairs.contains(where: { SanitizerPolicy.identifierTokenPairs.contains($0) }) { return .identifier }
        if tokenSet.contains("display") && tokenSet.isDisjoint(with: SanitizerPolicy.nonPersonNameTokens) {
            return .identifier
        }

        // Free text: exact keys, then tokens unless the key names a code, count or id.
        if freeTextKeys.contains(normalized) || freeTextKeys.contains(singular) { return .freeText }
        if !tokenSet.isDisjoint(with: SanitizerPolicy.freeTextTokens),
            tokenSet.isDisjoint(with: SanitizerPolicy.plainQualifierTokens)
        {
            return .freeText
        }
        return .plain
    }

    /// The index just after the first occurrence of `needle` in `haystack`, if any.
    static func endOfFirstMatch(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return start + needle.count }
        }
        return nil
    }

    /// Whether a result member survives summarising.
    func isResultIdentifier(_ key: String) -> Bool {
        resultKeys.contains(SanitizerPolicy.normalize(key)) || key.lowercased().hasSuffix("_id") || key.hasSuffix("Id")
    }
}
