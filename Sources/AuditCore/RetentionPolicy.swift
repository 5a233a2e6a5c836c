/// How long the log keeps what agents recorded, by category of tool.
///
/// Each tool call is classed when it is written: the first category one of whose `tools`
/// patterns matches its tool name, else the default. The class is recorded in the entry's
/// hashed body (``bodyMember``), so a later policy can lengthen or shorten a category's
/// period but never move past entries to another category. Age counts from `recorded_at`, the
/// log's own clock, never from the agent's `timestamp`: an agent cannot backdate evidence into
/// early deletion.
///
/// The defaults are the source designs' table: health records 6 years (HIPAA 164.316),
/// financial tools 7 years, everything else 1 year; entries stay hot for 90 days.
public struct RetentionPolicy: Sendable, Hashable {
    /// One category: a name, how long its entries are kept, and the tool-name patterns it
    /// claims (`*` any run of characters, `?` any one).
    public struct Category: Sendable, Hashable {
        public var name: String
        public var retentionDays: Int
        public var tools: [String]

        public init(name: String, retentionDays: Int, tools: [String] = []) {
            self.name = name
            self.retentionDays = retentionDays
            self.tools = tools
        }
    }

    /// Days an entry stays in the hot database before it may be archived.
    public var hotDays: Int
    /// The categories, in the order they are tried.
    public var categories: [Category]
    /// The category of every tool no pattern claims, and of records without a tool.
    public var `default`: Category

    public init(hotDays: Int = 90, categories: [Category] = Self.standardCategories, default: Category = Self.standardDefault) {
        self.hotDays = hotDays
        self.categories = categories
        self.default = `default`
    }

    /// The source designs' categories: health records, then financial tools.
    public static let standardCategories: [Category] = [
        Category(name: "healthcare", retentionDays: 2190, tools: ["get_patient_record", "update_treatment", "*patient*"]),
        Category(name: "financial", retentionDays: 2555, tools: ["charge_payment", "issue_refund", "apply_credit", "*billing*"]),
    ]
    /// One year for everything else.
    public static let standardDefault = Category(name: "general", retentionDays: 365)
    /// The defaults.
    public static let standard = RetentionPolicy()

    /// The body member that records an entry's category.
    public static let bodyMember = "retention_category"

    /// The bounds a policy is checked against.
    public static let dayRange = 1...36_500
    public static let maximumCategories = 100
    public static let maximumPatterns = 1_000
    public static let maximumPatternLength = 256

    /// The category of a record with tool name `tool` (`nil`: no tool): the first whose
    /// pattern matches, else the default.
    public func category(forTool tool: String?) -> Category {
        guard let tool else { return self.default }
        let name = Array(tool.utf8)
        return categories.first { category in category.tools.contains { Self.matches(Array($0.utf8), name) } } ?? self.default
    }

    /// The category named `name`, if this policy has it.
    public func category(named name: String) -> Category? {
        name == self.default.name ? self.default : categories.first { $0.name == name }
    }

    /// The problems of this policy, each naming its member; empty when it can be used.
    public var problems: [String] {
        var problems: [String] = []
        if !Self.dayRange.contains(hotDays) { problems.append("retention.hot_days must be between 1 and 36500") }
        if categories.count > Self.maximumCategories { problems.append("retention.categories: at most 100 categories") }
        var names: Set<String> = []
        for (index, category) in (categories + [self.default]).enumerated() {
            let path = index < categories.count ? "retention.categories[\(index)]" : "retention.default"
            if !Self.isName(category.name) {
                problems.append("\(path).name must be 1 to 64 of a-z, 0-9, '_' and '-'")
            } else if !names.insert(category.name).inserted {
                problems.append("\(path).name: the category '\(category.name)' is named twice")
            }
            if !Self.dayRange.contains(category.retentionDays) {
                problems.append("\(path).retention_days must be between 1 and 36500")
            }
            if category.tools.count > Self.maximumPatterns { problems.append("\(path).tools: at most 1000 patterns") }
            if category.tools.contains(where: { $0.isEmpty || $0.utf8.count > Self.maximumPatternLength }) {
                problems.append("\(path).tools: each pattern must be 1 to 256 bytes")
            }
        }
        if !self.default.tools.isEmpty { problems.append("retention.default has no tools: it takes every tool the categories leave") }
        return problems
    }

    /// Whether `name` can name a category: lower-case ASCII letters, digits, `_` and `-`.
    static func isName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D }
    }

    /// Glob matching over bytes: `*` matches any run (also empty), `?` any one byte, anything
    /// else itself. Iterative, with one backtrack point, so no pattern takes more than
    /// pattern × name steps.
    static func matches(_ pattern: [UInt8], _ name: [UInt8]) -> Bool {
        let star = UInt8(ascii: "*")
        let any = UInt8(ascii: "?")
        var p = 0
        var n = 0
        var starAt = -1
        var resumeAt = 0
        while n < name.count {
            if p < pattern.count, pattern[p] == any || (pattern[p] != star && pattern[p] == name[n]) {
                p += 1
                n += 1
            } else if p < pattern.count, pattern[p] == star {
                starAt = p
                resumeAt = n
                p += 1
            } else if starAt >= 0 {
                p = starAt + 1
                resumeAt += 1
                n = resumeAt
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == star { p += 1 }
        return p == pattern.count
    }
}
