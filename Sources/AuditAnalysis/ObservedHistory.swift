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
    /// The sequence number the detector began at: the log's tool calls before it were never
    /// observed.
    let began: Int64
    /// The latest event time of the observed tool calls no longer held (`Int64.min` when none
    /// was dropped): a window that starts after it needs none of them.
    private(set) var latestDroppedTime = Int64.min
    private let limit: Int
    private var entries: [ObservedEntry] = []
    /// The absolute position of `entries[0]`: positions stay valid when the oldest are dropped.
    private var base = 0
    /// The absolute positions of each patient's and each user's entries, in seq order.
    private var positions: [AnomalyDetector.HistoryKey: [Int]] = [:]

    /// An empty history whose first entry will be `seq`, holding at most `limit` entries
    /// (none: every late record reads its whole window from the log).
    init(startingAt seq: Int64, limit: Int = AnomalyDetector.defaultHistoryInMemory) {
        since = seq
        began = seq
        self.limit = max(0, limit)
    }

    /// Adds the next observed tool call (sequence numbers rise). It is kept as the log's
    /// history reads it: without its late mark.
    mutating func add(_ entry: ObservedEntry) {
        guard limit > 0 else {
            since = entry.seq + 1
            latestDroppedTime = max(latestDroppedTime, entry.time)
            return
        }
        if entries.count >= limit { dropOldestHalf(next: entry.seq) }
        let position = base + entries.count
        var held = entry
        held.late = false
        entries.append(held)
        for (index, patient) in entry.patientIDs.enumerated() where !entry.patientIDs[..<index].contains(patient) {
            positions[.patient(patient), default: []].append(position)
        }
        positions[.user(entry.userID), default: []].append(position)
    }

    /// The held tool calls of `key` (a patient named in `patientIDs`, or a user of any tenant)
    /// with `seq < before` and event time in `(after, through]`, in seq order.
    ///
    /// Only the entries in the range are copied: a user's positions span the whole history,
    /// and copying each entry to test its time made this most of a late record's cost.
    func entries(of key: AnomalyDetector.HistoryKey, after: Int64, through: Int64, before: Int64) -> [ObservedEntry] {
        var found: [ObservedEntry] = []
        for position in positions[key] ?? [] where position >= base {
            let index = position - base
            // Positions rise with sequence numbers: past `before`, nothing more is wanted.
            if entries[index].seq >= before { break }
            let time = entries[index].time
            if time > after && time <= through { found.append(entries[index]) }
        }
        return found
    }

    /// Drops the oldest half; `since` becomes the first kept entry, or `next` when none is.
    private mutating func dropOldestHalf(next: Int64) {
        let dropped = max(1, entries.count / 2)
        for entry in entries[..<dropped] { latestDroppedTime = max(latestDroppedTime, entry.time) }
        entries.removeFirst(dropped)
        base += dropped
        since = entries.first.map(\.seq) ?? next
        positions = positions.compactMapValues { held in
            let kept = held.filter { $0 >= base }
            return kept.isEmpty ? nil : kept
        }
    }
}
