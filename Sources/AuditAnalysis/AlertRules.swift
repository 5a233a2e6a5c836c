/// The parameters of the anomaly rules. Every rule has defaults; after-hours detection is off
/// unless working hours are configured.
public struct AlertRules: Sendable, Hashable {
    /// Rule 1: `threshold` or more accesses to one patient within any `window_minutes`.
    public struct PatientAccessBurst: Sendable, Hashable {
        public var enabled: Bool = true
        public var threshold: Int = 10
        public var windowMinutes: Int = 60
        /// Whether a query whose result named the patient counts as an access (as reports count it).
        public var countQueries: Bool = true

        public init() {}
    }

    /// Rule 2: one user touching more than `max_patients` distinct patients within `window_minutes`.
    public struct UserManyPatients: Sendable, Hashable {
        public var enabled: Bool = true
        public var maxPatients: Int = 50
        public var windowMinutes: Int = 60

        public init() {}
    }

    /// Rule 3: `threshold` or more failed or denied calls by one user within `window_minutes`.
    public struct RepeatedFailures: Sendable, Hashable {
        public var enabled: Bool = true
        public var threshold: Int = 5
        public var windowMinutes: Int = 10

        public init() {}
    }

    /// Rule 4: access for a non-emergency purpose outside working hours, in a time zone.
    /// One alert per user per episode: after-hours accesses less than `window_minutes` apart
    /// belong to the same episode.
    public struct AfterHours: Sendable, Hashable {
        /// An IANA time zone, e.g. `Europe/Berlin`.
        public var timeZone: String
        /// Start of working hours, `HH:MM`, local time.
        public var start: String = "07:00"
        /// End of working hours (exclusive), `HH:MM`, local time.
        public var end: String = "19:00"
        /// Working days, ISO numbering: 1 Monday … 7 Sunday.
        public var workingDays: [Int] = [1, 2, 3, 4, 5]
        public var windowMinutes: Int = 60

        public init(timeZone: String, start: String = "07:00", end: String = "19:00", workingDays: [Int] = [1, 2, 3, 4, 5]) {
            self.timeZone = timeZone
            self.start = start
            self.end = end
            self.workingDays = workingDays
        }
    }

    public var patientAccessBurst = PatientAccessBurst()
    public var userManyPatients = UserManyPatients()
    public var repeatedFailures = RepeatedFailures()
    /// Off (`nil`) unless configured.
    public var afterHours: AfterHours?

    public init() {}

    /// The defaults the issue of record names: 10 in 60 minutes, 50 patients an hour, 5
    /// failures in 10 minutes, no after-hours rule.
    public static let standard = AlertRules()

    /// How far back in event time the detector keeps history: twice the longest window, so
    /// an event up to one window late is still judged against everything it should be.
    var horizonMilliseconds: Int64 {
        let minutes =
            [
                patientAccessBurst.windowMinutes, userManyPatients.windowMinutes, repeatedFailures.windowMinutes,
                afterHours?.windowMinutes ?? 0,
            ].max() ?? 60
        return Int64(max(minutes, 1)) * 2 * 60_000
    }

    /// What is wrong with these rules, or nothing.
    public var problems: [String] {
        var problems: [String] = []
        if patientAccessBurst.threshold < 2 { problems.append("alerts.patient_access_burst.threshold must be at least 2") }
        if userManyPatients.maxPatients < 1 { problems.append("alerts.user_many_patients.max_patients must be at least 1") }
        if repeatedFailures.threshold < 2 { problems.append("alerts.repeated_failures.threshold must be at least 2") }
        for (name, minutes) in [
            ("patient_access_burst", patientAccessBurst.windowMinutes), ("user_many_patients", userManyPatients.windowMinutes),
            ("repeated_failures", repeatedFailures.windowMinutes), ("after_hours", afterHours?.windowMinutes ?? 1),
        ] where minutes < 1 || minutes > 7 * 24 * 60 {
            problems.append("alerts.\(name).window_minutes must be between 1 and 10080")
        }
        if let afterHours {
            if WorkingHours(afterHours) == nil {
                problems.append("alerts.after_hours needs a known time_zone, start and end as HH:MM, and working_days from 1 to 7")
            }
        }
        return problems
    }
}
