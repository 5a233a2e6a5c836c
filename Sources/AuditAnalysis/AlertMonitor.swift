public import AuditChain
public import AuditCore
public import AuditStorage
import Synchronization

/// Live anomaly detection: the store's ``AppendObserver`` that runs the ``AnomalyDetector``
/// over every appended entry, inside the append's transaction, and hands back the alerts to
/// append with it. An access and the alert it raises commit together.
///
/// The detector's state is rebuilt from the log when needed: on first use it replays the
/// recent history (twice the longest rule window, in event time), and when another process
/// appended in between it replays what that process appended. A `config` entry in the chain
/// restarts detection under the new rules, from that entry on.
public final class AlertMonitor: AppendObserver {
    private struct State {
        var detector: AnomalyDetector?
        var configuration: LogConfiguration
        /// The `config` entry the configuration came from (0 for the defaults).
        var configurationSeq: Int64 = 0
        /// Where each configuration change is published for the rest of the process.
        let inForce: ConfigurationInForce

        mutating func setConfiguration(_ configuration: LogConfiguration, seq: Int64) {
            self.configuration = configuration
            configurationSeq = seq
            inForce.set(configuration, seq: seq)
        }
    }

    private let state: Mutex<State>

    /// A monitor that starts from the configuration in `inForce` and publishes every change
    /// it observes in the chain there.
    public init(publishingTo inForce: ConfigurationInForce = ConfigurationInForce()) {
        let (configuration, seq) = inForce.currentAndSeq
        state = Mutex(State(configuration: configuration, configurationSeq: seq, inForce: inForce))
    }

    /// The configuration in force, as of the last entry observed.
    public var configuration: LogConfiguration { state.withLock { $0.configuration } }

    /// The last entry the detector has seen, `nil` before it has read any history.
    public var observedThrough: Int64? { state.withLock { $0.detector?.lastSeq } }

    /// Sets the configuration read from the log when it was opened.
    public func prime(_ configuration: LogConfiguration, seq: Int64) {
        state.withLock { $0.setConfiguration(configuration, seq: seq) }
    }

    /// The most entries another process may have appended that are replayed one by one; past
    /// this, the monitor rebuilds from recent history instead.
    static let catchUpLimit: Int64 = 65_536

    /// Kinds of entry the log writes about itself, which no rule reads.
    static let bookkeeping: Set<RecordKind> = [.checkpoint, .keyEvent, .legalHold, .retentionPurge, .archive, .auditAccess]

    public func entriesAppended(_ entries: [StoredEntry], reader: any LogReader) throws -> [EncodedEntry] {
        guard let first = entries.first else { return [] }
        return try state.withLock { state in
            if state.detector?.lastSeq != first.seq - 1 {
                // Checkpoints and key events concern no patient and raise no alert: a process
                // that appends only those (`caretrail checkpoint`, `bundle`, `keys`) does not
                // read the detection history for them; the next append of calls replays them.
                if entries.allSatisfy({ Self.bookkeeping.contains($0.content.kind) }) { return [] }
                try Self.bringUpToDate(&state, through: first.seq - 1, reader: reader)
            }
            var alerts: [EncodedEntry] = []
            for entry in entries {
                for draft in try Self.observe(entry, state: &state, history: reader) { alerts.append(EncodedEntry(draft.content)) }
            }
            return alerts
        }
    }

    public func catchUp(through seq: Int64, reader: any LogReader) throws {
        try state.withLock { state in
            // Appends of this process may have gone past `seq` meanwhile: nothing to do then.
            if let lastSeq = state.detector?.lastSeq, lastSeq >= seq { return }
            try Self.bringUpToDate(&state, through: seq, reader: reader)
        }
    }

    /// Replays what others appended after the detector's last entry through `seq`, or, when
    /// there is no detector or that is too much, rebuilds it from the recent history.
    private static func bringUpToDate(_ state: inout State, through seq: Int64, reader: any LogReader) throws {
        // Only the sequence number is read: a copy of the detector held while it catches up
        // would make its first change to every window copy the whole state.
        if let lastSeq = state.detector?.lastSeq, lastSeq < seq, seq - lastSeq <= catchUpLimit {
            try catchUp(&state, from: lastSeq + 1, through: seq, reader: reader)
        } else {
            try warmUp(&state, through: seq, reader: reader)
        }
    }

    public func appendRolledBack() {
        state.withLock { $0.detector = nil }
    }

    /// Feeds one entry: a configuration change restarts detection; anything else goes to the rules.
    private static func observe(_ entry: StoredEntry, state: inout State, history: any DetectionHistory) throws -> [AlertDraft] {
        if entry.content.kind == .config {
            if let configuration = try? LogConfiguration(entry: entry) {
                state.setConfiguration(configuration, seq: entry.seq)
            }
            state.detector = detector(state.configuration, startingAfter: entry.seq)
            return []
        }
        if state.detector == nil {
            state.detector = detector(state.configuration, startingAfter: entry.seq - 1)
        }
        // The late mark only changes how alerts read, and finding it means walking the body:
        // it is looked for once the entry raised something.
        let observed = ObservedEntry(entry, readingLateMark: false)
        let alerts = try state.detector?.observe(observed, history: history) ?? []
        guard !alerts.isEmpty, ObservedEntry.isMarkedLate(recordedAt: observed.recordedAt, time: observed.time, body: entry.content.body)
        else { return alerts }
        return alerts.map(AnomalyDetector.markedLate)
    }

    /// A detector for `configuration`'s rules and record-time policy.
    static func detector(_ configuration: LogConfiguration, startingAfter seq: Int64) -> AnomalyDetector {
        AnomalyDetector(rules: configuration.alerts, startingAfter: seq, maximumSkewMS: configuration.recordTime.maximumSkewMS)
    }

    /// Replays entries someone else appended (their alerts are in the log already).
    private static func catchUp(_ state: inout State, from first: Int64, through last: Int64, reader: any LogReader) throws {
        var low = first
        while low <= last {
            let high = min(last, low + 4095)
            for entry in try reader.entries(from: low, through: high) { _ = try observe(entry, state: &state, history: reader) }
            low = high + 1
        }
    }

    /// Rebuilds the detector from the configuration in force at `last` and the recent history
    /// before it, without raising anything (what it would raise is in the log already).
    private static func warmUp(_ state: inout State, through last: Int64, reader: any LogReader) throws {
        if let entry = try reader.latest(.config, atOrBefore: last), let configuration = try? LogConfiguration(entry: entry) {
            state.setConfiguration(configuration, seq: entry.seq)
        } else {
            state.setConfiguration(state.configuration, seq: 0)
        }
        let start = try historyStart(
            through: last, after: state.configurationSeq, rules: state.configuration.alerts,
            skewMS: state.configuration.recordTime.maximumSkewMS, reader: reader
        )
        state.detector = detector(state.configuration, startingAfter: start - 1)
        if start <= last { try catchUp(&state, from: start, through: last, reader: reader) }
    }

    /// The first entry whose history the rules may still need: the detector's clock is the
    /// log's (`recorded_at`), and no entry recorded more than the horizon plus the allowed
    /// skew before the last one can hold an event the windows still reach.
    static func historyStart(
        through last: Int64, after floor: Int64, rules: AlertRules, skewMS: Int64 = IngestLimits.defaultMaximumSkewMS,
        reader: any LogReader
    ) throws -> Int64 {
        guard last > floor, let newest = try reader.entries(from: last, through: last).first else { return floor + 1 }
        let clock = ObservedEntry.milliseconds(newest.recordedAt)
        let since = Timestamp(millisecondsSinceEpoch: clock - rules.horizonMilliseconds - skewMS)
        return max(floor + 1, try reader.firstSeq(recordedAtOrAfter: since.description, through: last))
    }
}
