public import AuditChain
public import AuditCore

/// A privacy officer's verdict on an alert.
public enum ReviewDecision: String, Sendable, Hashable, CaseIterable, Codable {
    /// The access was legitimate; the alert is closed.
    case justified
    /// The access was not legitimate; the alert is closed, with consequences outside the log.
    case unjustified
    /// The officer needs more before deciding; the alert stays open.
    case needsFollowUp = "needs-follow-up"

    /// Whether this decision closes the alert.
    public var closes: Bool { self != .needsFollowUp }
}

/// An alert as the log holds it, read back from its entry.
public struct AlertRecord: Sendable, Hashable {
    /// `alert-<seq>`: the id `caretrail review` takes.
    public var id: String { Self.id(seq: seq) }
    public var seq: Int64
    public var kind: AlertKind
    public var severity: Severity
    public var tenantID: String
    public var userID: String?
    public var patientID: String?
    /// When the log appended the alert (its `recorded_at`).
    public var raisedAt: String
    /// The event time of the entry that raised it.
    public var eventTime: String?
    public var triggerSeq: Int64
    public var entrySeqs: [Int64]
    public var summary: String
    public var rule: [String: JSONValue]

    /// The id of the alert at `seq`.
    public static func id(seq: Int64) -> String { "alert-\(seq)" }

    /// The sequence number an alert id names: `alert-42` or `42`.
    public static func seq(fromID id: String) -> Int64? {
        let digits = id.hasPrefix("alert-") ? String(id.dropFirst(6)) : id
        guard let seq = Int64(digits), seq >= 1 else { return nil }
        return seq
    }

    /// Reads an alert entry; `nil` if the entry is not one.
    public init?(_ entry: StoredEntry) {
        let content = entry.content
        guard content.kind == .alert, case .object(let body)? = try? JSONParser.parse(content.body),
            let kind = body["alert_kind"]?.stringValue.flatMap(AlertKind.init(rawValue:))
        else { return nil }
        seq = entry.seq
        self.kind = kind
        severity = body["severity"]?.stringValue.flatMap(Severity.init(rawValue:)) ?? kind.severity
        tenantID = content.tenantID
        userID = body["user_concerned"]?.stringValue
        patientID = content.patientID
        raisedAt = entry.recordedAt
        eventTime = content.timestamp
        triggerSeq = body["trigger_seq"]?.numberValue.flatMap { Int64(exactly: $0) } ?? 0
        entrySeqs = body["entries"]?.arrayValue?.compactMap { $0.numberValue.flatMap { Int64(exactly: $0) } } ?? []
        summary = body["summary"]?.stringValue ?? ""
        rule = body["rule"]?.objectValue ?? [:]
    }

    public var identity: AlertIdentity { AlertIdentity(kind: kind, triggerSeq: triggerSeq, entrySeqs: entrySeqs) }
}

/// A review as the log holds it.
public struct ReviewRecord: Sendable, Hashable {
    public var seq: Int64
    public var alertSeq: Int64
    public var reviewer: String
    public var decision: ReviewDecision
    /// The note, scrubbed of identifiers before it was stored.
    public var note: String
    public var reviewedAt: String

    /// Reads a review entry; `nil` if the entry is not one.
    public init?(_ entry: StoredEntry) {
        let content = entry.content
        guard content.kind == .review, case .object(let body)? = try? JSONParser.parse(content.body),
            let alertSeq = body["alert_seq"]?.numberValue,
            let decision = body["decision"]?.stringValue.flatMap(ReviewDecision.init(rawValue:))
        else { return nil }
        seq = entry.seq
        self.alertSeq = Int64(alertSeq)
        reviewer = content.userID
        self.decision = decision
        note = body["note"]?.stringValue ?? ""
        reviewedAt = entry.recordedAt
    }

    /// The entry content of a review of `alert` by `reviewer`. `note` must be scrubbed already.
    public static func content(
        alert: AlertRecord, reviewer: String, decision: ReviewDecision, scrubbedNote: String, keyID: String
    ) -> EntryContent {
        EntryContent(
            kind: .review, tenantID: alert.tenantID, userID: reviewer, model: AlertDraft.writer, patientID: alert.patientID,
            keyID: keyID,
            body: [
                "alert_id": .string(alert.id), "alert_seq": .number(Double(alert.seq)),
                "alert_kind": .string(alert.kind.rawValue), "decision": .string(decision.rawValue),
                "note": .string(scrubbedNote),
            ]
        )
    }
}

/// Where an alert stands, derived from the review entries that name it (the log never
/// changes an alert's entry).
public struct AlertStatus: Sendable, Hashable {
    /// No review yet, or the last review asked for follow-up.
    public static let open = "open"
    /// The last review closed it (justified or unjustified).
    public static let reviewed = "reviewed"

    public var alert: AlertRecord
    /// Every review of the alert, oldest first.
    public var reviews: [ReviewRecord]
    /// `open` or `reviewed`.
    public var state: String
    /// The last review's decision, if any.
    public var decision: ReviewDecision?
    /// When a review is due: the alert's `raised_at` plus the deadline.
    public var reviewDue: Timestamp?
    /// Open past its deadline.
    public var overdue: Bool

    /// Derives every alert's status from the alerts and reviews at time `now`.
    public static func derive(
        alerts: [AlertRecord], reviews: [ReviewRecord], now: Timestamp, deadlineDays: Int
    ) -> [AlertStatus] {
        let byAlert = Dictionary(grouping: reviews, by: \.alertSeq)
        return alerts.map { alert in
            let reviews = (byAlert[alert.seq] ?? []).sorted { $0.seq < $1.seq }
            let decision = reviews.last?.decision
            let closed = decision?.closes ?? false
            let due = Timestamp(rfc3339: alert.raisedAt).map {
                Timestamp(millisecondsSinceEpoch: $0.millisecondsSinceEpoch + Int64(deadlineDays) * 86_400_000)
            }
            return AlertStatus(
                alert: alert, reviews: reviews, state: closed ? reviewed : open, decision: decision, reviewDue: due,
                overdue: !closed && due.map { now > $0 } == true
            )
        }
    }

    /// The JSON `caretrail alerts --format json` prints for one alert.
    public var jsonValue: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(alert.id), "seq": .number(Double(alert.seq)), "kind": .string(alert.kind.rawValue),
            "severity": .string(alert.severity.rawValue), "state": .string(state), "overdue": .bool(overdue),
            "raised_at": .string(alert.raisedAt), "tenant_id": .string(alert.tenantID),
            "patient_id": alert.patientID.map(JSONValue.string) ?? .null,
            "user_id": alert.userID.map(JSONValue.string) ?? .null,
            "event_time": alert.eventTime.map(JSONValue.string) ?? .null,
            "trigger_seq": .number(Double(alert.triggerSeq)),
            "entries": .array(alert.entrySeqs.map { .number(Double($0)) }), "summary": .string(alert.summary),
            "rule": .object(alert.rule), "decision": decision.map { .string($0.rawValue) } ?? .null,
            "review_due": reviewDue.map { .string($0.description) } ?? .null,
        ]
        object["reviews"] = .array(
            reviews.map { review in
                .object([
                    "seq": .number(Double(review.seq)), "reviewer": .string(review.reviewer),
                    "decision": .string(review.decision.rawValue), "note": .string(review.note),
                    "reviewed_at": .string(review.reviewedAt),
                ])
            })
        return .object(object)
    }
}
