import AuditChain
public import AuditCore

/// An alert a rule raised, before it is appended to the chain.
public struct AlertDraft: Sendable, Hashable {
    public var kind: AlertKind
    public var severity: Severity
    public var tenantID: String
    /// The user concerned, for rules about a user (and break-the-glass).
    public var userID: String?
    /// The patient concerned, for rules about a patient (and break-the-glass).
    public var patientID: String?
    /// The entry whose arrival raised the alert.
    public var triggerSeq: Int64
    /// The entries behind the alert, in log order (the trigger among them).
    public var entrySeqs: [Int64]
    /// The event time of the trigger, and of the earliest entry behind the alert.
    public var time: Int64
    public var windowStart: Int64
    /// The rule's parameters when it fired.
    public var parameters: [String: JSONValue]
    /// One line a privacy officer reads first; no PHI (ids are pseudonymised or opaque).
    public var summary: String
    /// The pseudonymisation key of the trigger entry, whose tokens the alert repeats.
    public var keyID: String

    /// Who CareTrail's own entries name as their `model`: the component that wrote them.
    public static let writer = "caretrail"

    /// The alert as entry content for the chain. `user_id` is the user concerned, or
    /// `caretrail` for alerts about a patient only; `timestamp` is the trigger's event time.
    public var content: EntryContent {
        var body: [String: JSONValue] = [
            "alert_kind": .string(kind.rawValue), "severity": .string(severity.rawValue),
            "trigger_seq": .number(Double(triggerSeq)), "entries": .array(entrySeqs.map { .number(Double($0)) }),
            "window_start": .string(Timestamp(millisecondsSinceEpoch: windowStart).description),
            "rule": .object(parameters), "summary": .string(summary),
        ]
        if let userID { body["user_concerned"] = .string(userID) }
        return EntryContent(
            kind: .alert, tenantID: tenantID, userID: userID ?? Self.writer, model: Self.writer, patientID: patientID,
            timestamp: Timestamp(millisecondsSinceEpoch: time).description, keyID: keyID, body: body
        )
    }

    /// What identifies an alert across a live run and a replay: the rule and the entries behind it.
    public var identity: AlertIdentity { AlertIdentity(kind: kind, triggerSeq: triggerSeq, entrySeqs: entrySeqs) }
}

/// The rule and entries behind an alert: equal for the same alert raised live and by a scan.
public struct AlertIdentity: Sendable, Hashable, Comparable {
    public var kind: AlertKind
    public var triggerSeq: Int64
    public var entrySeqs: [Int64]

    public static func < (lhs: AlertIdentity, rhs: AlertIdentity) -> Bool {
        (lhs.triggerSeq, lhs.kind.rawValue) < (rhs.triggerSeq, rhs.kind.rawValue)
    }
}
