/// Every tool call a detector has observed since it began, by patient and by user: the log's
/// history from one sequence number on, kept in memory so that a late record (a backfill)
/// reads from the log only the part recorded before the detector began.
///
/// It is exact for its range: a detector observes every entry after the one it starts after,
/// in order (live detection catches up with what other processes appended before it goes on),
/// so every tool call with `seq >= since` is here. Past its limit the oldest half is dropped
/// and `since` moves on, so memory stays bounded.
struct ObservedHistory: Sendable {
    /// The first sequence number from which every observed tool call is held.
    private(set) var since: Int64
    private var entries: [ObservedEntry] = []
    /// The position in ``entries`` of absolute index 0 minus `base`.
    private var base = 0
    private var byPatient: [String: [Int]] = [:]
    private var byUser: [String: [Int]] = [:]

    private let limit: Int

    /// An empty history whose first entry will be `seq`, holding at most `limit` entries
    /// (none: every late record reads its whole window from the log).
    init(startingAt seq: Int64, limit: Int = AnomalyDetector.defaultHistoryInMemory) {
        since = seq
        self.limit = max(0, limit)
    }

    /// Adds the next observed tool call (sequence numbers rise).
    mutating func add(_ entry: ObservedEntry) {
        guard limit > 0 else {
            since = entry.seq + 1
            return
        }
        if entries.count >= limit { dropOldestHalf(next: entry.seq) }
        let position = base + entries.count
        entries.append(entry)
        var seen = Set<String>()
        for patient in entry.patientIDs where seen.insert(patient).inserted { byPatient[patient, default: []].append(position) }
        byUser[entry.userID, default: []].append(position)
    }

    /// The held tool calls of a patient (named in `patientIDs`) or of a user (any tenant), with
    /// `seq < before` and event time in `(after, through]`, in seq order.
    func entries(patient: String? = nil, user: String? = nil, after: Int64, through: Int64, before: Int64) -> [ObservedEntry] {
        let positions = patient.map { byPatient[$0] ?? [] } ?? user.map { byUser[$0] ?? [] } ?? []
        var found: [ObservedEntry] = []
        for position in positions where position >= base {
            let entry = entries[position - base]
            if entry.seq < before, entry.time > after, entry.time <= through { found.append(entry) }
        }
        return found
    }

    /// Drops the oldest half; `since` becomes the first kept entry, or `next` when none is.
    private mutating func dropOldestHalf(next: Int64) {
        let dropped = max(1, entries.count / 2)
        entries.removeFirst(dropped)
        base += dropped
        since = entries.first.map(\.seq) ?? next
        byPatient = byPatient.compactMapValues { positions in
            let kept = positions.filter { $0 >= base }
            return kept.isEmpty ? nil : kept
        }
        byUser = byUser.compactMapValues { positions in
            let kept = positions.filter { $0 >= base }
            return kept.isEmpty ? nil : kept
        }
    }
}
