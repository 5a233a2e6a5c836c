import AuditCore

/// The anomaly rules as one pure state machine over the log's entries in sequence order.
///
/// Live detection feeds it each appended entry; `caretrail alerts scan` feeds it history. Both
/// see the same entries in the same order, so both raise the same alerts.
///
/// Windows are in event time (the agent's `timestamp`, else `recorded_at`) and half-open: an
/// access at `t` counts the accesses in `(t - window, t]` seen so far. An alert opens an
/// *episode* for its patient or user; further accesses while the window still holds the
/// threshold raise nothing, and the episode ends at the first access whose window holds less.
/// History older than twice the longest window behind the newest event is dropped, so memory
/// is bounded; an event arriving later than that is not judged by the window rules.
public struct AnomalyDetector: Sendable {
    public let rules: AlertRules
    /// The last sequence number observed.
    public private(set) var lastSeq: Int64 = 0

    private let workingHours: WorkingHours?
    private var newest: Int64 = .min
    private var patients: [String: Window] = [:]
    private var users: [String: Window] = [:]
    private var failures: [String: Window] = [:]
    private var afterHours: [String: Int64] = [:]
    private var sinceSweep = 0

    /// A detector with no history, that will next observe the entry after `seq`.
    public init(rules: AlertRules = .standard, startingAfter seq: Int64 = 0) {
        self.rules = rules
        self.lastSeq = seq
        self.workingHours = rules.afterHours.flatMap(WorkingHours.init)
    }

    /// One patient's or user's recent events, sorted by time, and whether an episode is open.
    struct Window: Sendable {
        var events: [Event] = []
        var inEpisode = false
        /// For the distinct-patients rule: how often each patient occurs in `events[counted]`.
        /// Kept incrementally while events arrive in time order; rebuilt when they do not.
        private var patientCounts: [String: Int] = [:]
        private var counted: Range<Int> = 0..<0
        private var countsValid = true

        struct Event: Sendable {
            var time: Int64
            var seq: Int64
            var patient: String?
        }

        /// Inserts in time order (almost always at the end).
        mutating func insert(_ event: Event) {
            var index = events.count
            while index > 0, events[index - 1].time > event.time { index -= 1 }
            if index < events.count { countsValid = false }
            events.insert(event, at: index)
        }

        /// Removes the events at or before `cut`.
        mutating func removeEvents(through cut: Int64) {
            let count = firstIndex(after: cut)
            guard count > 0 else { return }
            events.removeFirst(count)
            countsValid = false
        }

        /// Adds `event`, then judges the events with time in `(lower, upper]` with `reached`.
        /// Returns them when they open a new episode; an episode lasts while `reached` holds.
        mutating func add(_ event: Event, lower: Int64, upper: Int64, reached: (ArraySlice<Event>) -> Bool) -> [Event]? {
            insert(event)
            let recent = slice(after: lower, through: upper)
            return judge(reached(recent), recent)
        }

        /// Adds the events of one entry, then counts the distinct patients in `(lower, upper]`;
        /// returns the window's events when more than `limit` open a new episode.
        mutating func addPatients(_ new: [Event], lower: Int64, upper: Int64, limit: Int) -> [Event]? {
            for event in new { insert(event) }
            let range = firstIndex(after: lower)..<firstIndex(after: upper)
            if !countsValid || range.lowerBound < counted.lowerBound || range.upperBound < counted.upperBound {
                patientCounts = [:]
                counted = range.lowerBound..<range.lowerBound
                countsValid = true
            }
            for index in counted.upperBound..<range.upperBound {
                if let patient = events[index].patient { patientCounts[patient, default: 0] += 1 }
            }
            for index in counted.lowerBound..<range.lowerBound {
                guard let patient = events[index].patient else { continue }
                let remaining = (patientCounts[patient] ?? 1) - 1
                patientCounts[patient] = remaining > 0 ? remaining : nil
            }
            counted = range
            return judge(patientCounts.count > limit, events[range])
        }

        private mutating func judge(_ now: Bool, _ recent: ArraySlice<Event>) -> [Event]? {
            defer { inEpisode = now }
            return now && !inEpisode ? Array(recent) : nil
        }

        /// The events with time in `(lower, upper]`.
        func slice(after lower: Int64, through upper: Int64) -> ArraySlice<Event> {
            events[firstIndex(after: lower)..<firstIndex(after: upper)]
        }

        /// The index of the first event later than `time` (binary search).
        func firstIndex(after time: Int64) -> Int {
            var low = 0
            var high = events.count
            while low < high {
                let middle = (low + high) / 2
                if events[middle].time > time { high = middle } else { low = middle + 1 }
            }
            return low
        }
    }

    /// Observes the next entry; returns the alerts it raises.
    public mutating func observe(_ entry: ObservedEntry) -> [AlertDraft] {
        lastSeq = entry.seq
        guard entry.kind == .toolCall else { return [] }
        var alerts: [AlertDraft] = []
        if entry.breakGlass {
            alerts.append(AlertDraft(
                kind: .breakGlass, severity: AlertKind.breakGlass.severity, tenantID: entry.tenantID,
                userID: entry.userID, patientID: entry.patientIDs.first, triggerSeq: entry.seq, entrySeqs: [entry.seq],
                time: entry.time, windowStart: entry.time, parameters: [:],
                summary: "break-the-glass access (\(entry.purpose?.code ?? "no purpose")): review required",
                keyID: entry.keyID
            ))
        }
        newest = max(newest, entry.time)
        let cut = newest - rules.horizonMilliseconds
        // Too late to judge by the windows: its history may already be gone.
        guard entry.time > cut else { return alerts }

        if rules.patientAccessBurst.enabled, !(entry.isQuery && !rules.patientAccessBurst.countQueries) {
            for patient in entry.patientIDs {
                if let alert = patientBurst(entry, patient: patient, cut: cut) { alerts.append(alert) }
            }
        }
        if rules.userManyPatients.enabled, !entry.patientIDs.isEmpty, let alert = userManyPatients(entry, cut: cut) {
            alerts.append(alert)
        }
        if rules.repeatedFailures.enabled, entry.failed, let alert = repeatedFailures(entry, cut: cut) {
            alerts.append(alert)
        }
        if let workingHours, entry.purpose?.isEmergency != true, workingHours.isAfterHours(entry.time),
            let alert = afterHoursAccess(entry)
        {
            alerts.append(alert)
        }
        sinceSweep += 1
        if sinceSweep >= 4096 { sweep(before: cut) }
        return alerts
    }

    private mutating func patientBurst(_ entry: ObservedEntry, patient: String, cut: Int64) -> AlertDraft? {
        let rule = rules.patientAccessBurst
        guard let recent = Self.reachThreshold(
            &patients, key: patient, entry, threshold: rule.threshold, windowMinutes: rule.windowMinutes, cut: cut
        ) else { return nil }
        return Self.countAlert(
            .patientAccessBurst, entry, recent, userID: nil, patientID: patient, threshold: rule.threshold,
            windowMinutes: rule.windowMinutes, what: "accesses to one patient"
        )
    }

    /// Adds the entry to `key`'s window; returns the window's events when they reach
    /// `threshold` and open a new episode.
    private static func reachThreshold(
        _ windows: inout [String: Window], key: String, _ entry: ObservedEntry, threshold: Int, windowMinutes: Int, cut: Int64
    ) -> [Window.Event]? {
        let lower = max(entry.time - Int64(windowMinutes) * 60_000, cut)
        return windows[key, default: Window()].add(
            .init(time: entry.time, seq: entry.seq, patient: nil), lower: lower, upper: entry.time,
            reached: { $0.count >= threshold }
        )
    }

    /// The alert of a counting rule (`threshold` events within `windowMinutes`).
    private static func countAlert(
        _ kind: AlertKind, _ entry: ObservedEntry, _ recent: [Window.Event], userID: String?, patientID: String?,
        threshold: Int, windowMinutes: Int, what: String
    ) -> AlertDraft {
        AlertDraft(
            kind: kind, severity: kind.severity, tenantID: entry.tenantID, userID: userID, patientID: patientID,
            triggerSeq: entry.seq, entrySeqs: recent.map(\.seq).sorted(), time: entry.time,
            windowStart: recent.map(\.time).min() ?? entry.time,
            parameters: ["threshold": .number(Double(threshold)), "window_minutes": .number(Double(windowMinutes))],
            summary: "\(recent.count) \(what) within \(windowMinutes) minutes (threshold \(threshold))", keyID: entry.keyID
        )
    }

    private mutating func userManyPatients(_ entry: ObservedEntry, cut: Int64) -> AlertDraft? {
        let rule = rules.userManyPatients
        let lower = max(entry.time - Int64(rule.windowMinutes) * 60_000, cut)
        let key = entry.tenantID + "\u{1F}" + entry.userID
        let events = entry.patientIDs.map { Window.Event(time: entry.time, seq: entry.seq, patient: $0) }
        let recent = users[key, default: Window()].addPatients(events, lower: lower, upper: entry.time, limit: rule.maxPatients)
        guard let recent else { return nil }
        let distinct = Set(recent.compactMap(\.patient)).count
        return AlertDraft(
            kind: .userManyPatients, severity: AlertKind.userManyPatients.severity, tenantID: entry.tenantID,
            userID: entry.userID, patientID: nil, triggerSeq: entry.seq, entrySeqs: Array(Set(recent.map(\.seq))).sorted(),
            time: entry.time, windowStart: recent.map(\.time).min() ?? entry.time,
            parameters: ["max_patients": .number(Double(rule.maxPatients)), "window_minutes": .number(Double(rule.windowMinutes))],
            summary: "one user accessed \(distinct) distinct patients within \(rule.windowMinutes) minutes (limit \(rule.maxPatients))",
            keyID: entry.keyID
        )
    }

    private mutating func repeatedFailures(_ entry: ObservedEntry, cut: Int64) -> AlertDraft? {
        let rule = rules.repeatedFailures
        guard let recent = Self.reachThreshold(
            &failures, key: entry.tenantID + "\u{1F}" + entry.userID, entry, threshold: rule.threshold,
            windowMinutes: rule.windowMinutes, cut: cut
        ) else { return nil }
        return Self.countAlert(
            .repeatedFailures, entry, recent, userID: entry.userID, patientID: nil, threshold: rule.threshold,
            windowMinutes: rule.windowMinutes, what: "failed or denied calls by one user"
        )
    }

    private mutating func afterHoursAccess(_ entry: ObservedEntry) -> AlertDraft? {
        guard let rule = rules.afterHours else { return nil }
        let key = entry.tenantID + "\u{1F}" + entry.userID
        let previous = afterHours[key]
        afterHours[key] = max(previous ?? entry.time, entry.time)
        if let previous, entry.time - previous < Int64(rule.windowMinutes) * 60_000 { return nil }
        return AlertDraft(
            kind: .afterHours, severity: AlertKind.afterHours.severity, tenantID: entry.tenantID, userID: entry.userID,
            patientID: entry.patientIDs.first, triggerSeq: entry.seq, entrySeqs: [entry.seq], time: entry.time,
            windowStart: entry.time,
            parameters: [
                "time_zone": .string(rule.timeZone), "start": .string(rule.start), "end": .string(rule.end),
                "working_days": .array(rule.workingDays.map { .number(Double($0)) }),
            ],
            summary: "access for a non-emergency purpose outside working hours (\(rule.start)-\(rule.end) \(rule.timeZone))",
            keyID: entry.keyID
        )
    }

    /// Drops history no window can reach any more.
    private mutating func sweep(before cut: Int64) {
        sinceSweep = 0
        func prune(_ windows: inout [String: Window]) {
            windows = windows.compactMapValues { window in
                var window = window
                window.removeEvents(through: cut)
                return window.events.isEmpty ? nil : window
            }
        }
        prune(&patients)
        prune(&users)
        prune(&failures)
        afterHours = afterHours.filter { $0.value > cut }
    }
}
