import AuditChain
public import AuditCore
public import AuditStorage

/// Recomputes alerts over history, as `caretrail alerts scan` does, and compares them with the
/// alerts live detection appended.
///
/// It replays the log from the start in sequence order through the same ``AnomalyDetector``
/// (restarting it at each `config` entry, as live detection does), so on the same entries it
/// raises the same alerts.
public struct AlertScan: Sendable {
    /// Alerts the scan raised whose trigger lies in the period.
    public var recomputed: [AlertDraft]
    /// Alert entries of the log whose trigger lies in the period.
    public var logged: [AlertRecord]
    /// Entries replayed.
    public var entriesScanned: Int64

    /// Recomputed alerts the log does not hold.
    public var missing: [AlertDraft] {
        let known = Set(logged.map(\.identity))
        return recomputed.filter { !known.contains($0.identity) }
    }

    /// Logged alerts the scan did not raise.
    public var unexpected: [AlertRecord] {
        let found = Set(recomputed.map(\.identity))
        return logged.filter { !found.contains($0.identity) }
    }

    /// Whether the scan and the log agree.
    public var matches: Bool { missing.isEmpty && unexpected.isEmpty }

    /// Replays the log; keeps alerts whose trigger's event time is within `from...to` (either open).
    public static func run(
        store: any EntryReading, from: Timestamp? = nil, to: Timestamp? = nil, chunk: Int = 8192
    ) throws(StoreError) -> AlertScan {
        try store.withLogReader { reader in try run(reader: reader, from: from, to: to, chunk: chunk) }
    }

    /// Replays the log through one snapshot, reading late records' windows from it.
    static func run(reader: any LogReader, from: Timestamp?, to: Timestamp?, chunk: Int) throws -> AlertScan {
        let last = try reader.head()?.seq ?? 0
        var configuration = LogConfiguration.standard
        var detector = AlertMonitor.detector(configuration, startingAfter: 0)
        var recomputed: [AlertDraft] = []
        var logged: [AlertRecord] = []
        func inPeriod(_ time: Int64) -> Bool {
            (from.map { time >= $0.millisecondsSinceEpoch } ?? true) && (to.map { time <= $0.millisecondsSinceEpoch } ?? true)
        }
        var low: Int64 = 1
        while low <= last {
            let high = min(last, low + Int64(chunk) - 1)
            for entry in try reader.entries(from: low, through: high) {
                switch entry.content.kind {
                case .config:
                    if let changed = try? LogConfiguration(entry: entry) { configuration = changed }
                    detector = AlertMonitor.detector(configuration, startingAfter: entry.seq)
                case .alert:
                    if let alert = AlertRecord(entry), let time = alert.eventTime.flatMap(Timestamp.init(rfc3339:)),
                        inPeriod(time.millisecondsSinceEpoch)
                    {
                        logged.append(alert)
                    }
                    _ = try detector.observe(ObservedEntry(entry), history: reader)
                default:
                    let observed = ObservedEntry(entry)
                    for draft in try detector.observe(observed, history: reader) where inPeriod(draft.time) { recomputed.append(draft) }
                }
            }
            low = high + 1
        }
        return AlertScan(recomputed: recomputed, logged: logged, entriesScanned: last)
    }
}
