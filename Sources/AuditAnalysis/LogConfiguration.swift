public import AuditChain
public import AuditCore
import Foundation

/// The log's configuration: which purposes each tenant accepts, the anomaly rules, and how
/// long a privacy officer has to review an alert.
///
/// It lives in the hash chain itself, as `config` entries (`caretrail config set`), so every
/// writer of the log applies the same rules and nobody changes them unnoticed. Without any,
/// the defaults apply. The JSON form (snake_case, unknown keys rejected):
///
/// ```json
/// {
///   "purpose_restrictions": {"default": null, "tenants": {"research-01": ["HRESCH"]}},
///   "alerts": {
///     "patient_access_burst": {"threshold": 10, "window_minutes": 60, "count_queries": true},
///     "user_many_patients": {"max_patients": 50, "window_minutes": 60},
///     "repeated_failures": {"threshold": 5, "window_minutes": 10},
///     "after_hours": {"time_zone": "Europe/Berlin", "start": "07:00", "end": "19:00", "working_days": [1, 2, 3, 4, 5]}
///   },
///   "review_deadline_days": 7,
///   "record_time": {"max_skew_seconds": 300, "late_after_minutes": 1440},
///   "retention": {"hot_days": 90,
///     "categories": [{"name": "healthcare", "retention_days": 2190, "tools": ["get_patient_record", "*patient*"]}],
///     "default": {"name": "general", "retention_days": 365}},
///   "archive": "s3://audit-archive/caretrail"
/// }
/// ```
public struct LogConfiguration: Sendable, Hashable {
    public var purposeRestrictions: PurposeRestrictions
    public var alerts: AlertRules
    /// Days a privacy officer has to review an alert before it shows as overdue.
    public var reviewDeadlineDays: Int
    /// How far an agent's `timestamp` may run ahead of the log's clock, and when it is late.
    public var recordTime: RecordTimePolicy
    /// The sanitizer policy every writer applies (`sanitizer_policy`, in the form
    /// `caretrail policy` prints). It is part of the chain, so a change is recorded with who
    /// made it before it takes effect, and no writer can run another one.
    public var sanitizerPolicy: SanitizerPolicy
    /// How long entries stay hot and how long each category of tool is kept.
    public var retention: RetentionPolicy
    /// Where the cold archive is (a directory, or `s3://bucket/prefix`): readers attach it,
    /// so that reports, traces and exports see archived entries without naming it each time.
    public var archive: String?

    public init(
        purposeRestrictions: PurposeRestrictions = .none, alerts: AlertRules = .standard, reviewDeadlineDays: Int = 7,
        recordTime: RecordTimePolicy = .standard, sanitizerPolicy: SanitizerPolicy = .default, retention: RetentionPolicy = .standard
    ) {
        self.retention = retention
        self.purposeRestrictions = purposeRestrictions
        self.alerts = alerts
        self.reviewDeadlineDays = reviewDeadlineDays
        self.recordTime = recordTime
        self.sanitizerPolicy = sanitizerPolicy
    }

    /// A sanitizer policy as its JSON form (snake_case keys, as `caretrail policy` prints).
    public static func json(_ policy: SanitizerPolicy) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(policy), let value = try? JSONParser.parse(String(decoding: data, as: UTF8.self)) else {
            return .null
        }
        return value
    }

    /// Reads a sanitizer policy's JSON form, strictly: every list is required, bounds checked.
    public static func sanitizerPolicy(_ value: JSONValue) throws(Problem) -> SanitizerPolicy {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let policy: SanitizerPolicy
        do {
            policy = try decoder.decode(SanitizerPolicy.self, from: Data(CanonicalJSON.string(value).utf8))
        } catch {
            throw Problem(message: "sanitizer_policy: not a complete sanitizer policy (print one with caretrail policy)")
        }
        guard (0...1_000_000).contains(policy.resultSizeLimit),
            [policy.freeTextPreviewLength, policy.inputPreviewLength, policy.outputPreviewLength].allSatisfy({ (0...10_000).contains($0) })
        else {
            throw Problem(message: "sanitizer_policy: result_size_limit must be 0 to 1000000 and preview lengths 0 to 10000")
        }
        return policy
    }

    /// The defaults: no purpose restrictions, the standard rules, 7 days to review.
    public static let standard = LogConfiguration()

    /// Why a configuration was refused; names the key, never a value.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads the JSON form, strictly.
    public init(json text: String) throws(Problem) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text)
        } catch {
            throw Problem(message: "the configuration is not valid JSON (\(error.reason) at byte \(error.offset))")
        }
        try self.init(value)
    }

    /// Reads the parsed JSON form, strictly.
    public init(_ value: JSONValue) throws(Problem) {
        let root = try Reader(value, path: "")
        try root.allow([
            "purpose_restrictions", "alerts", "review_deadline_days", "record_time", "sanitizer_policy", "retention", "archive",
        ])
        var configuration = LogConfiguration()
        if let restrictions = try root.object("purpose_restrictions") {
            try restrictions.allow(["default", "tenants"])
            configuration.purposeRestrictions.default = try restrictions.codes("default")
            if let tenants = try restrictions.object("tenants") {
                for tenant in tenants.members.keys.sorted() {
                    configuration.purposeRestrictions.tenants[tenant] = try tenants.codes(tenant) ?? []
                }
            }
            if let unknown = configuration.purposeRestrictions.unknownCodes.first {
                throw Problem(message: "purpose_restrictions: '\(unknown)' is not an HL7 v3 PurposeOfUse code")
            }
        }
        if let alerts = try root.object("alerts") {
            try alerts.allow(["patient_access_burst", "user_many_patients", "repeated_failures", "after_hours"])
            var rules = AlertRules()
            if let burst = try alerts.object("patient_access_burst") {
                try burst.allow(["enabled", "threshold", "window_minutes", "count_queries"])
                rules.patientAccessBurst.enabled = try burst.bool("enabled") ?? true
                rules.patientAccessBurst.threshold = try burst.int("threshold") ?? 10
                rules.patientAccessBurst.windowMinutes = try burst.int("window_minutes") ?? 60
                rules.patientAccessBurst.countQueries = try burst.bool("count_queries") ?? true
            }
            if let many = try alerts.object("user_many_patients") {
                try many.allow(["enabled", "max_patients", "window_minutes"])
                rules.userManyPatients.enabled = try many.bool("enabled") ?? true
                rules.userManyPatients.maxPatients = try many.int("max_patients") ?? 50
                rules.userManyPatients.windowMinutes = try many.int("window_minutes") ?? 60
            }
            if let failures = try alerts.object("repeated_failures") {
                try failures.allow(["enabled", "threshold", "window_minutes"])
                rules.repeatedFailures.enabled = try failures.bool("enabled") ?? true
                rules.repeatedFailures.threshold = try failures.int("threshold") ?? 5
                rules.repeatedFailures.windowMinutes = try failures.int("window_minutes") ?? 10
            }
            if let hours = try alerts.object("after_hours") {
                try hours.allow(["time_zone", "start", "end", "working_days", "window_minutes"])
                guard let zone = try hours.string("time_zone") else {
                    throw Problem(message: "alerts.after_hours.time_zone is required")
                }
                var rule = AlertRules.AfterHours(timeZone: zone)
                rule.start = try hours.string("start") ?? rule.start
                rule.end = try hours.string("end") ?? rule.end
                rule.workingDays = try hours.ints("working_days") ?? rule.workingDays
                rule.windowMinutes = try hours.int("window_minutes") ?? rule.windowMinutes
                rules.afterHours = rule
            }
            if let problem = rules.problems.first { throw Problem(message: problem) }
            configuration.alerts = rules
        }
        if let days = try root.int("review_deadline_days") {
            guard days >= 1 else { throw Problem(message: "review_deadline_days must be at least 1") }
            configuration.reviewDeadlineDays = days
        }
        if let policy = root.members["sanitizer_policy"], policy != .null {
            configuration.sanitizerPolicy = try Self.sanitizerPolicy(policy)
        }
        if let time = try root.object("record_time") {
            try time.allow(["max_skew_seconds", "late_after_minutes"])
            if let seconds = try time.int("max_skew_seconds") {
                guard (0...86_400).contains(seconds) else {
                    throw Problem(message: "record_time.max_skew_seconds must be between 0 and 86400")
                }
                configuration.recordTime.maximumSkewMS = Int64(seconds) * 1000
            }
            if let minutes = try time.int("late_after_minutes") {
                guard (1...525_600).contains(minutes) else {
                    throw Problem(message: "record_time.late_after_minutes must be between 1 and 525600")
                }
                configuration.recordTime.latenessMS = Int64(minutes) * 60_000
            }
        }
        if let retention = try root.object("retention") {
            configuration.retention = try Self.retention(retention)
        }
        if let archive = try root.string("archive") {
            guard !archive.isEmpty, archive.utf8.count <= 1024, !archive.contains(where: { $0.isNewline }) else {
                throw Problem(message: "archive must be a directory or s3://bucket/prefix, at most 1024 bytes, on one line")
            }
            configuration.archive = archive
        }
        self = configuration
    }

    /// Reads the `retention` member: every member but `hot_days` is required, so that a
    /// policy never half-inherits the defaults' categories.
    private static func retention(_ reader: Reader) throws(Problem) -> RetentionPolicy {
        try reader.allow(["hot_days", "categories", "default"])
        func category(_ value: JSONValue, path: String, tools: Bool) throws(Problem) -> RetentionPolicy.Category {
            let member = try Reader(value, path: path)
            try member.allow(tools ? ["name", "retention_days", "tools"] : ["name", "retention_days"])
            guard let name = try member.string("name") else { throw Problem(message: "\(path).name is required") }
            guard let days = try member.int("retention_days") else { throw Problem(message: "\(path).retention_days is required") }
            let patterns = tools ? try member.strings("tools") ?? [] : []
            return RetentionPolicy.Category(name: name, retentionDays: days, tools: patterns)
        }
        var policy = RetentionPolicy()
        policy.hotDays = try reader.int("hot_days") ?? policy.hotDays
        guard let categories = reader.members["categories"], let list = categories.arrayValue else {
            throw Problem(message: "retention.categories must be an array of categories")
        }
        guard list.count <= RetentionPolicy.maximumCategories else {
            throw Problem(message: "retention.categories: at most 100 categories")
        }
        var read: [RetentionPolicy.Category] = []
        for (index, value) in list.enumerated() {
            read.append(try category(value, path: "retention.categories[\(index)]", tools: true))
        }
        policy.categories = read
        guard let fallback = reader.members["default"], fallback != .null else {
            throw Problem(message: "retention.default is required")
        }
        policy.default = try category(fallback, path: "retention.default", tools: false)
        if let problem = policy.problems.first { throw Problem(message: problem) }
        return policy
    }

    /// The JSON form of a retention policy.
    public static func json(_ policy: RetentionPolicy) -> JSONValue {
        func category(_ category: RetentionPolicy.Category, tools: Bool) -> JSONValue {
            var members: [String: JSONValue] = [
                "name": .string(category.name), "retention_days": .number(Double(category.retentionDays)),
            ]
            if tools { members["tools"] = .array(category.tools.map(JSONValue.string)) }
            return .object(members)
        }
        return .object([
            "hot_days": .number(Double(policy.hotDays)),
            "categories": .array(policy.categories.map { category($0, tools: true) }),
            "default": category(policy.default, tools: false),
        ])
    }

    /// The JSON form, complete (defaults written out).
    public var jsonValue: JSONValue {
        func number(_ value: Int) -> JSONValue { .number(Double(value)) }
        let restrictions: JSONValue = .object([
            "default": purposeRestrictions.default.map { .array($0.map(JSONValue.string)) } ?? .null,
            "tenants": .object(purposeRestrictions.tenants.mapValues { .array($0.map(JSONValue.string)) }),
        ])
        var alertRules: [String: JSONValue] = [
            "patient_access_burst": .object([
                "enabled": .bool(alerts.patientAccessBurst.enabled), "threshold": number(alerts.patientAccessBurst.threshold),
                "window_minutes": number(alerts.patientAccessBurst.windowMinutes),
                "count_queries": .bool(alerts.patientAccessBurst.countQueries),
            ]),
            "user_many_patients": .object([
                "enabled": .bool(alerts.userManyPatients.enabled), "max_patients": number(alerts.userManyPatients.maxPatients),
                "window_minutes": number(alerts.userManyPatients.windowMinutes),
            ]),
            "repeated_failures": .object([
                "enabled": .bool(alerts.repeatedFailures.enabled), "threshold": number(alerts.repeatedFailures.threshold),
                "window_minutes": number(alerts.repeatedFailures.windowMinutes),
            ]),
        ]
        if let hours = alerts.afterHours {
            alertRules["after_hours"] = .object([
                "time_zone": .string(hours.timeZone), "start": .string(hours.start), "end": .string(hours.end),
                "working_days": .array(hours.workingDays.map(number)), "window_minutes": number(hours.windowMinutes),
            ])
        }
        var members: [String: JSONValue] = [
            "purpose_restrictions": restrictions, "alerts": .object(alertRules),
            "review_deadline_days": number(reviewDeadlineDays),
            "record_time": .object([
                "max_skew_seconds": .number(Double(recordTime.maximumSkewMS / 1000)),
                "late_after_minutes": .number(Double(recordTime.latenessMS / 60_000)),
            ]),
            "sanitizer_policy": Self.json(sanitizerPolicy),
            "retention": Self.json(retention),
        ]
        if let archive { members["archive"] = .string(archive) }
        return .object(members)
    }

    /// A `config` entry that sets this configuration, changed by `user`.
    public func entryContent(changedBy user: String, keyID: String) -> EntryContent {
        EntryContent(
            kind: .config, tenantID: "*", userID: user, model: AlertDraft.writer, keyID: keyID,
            body: ["configuration": jsonValue]
        )
    }

    /// Reads the configuration a `config` entry set.
    public init(entry: StoredEntry) throws(Problem) {
        guard case .object(let body)? = try? JSONParser.parse(entry.content.body), let value = body["configuration"] else {
            throw Problem(message: "entry \(entry.seq) is not a configuration entry")
        }
        try self.init(value)
    }

    /// A JSON object under a dotted path, read with errors that name the key.
    private struct Reader {
        let members: [String: JSONValue]
        let path: String

        init(_ value: JSONValue, path: String) throws(Problem) {
            guard case .object(let members) = value else {
                throw Problem(message: "\(path.isEmpty ? "the configuration" : path) must be a JSON object")
            }
            self.members = members
            self.path = path
        }

        func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        func allow(_ keys: Set<String>) throws(Problem) {
            if let unknown = members.keys.sorted().first(where: { !keys.contains($0) }) {
                throw Problem(message: "\(name(unknown)): unknown key")
            }
        }

        func object(_ key: String) throws(Problem) -> Reader? {
            guard let value = members[key], value != .null else { return nil }
            return try Reader(value, path: name(key))
        }

        func string(_ key: String) throws(Problem) -> String? {
            guard let value = members[key], value != .null else { return nil }
            guard let string = value.stringValue else { throw Problem(message: "\(name(key)) must be a string") }
            return string
        }

        func bool(_ key: String) throws(Problem) -> Bool? {
            guard let value = members[key], value != .null else { return nil }
            guard case .bool(let bool) = value else { throw Problem(message: "\(name(key)) must be true or false") }
            return bool
        }

        func int(_ key: String) throws(Problem) -> Int? {
            guard let value = members[key], value != .null else { return nil }
            guard let number = value.numberValue, number.rounded() == number, abs(number) < 1e9 else {
                throw Problem(message: "\(name(key)) must be an integer")
            }
            return Int(number)
        }

        func ints(_ key: String) throws(Problem) -> [Int]? {
            guard let value = members[key], value != .null else { return nil }
            guard let array = value.arrayValue else { throw Problem(message: "\(name(key)) must be an array of integers") }
            return try array.map { element throws(Problem) in
                guard let number = element.numberValue, number.rounded() == number, abs(number) < 1e9 else {
                    throw Problem(message: "\(name(key)) must be an array of integers")
                }
                return Int(number)
            }
        }

        func strings(_ key: String) throws(Problem) -> [String]? {
            guard let value = members[key], value != .null else { return nil }
            guard let array = value.arrayValue, let strings = Optional(array.compactMap(\.stringValue)), strings.count == array.count
            else { throw Problem(message: "\(name(key)) must be an array of strings") }
            return strings
        }

        func codes(_ key: String) throws(Problem) -> [String]? {
            guard let value = members[key], value != .null else { return nil }
            guard let array = value.arrayValue, let codes = Optional(array.compactMap(\.stringValue)), codes.count == array.count
            else { throw Problem(message: "\(name(key)) must be an array of purpose-of-use codes") }
            return codes
        }
    }
}
