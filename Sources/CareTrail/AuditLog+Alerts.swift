public import AuditAnalysis
public import AuditChain
public import AuditCore
import AuditKeys
import AuditStorage
import Foundation
import Synchronization

extension AuditLog {
    /// The configuration in force: the log's latest `config` entry, or the defaults.
    public var configuration: LogConfiguration { configurationInForce.current }

    /// Every alert with its review state, at the log's clock.
    ///
    /// The log keeps the alerts and reviews it has read, and each call reads only those
    /// appended since (by this process or another); it keeps their states too, until a new
    /// alert or review arrives or the next open alert's review falls due. The alert queue of a
    /// large log costs what its new alerts cost, not a read of every alert.
    public func alerts() throws(CareTrailError) -> [AlertStatus] {
        let history = try storeCall { () throws(StoreError) in try caughtUpAlertHistory() }
        let now = store.clock()
        let deadlineDays = configuration.reviewDeadlineDays
        if let states = history.states, states.deadlineDays == deadlineDays, states.validUntil.map({ now <= $0 }) ?? true {
            return states.statuses
        }
        let statuses = AlertStatus.derive(alerts: history.alerts, reviews: history.reviews, now: now, deadlineDays: deadlineDays)
        // The states hold until the earliest open alert that is not overdue yet becomes so.
        var validUntil: Timestamp?
        for index in statuses.indices where statuses[index].state == AlertStatus.open && !statuses[index].overdue {
            if let due = statuses[index].reviewDue, validUntil.map({ due < $0 }) ?? true { validUntil = due }
        }
        let states = AlertHistory.States(statuses: statuses, deadlineDays: deadlineDays, validUntil: validUntil)
        alertHistory.withLock { stored in
            if stored?.through == history.through, stored?.alerts.count == history.alerts.count { stored?.states = states }
        }
        return statuses
    }

    /// The alert history, brought up to the head. Archiving and retention take entries' content
    /// out of the hot log, so a new `archive` or `retention_purge` entry makes it read again
    /// from the start.
    private func caughtUpAlertHistory() throws(StoreError) -> AlertHistory {
        // Everything at or below the head read first is committed, so reading above the
        // previous mark and keeping what lies at or below this head misses nothing.
        let head = try store.head()?.seq ?? 0
        var history = alertHistory.withLock { $0 } ?? AlertHistory()
        let sealed = try store.entries(kind: .archive, after: history.through)
        let purged = try store.entries(kind: .retentionPurge, after: history.through)
        if head < history.through || !sealed.isEmpty || !purged.isEmpty {
            history = AlertHistory()
        }
        guard head > history.through else { return history }
        let mark = history.through
        let alerts = try store.entries(kind: .alert, after: mark).filter { $0.seq <= head }.compactMap(AlertRecord.init)
        let reviews = try store.entries(kind: .review, after: mark).filter { $0.seq <= head }.compactMap(ReviewRecord.init)
        // Only what changed is copied: appending nothing would still copy the arrays.
        if !alerts.isEmpty || !reviews.isEmpty {
            history.alerts += alerts
            history.reviews += reviews
            history.states = nil
        }
        history.through = head
        let caughtUp = history
        alertHistory.withLock { stored in
            if (stored?.through ?? -1) < caughtUp.through { stored = caughtUp }
        }
        return history
    }

    /// The alert with this id (`alert-42` or `42`).
    public func alert(id: String) throws(CareTrailError) -> AlertRecord {
        guard let seq = AlertRecord.seq(fromID: id),
            let entry = try storeCall({ () throws(StoreError) in try store.entry(seq: seq) }),
            let alert = AlertRecord(entry)
        else {
            throw CareTrailError(code: .notFound, message: "no alert with id \(id.prefix(40))")
        }
        return alert
    }

    /// Appends a privacy officer's review of an alert to the chain. The note is kept readable
    /// but scrubbed of identifiers first.
    ///
    /// A user cannot review an alert about their own access. Identities are compared in their
    /// normalised form (Unicode NFC, lower-cased, trimmed, inner whitespace collapsed), so
    /// `" Dr.Smith "` is `dr.smith`: the reviewer named by `reviewer` and every one of
    /// `otherIdentities` (over HTTP: the API key's id and its name) is checked.
    @discardableResult
    public func review(
        alertID: String, by reviewer: String, otherIdentities: [String] = [], decision: ReviewDecision, note: String
    ) throws(CareTrailError) -> ChainHead {
        let alert = try alert(id: alertID)
        let who = reviewer.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !who.isEmpty else {
            throw CareTrailError(code: .invalidArgument, message: "--by: the reviewer's user id is required")
        }
        guard note.trimmingCharacters(in: .whitespacesAndNewlines).count >= 3 else {
            throw CareTrailError(code: .invalidArgument, message: "--note: say what the review found")
        }
        if let subject = alert.userID.map(HMACPseudonymizer.normalize),
            ([who] + otherIdentities).contains(where: { HMACPseudonymizer.normalize($0) == subject })
        {
            throw CareTrailError(code: .invalidArgument, message: "--by: a user cannot review an alert about their own access")
        }
        let content = ReviewRecord.content(
            alert: alert, reviewer: who, decision: decision, scrubbedNote: sanitizer.scrubNote(note),
            keyID: sanitizer.pseudonymizer.keyID
        )
        return try appendOwn(content)
    }

    /// Appends a configuration change to the chain; it applies to every writer from then on.
    @discardableResult
    public func setConfiguration(_ configuration: LogConfiguration, changedBy user: String) throws(CareTrailError) -> ChainHead {
        guard !user.isEmpty else {
            throw CareTrailError(code: .invalidArgument, message: "--by: who changes the configuration is required")
        }
        return try appendOwn(configuration.entryContent(changedBy: user, keyID: sanitizer.pseudonymizer.keyID))
    }

    /// Replays the log's history through the anomaly rules and compares with the alerts raised live.
    public func scanAlerts(from: Timestamp? = nil, to: Timestamp? = nil) throws(CareTrailError) -> AlertScan {
        try storeCall { () throws(StoreError) in try AlertScan.run(store: store, from: from, to: to) }
    }

    /// Appends an entry CareTrail writes itself, durably, in a transaction of its own.
    func appendOwn(_ content: EntryContent) throws(CareTrailError) -> ChainHead {
        let receipt = try storeCall { () throws(StoreError) in try store.appendNow([EncodedEntry(content)]) }
        guard let head = receipt.entries.first else {
            throw CareTrailError(code: .store, message: "the store acknowledged no entry")
        }
        return head
    }
}

/// Runs a store call, turning its error into a ``CareTrailError``.
func storeCall<T>(_ body: () throws(StoreError) -> T) throws(CareTrailError) -> T {
    do {
        return try body()
    } catch {
        throw CareTrailError(error)
    }
}

/// The alerts and reviews of a log up to a sequence number, kept between reads.
struct AlertHistory: Sendable {
    var alerts: [AlertRecord] = []
    var reviews: [ReviewRecord] = []
    /// Every alert and review at or below this sequence number is in the history.
    var through: Int64 = 0
    /// The alerts' states, derived once for the alerts and reviews above.
    var states: States?

    struct States: Sendable {
        var statuses: [AlertStatus]
        var deadlineDays: Int
        /// The states hold at and before this time (always, when `nil`).
        var validUntil: Timestamp?
    }
}
