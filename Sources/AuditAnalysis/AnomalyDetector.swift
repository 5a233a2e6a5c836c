import AuditChain
import AuditCore
public import AuditStorage

/// The anomaly rules as one pure state machine over the log's entries in sequence order.
///
/// Live detection feeds it each appended entry; `caretrail alerts scan` feeds it history. Both
/// see the same entries in the same order, so both raise the same alerts.
///
/// Windows are in event time (the agent's `timestamp`, else `recorded_at`) and half-open: an
/// access at `t` counts the accesses in `(t - window, t]` seen so far. An alert opens an
/// *episode* for its patient or user; further accesses while the window still holds the
/// threshold raise nothing, and the episode ends at the first access whose window holds less.
///
/// The detector's clock is the log's own (`recorded_at`), never an agent's `timestamp`: no
/// record, however it is dated, moves the clock for other records. History older than twice
/// the longest window behind that clock is dropped, so memory is bounded. A record dated
/// more than one longest window behind the clock is judged against the log's stored history
/// of its own window (``DetectionHistory``), however late it arrives; the alerts it raises
/// carry `"late": true`.
public struct AnomalyDetector: Sendable {
    public let rules: AlertRules
    /// The last sequence number observed.
    public private(set) var lastSeq: Int64 = 0

    private let workingHours: WorkingHours?
    /// The log's clock: the latest `recorded_at` observed.
    private var newest: Int64 = .min
    /// How far ahead of `recorded_at` an event time is believed: later times are taken as
    /// `recorded_at` plus this (entries stored before the skew rule existed).
    private let maximumSkewMS: Int64
    private var patients: [String: Window] = [:]
    private var users: [String: Window] = [:]
    private var failures: [String: Window] = [:]
    private var afterHours: [String: Int64] = [:]
    private var expiry = ReminderQueue()
    /// Reminders left since the last `expire`: it takes up to twice as many, so the queue
    /// drains as fast as it fills.
    private var remindersLeft = 0
    /// Stored history read for late records, by patient or user: exact for its time range as
    /// of the last entry observed, since every later entry is added as it is observed. Late
    /// records of a backfill mostly fall in ranges read already, so each reads the log once.
    private var historyCache: [HistoryKey: CachedHistory] = [:]
    /// Every tool call observed since this detector began: the part of the stored history
    /// that late records read from memory instead of from the log.
    private var observedHistory: ObservedHistory
    /// The last answer to whether the log may hold tool calls before a sequence number: a
    /// backfill into a new log would otherwise look up, for every record, a history that is
    /// not there.
    private var storedToolCalls: (before: Int64, may: Bool)?

    enum HistoryKey: Hashable, Sendable {
        case patient(String)
        case user(String)
    }

    struct CachedHistory: Sendable {
        /// Event times `(after, through]`.
        var after: Int64
        var through: Int64
        var entries: [ObservedEntry]

        /// Adds `entry` when its event time is in the range.
        mutating func add(_ entry: ObservedEntry) {
            if entry.time > after, entry.time <= through { entries.append(entry) }
        }
    }

    /// Most keys whose history is kept; past this the cache starts again (it is only a cache).
    static let historyCacheLimit = 131_072

    /// How many observed tool calls a detector keeps for late records' windows by default
    /// (about 25 MB).
    public static let defaultHistoryInMemory = 131_072

    /// A detector with no history, that will next observe the entry after `seq`.
    /// `historyInMemory` is how many of the tool calls it observes it keeps for late records'
    /// windows (the rest of their history is read from the log); 0 reads it all from the log.
    public init(
        rules: AlertRules = .standard, startingAfter seq: Int64 = 0, maximumSkewMS: Int64 = 300_000,
        historyInMemory: Int = AnomalyDetector.defaultHistoryInMemory
    ) {
        self.rules = rules
        self.lastSeq = seq
        self.observedHistory = ObservedHistory(startingAt: seq + 1, limit: historyInMemory)
        self.workingHours = rules.afterHours.flatMap(WorkingHours.init)
        self.maximumSkewMS = maximumSkewMS
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

        /// Removes the events at or before `cut`; to keep this amortised constant time per
        /// event, only once they are at least half the window or 64 events. The rules never
        /// look at events at or before `cut`, so the ones left do no harm.
        mutating func removeEvents(through cut: Int64) {
            let count = firstIndex(after: cut)
            guard count > 0, count >= 64 || count * 2 >= events.count else { return }
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

    /// Observes the next entry; returns the alerts it raises. Without `history`, a record dated
    /// too far behind the log's clock is judged only by the rules that need no window.
    public mutating func observe(_ entry: ObservedEntry) -> [AlertDraft] {
        (try? observe(entry, history: nil)) ?? []
    }

    /// Observes the next entry, reading the stored history of its window from `history` when
    /// it is dated too far behind the log's clock for the windows in memory.
    public mutating func observe(_ original: ObservedEntry, history: (any DetectionHistory)?) throws -> [AlertDraft] {
        lastSeq = original.seq
        guard original.kind == .toolCall else { return [] }
        defer {
            addToHistoryCache(original)
            observedHistory.add(original)
        }
        var entry = original
        // A time further ahead than the skew allows (stored before the rule existed) counts as
        // the latest time the rule allows.
        if entry.time - entry.recordedAt > maximumSkewMS { entry.time = entry.recordedAt + maximumSkewMS }
        var alerts: [AlertDraft] = []
        if entry.breakGlass {
            alerts.append(
                AlertDraft(
                    kind: .breakGlass, severity: AlertKind.breakGlass.severity, tenantID: entry.tenantID,
                    userID: entry.userID, patientID: entry.patientIDs.first, triggerSeq: entry.seq, entrySeqs: [entry.seq],
                    time: entry.time, windowStart: entry.time, parameters: entry.late ? ["late": .bool(true)] : [:],
                    summary: "break-the-glass access (\(entry.purpose?.code ?? "no purpose")): review required"
                        + (entry.late ? Self.lateNote : ""),
                    keyID: entry.keyID
                ))
        }
        newest = max(newest, entry.recordedAt)
        let cut = newest - rules.horizonMilliseconds
        // The windows in memory hold every event later than `cut`; a window reaching back
        // before it is judged from the stored history instead.
        let judgedInMemory = entry.time - rules.horizonMilliseconds / 2 > cut
        if !judgedInMemory {
            if let history { alerts += try judgeFromHistory(entry, history) }
            // Still remembered for the events that follow, when it lies within the horizon.
            if entry.time > cut { remember(entry, cut: cut) }
            expire(before: cut)
            return alerts
        }

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
        expire(before: cut)
        return alerts.map { entry.late ? Self.markedLate($0) : $0 }
    }

    static let lateNote = " (late record: judged in its own time window)"

    static func markedLate(_ alert: AlertDraft) -> AlertDraft {
        guard alert.parameters["late"] == nil else { return alert }
        var alert = alert
        alert.parameters["late"] = .bool(true)
        alert.summary += lateNote
        return alert
    }

    /// Adds a late entry's events to the windows in memory without judging them there.
    private mutating func remember(_ entry: ObservedEntry, cut: Int64) {
        if rules.patientAccessBurst.enabled, !(entry.isQuery && !rules.patientAccessBurst.countQueries) {
            for patient in entry.patientIDs {
                patients[patient, default: Window()].insert(.init(time: entry.time, seq: entry.seq, patient: nil))
                remind(.patients, patient, at: entry.time)
            }
        }
        let userKey = entry.tenantID + "\u{1F}" + entry.userID
        if rules.userManyPatients.enabled, !entry.patientIDs.isEmpty {
            for patient in entry.patientIDs {
                users[userKey, default: Window()].insert(.init(time: entry.time, seq: entry.seq, patient: patient))
            }
            remind(.users, userKey, at: entry.time)
        }
        if rules.repeatedFailures.enabled, entry.failed {
            failures[userKey, default: Window()].insert(.init(time: entry.time, seq: entry.seq, patient: nil))
            remind(.failures, userKey, at: entry.time)
        }
    }

    /// Adds an observed tool call to the cached histories whose range holds its time.
    private mutating func addToHistoryCache(_ entry: ObservedEntry) {
        guard entry.kind == .toolCall, !historyCache.isEmpty else { return }
        // In place: a copy of the cached history held across the append would make the append
        // copy the whole array, for every entry.
        func add(_ key: HistoryKey) {
            guard let index = historyCache.index(forKey: key) else { return }
            historyCache.values[index].add(entry)
        }
        for (position, patient) in entry.patientIDs.enumerated() where !entry.patientIDs[..<position].contains(patient) {
            add(.patient(patient))
        }
        add(.user(entry.userID))
    }

    /// The stored tool calls of `key` before `entry`, among them every one with event time in
    /// `(after, through]` (and possibly others around it, which callers filter out): from the
    /// cache when it covers the range, else read from the log for a range a window wider on
    /// each side. The cached array itself is returned, so a lookup copies no entry.
    private mutating func storedHistory(
        _ key: HistoryKey, before entry: ObservedEntry, after: Int64, through: Int64, _ history: any DetectionHistory
    ) throws -> [ObservedEntry] {
        if let cached = historyCache[key], cached.after <= after, cached.through >= through { return cached.entries }
        let span = rules.horizonMilliseconds / 2
        let (low, high) = (Timestamp(millisecondsSinceEpoch: after - span), Timestamp(millisecondsSinceEpoch: through + span))
        // What this detector observed is in memory; only what was stored before it began, or
        // dropped from memory since, is read, and only when it may hold tool calls in the window.
        let readBefore = min(entry.seq, observedHistory.since)
        let mayHoldDropped = readBefore > observedHistory.began && observedHistory.latestDroppedTime > low.millisecondsSinceEpoch
        var stored: [StoredEntry] = []
        if try mayHoldDropped || mayHoldToolCalls(before: min(readBefore, observedHistory.began), history) {
            let recorded = try history.recordedRange(eventAfter: low, through: high, before: readBefore, skewMS: maximumSkewMS)
            switch key {
            case .patient(let patient):
                stored = try history.entries(patient: patient, eventAfter: low, through: high, before: readBefore, recorded: recorded)
            case .user(let user):
                stored = try history.entries(user: user, eventAfter: low, through: high, before: readBefore, recorded: recorded)
            }
        }
        if historyCache.count >= Self.historyCacheLimit { historyCache.removeAll(keepingCapacity: true) }
        let entries =
            stored.map { ObservedEntry($0, readingLateMark: false) }.filter { $0.kind == .toolCall }
            + observedHistory.entries(of: key, after: low.millisecondsSinceEpoch, through: high.millisecondsSinceEpoch, before: entry.seq)
        historyCache[key] = CachedHistory(after: low.millisecondsSinceEpoch, through: high.millisecondsSinceEpoch, entries: entries)
        return entries
    }

    private mutating func mayHoldToolCalls(before seq: Int64, _ history: any DetectionHistory) throws -> Bool {
        guard seq > 1 else { return false }
        if let known = storedToolCalls, known.before == seq { return known.may }
        let may = try history.mayHoldToolCalls(before: seq)
        storedToolCalls = (seq, may)
        return may
    }

    /// Judges a late entry against the stored entries of its window: those before it in the
    /// chain (what was stored when it arrived), with event time in `(t - window, t]`.
    ///
    /// Each rule counts in place over the history and gathers the entries it names only when
    /// it raises an alert: a backfill judges every record this way, and copying its window's
    /// entries for each one cost more than the rest of the append.
    private mutating func judgeFromHistory(_ entry: ObservedEntry, _ history: any DetectionHistory) throws -> [AlertDraft] {
        guard entry.seq > 1 else { return [] }
        let longest = rules.horizonMilliseconds / 2
        let after = entry.time - longest
        var alerts: [AlertDraft] = []
        let burst = rules.patientAccessBurst
        if burst.enabled, !(entry.isQuery && !burst.countQueries) {
            let lower = entry.time - Int64(burst.windowMinutes) * 60_000
            for patient in entry.patientIDs {
                let candidates = try storedHistory(.patient(patient), before: entry, after: after, through: entry.time, history)
                func counts(_ other: ObservedEntry) -> Bool {
                    other.time > lower && other.time <= entry.time && !(other.isQuery && !burst.countQueries)
                        && other.patientIDs.contains(patient)
                }
                let count = candidates.count(where: counts)
                if count + 1 >= burst.threshold, count < burst.threshold {
                    let events = (candidates.filter(counts) + [entry]).map { Window.Event(time: $0.time, seq: $0.seq, patient: nil) }
                    alerts.append(
                        Self.countAlert(
                            .patientAccessBurst, entry, events, userID: nil, patientID: patient, threshold: burst.threshold,
                            windowMinutes: burst.windowMinutes, what: "accesses to one patient"
                        ))
                }
            }
        }
        let many = rules.userManyPatients
        let failuresRule = rules.repeatedFailures
        let needsUser =
            (many.enabled && !entry.patientIDs.isEmpty) || (failuresRule.enabled && entry.failed)
            || (workingHours != nil && entry.purpose?.isEmergency != true)
        let userEntries = needsUser ? try storedHistory(.user(entry.userID), before: entry, after: after, through: entry.time, history) : []
        // Whether `other`, of this user's history, counts in a window reaching back to `lower`.
        func inWindow(_ other: ObservedEntry, after lower: Int64) -> Bool {
            other.time > lower && other.time <= entry.time && other.tenantID == entry.tenantID
        }
        if many.enabled, !entry.patientIDs.isEmpty {
            let lower = entry.time - Int64(many.windowMinutes) * 60_000
            // Distinct patients before this entry, counted no further than the limit: past it
            // an episode is already open and nothing is raised. When the window names no more
            // patients than the limit, even counting repeats, no set is needed at all.
            var named = entry.patientIDs.count
            for other in userEntries where inWindow(other, after: lower) { named += other.patientIDs.count }
            var distinctBefore = Set<String>()
            if named > many.maxPatients {
                for other in userEntries where inWindow(other, after: lower) {
                    distinctBefore.formUnion(other.patientIDs)
                    if distinctBefore.count > many.maxPatients { break }
                }
            }
            if named > many.maxPatients, distinctBefore.count <= many.maxPatients,
                distinctBefore.union(entry.patientIDs).count > many.maxPatients
            {
                let before = userEntries.filter { inWindow($0, after: lower) && !$0.patientIDs.isEmpty }
                let distinctAfter = distinctBefore.union(entry.patientIDs)
                alerts.append(
                    AlertDraft(
                        kind: .userManyPatients, severity: AlertKind.userManyPatients.severity, tenantID: entry.tenantID,
                        userID: entry.userID, patientID: nil, triggerSeq: entry.seq,
                        entrySeqs: Array(Set(before.map(\.seq) + [entry.seq])).sorted(), time: entry.time,
                        windowStart: (before.map(\.time) + [entry.time]).min() ?? entry.time,
                        parameters: [
                            "max_patients": .number(Double(many.maxPatients)), "window_minutes": .number(Double(many.windowMinutes)),
                        ],
                        summary:
                            "one user accessed \(distinctAfter.count) distinct patients within \(many.windowMinutes) minutes (limit \(many.maxPatients))",
                        keyID: entry.keyID
                    ))
            }
        }
        if failuresRule.enabled, entry.failed {
            let lower = entry.time - Int64(failuresRule.windowMinutes) * 60_000
            func counts(_ other: ObservedEntry) -> Bool { other.failed && inWindow(other, after: lower) }
            let count = userEntries.count(where: counts)
            if count + 1 >= failuresRule.threshold, count < failuresRule.threshold {
                let events = (userEntries.filter(counts) + [entry]).map { Window.Event(time: $0.time, seq: $0.seq, patient: nil) }
                alerts.append(
                    Self.countAlert(
                        .repeatedFailures, entry, events, userID: entry.userID, patientID: nil, threshold: failuresRule.threshold,
                        windowMinutes: failuresRule.windowMinutes, what: "failed or denied calls by one user"
                    ))
            }
        }
        if let workingHours, let rule = rules.afterHours, entry.purpose?.isEmergency != true, workingHours.isAfterHours(entry.time) {
            let lower = entry.time - Int64(rule.windowMinutes) * 60_000
            let episode = userEntries.contains {
                inWindow($0, after: lower) && $0.purpose?.isEmergency != true && workingHours.isAfterHours($0.time)
            }
            if !episode, let alert = Self.afterHoursAlert(entry, rule: rule) { alerts.append(alert) }
        }
        return alerts.map(Self.markedLate)
    }

    /// Leaves a reminder to look at `key`'s history in `table` again once `time` is past the horizon.
    private mutating func remind(_ table: Table, _ key: String, at time: Int64) {
        expiry.append(Reminder(time: time, table: table, key: key))
        remindersLeft += 1
    }

    private mutating func patientBurst(_ entry: ObservedEntry, patient: String, cut: Int64) -> AlertDraft? {
        let rule = rules.patientAccessBurst
        remind(.patients, patient, at: entry.time)
        guard
            let recent = Self.reachThreshold(
                &patients, key: patient, entry, threshold: rule.threshold, windowMinutes: rule.windowMinutes, cut: cut
            )
        else { return nil }
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
        remind(.users, key, at: entry.time)
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
        let key = entry.tenantID + "\u{1F}" + entry.userID
        remind(.failures, key, at: entry.time)
        guard
            let recent = Self.reachThreshold(
                &failures, key: key, entry, threshold: rule.threshold,
                windowMinutes: rule.windowMinutes, cut: cut
            )
        else { return nil }
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
        remind(.afterHours, key, at: entry.time)
        if let previous, entry.time - previous < Int64(rule.windowMinutes) * 60_000 { return nil }
        return Self.afterHoursAlert(entry, rule: rule)
    }

    private static func afterHoursAlert(_ entry: ObservedEntry, rule: AlertRules.AfterHours) -> AlertDraft? {
        AlertDraft(
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

    /// Drops history no window can reach any more, a few windows at a time: each event left
    /// a reminder in `expiry`, and the reminders older than `cut` are taken from its front.
    /// Work per observed entry stays small, so no append waits for a sweep of every window.
    private mutating func expire(before cut: Int64) {
        var budget = 2 * remindersLeft + 4
        remindersLeft = 0
        while budget > 0, let reminder = expiry.first, reminder.time <= cut {
            expiry.removeFirst()
            budget -= 1
            switch reminder.table {
            case .patients: Self.prune(&patients, key: reminder.key, through: cut)
            case .users: Self.prune(&users, key: reminder.key, through: cut)
            case .failures: Self.prune(&failures, key: reminder.key, through: cut)
            case .afterHours:
                if let last = afterHours[reminder.key], last <= cut { afterHours[reminder.key] = nil }
            }
        }
    }

    private static func prune(_ windows: inout [String: Window], key: String, through cut: Int64) {
        guard let index = windows.index(forKey: key) else { return }
        windows.values[index].removeEvents(through: cut)
        if windows.values[index].events.isEmpty { windows.remove(at: index) }
    }

    /// Which table a reminder in `expiry` points into.
    enum Table: UInt8, Sendable {
        case patients, users, failures, afterHours
    }

    /// A window (or after-hours mark) to look at again once `time` is past the horizon.
    struct Reminder: Sendable {
        var time: Int64
        var table: Table
        var key: String
    }

    /// The reminders in the order they were left: a queue kept in an array with a moving front.
    struct ReminderQueue: Sendable {
        private var items: [Reminder] = []
        private var front = 0

        var first: Reminder? { front < items.count ? items[front] : nil }

        mutating func append(_ reminder: Reminder) { items.append(reminder) }

        mutating func removeFirst() {
            front += 1
            // Compact once the taken part is half the storage: amortised constant time.
            if front >= 1024, front * 2 >= items.count {
                items.removeFirst(front)
                front = 0
            }
        }
    }

    /// How many events the windows hold: about the events of the horizon (twice the longest
    /// window), however long the detector runs.
    public var retainedEvents: Int {
        [patients, users, failures].reduce(0) { total, windows in total + windows.values.reduce(0) { $0 + $1.events.count } }
    }
}
