import AuditChain
public import AuditCore
public import AuditStorage

/// A patient access report: every access to one patient in a period, oldest first, a summary,
/// the alerts about the patient, and whether the log behind it verifies.
///
/// Its JSON form (``jsonValue``) is a stable, documented schema (`schema_version` 1).
public struct AccessReport: Sendable {
    /// One access to the patient.
    public struct Access: Sendable, Hashable {
        public var row: AccessRow
        /// `read`, `create`, `update`, `delete`, or `query` (the patient was among a query's results).
        public var access: String {
            if row.viaQuery { return "query" }
            switch row.action {
            case "C": return "create"
            case "U": return "update"
            case "D": return "delete"
            case "E": return "query"
            default: return "read"
            }
        }
        public var purposeDisplay: String? { row.purposeOfUse.flatMap { PurposeOfUse(code: $0) }?.display }
    }

    /// The patient id asked for, or `nil` for a search by pseudonym.
    public var patientID: String?
    /// The pseudonyms searched for (one per key of the ring), for a search by name or token.
    public var pseudonyms: [String]
    public var from: Timestamp?
    public var to: Timestamp?
    public var generatedAt: Timestamp
    public var accesses: [Access]
    /// Alerts about the patient (at any time), with their review state.
    public var alerts: [AlertStatus]
    /// The verification behind the report.
    public var integrity: VerificationReport

    public var totalAccesses: Int { accesses.count }
    // The summaries below count through the list in place: a report holds ~500 accesses at
    // ten million entries, and copying each (fifteen strings) into groups cost as much as
    // writing the whole report's JSON.
    public var uniqueUsers: Int {
        var users: Set<String> = []
        for index in accesses.indices { users.insert(accesses[index].row.userID) }
        return users.count
    }
    public var failures: Int {
        var count = 0
        for index in accesses.indices where accesses[index].row.outcome == .failure { count += 1 }
        return count
    }
    public var breakGlassAccesses: [Access] { accesses.filter(\.row.breakGlass) }

    /// How many accesses have each value of `key`.
    private func counts(_ key: (Access) -> String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for index in accesses.indices { counts[key(accesses[index]), default: 0] += 1 }
        return counts
    }

    /// Counts by purpose code, most frequent first (ties by code).
    public var byPurpose: [(code: String, display: String, count: Int)] {
        counts { $0.row.purposeOfUse ?? "" }.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { code, count in
            (code, PurposeOfUse(code: code)?.display ?? "", count)
        }
    }

    /// Counts by tool, most frequent first (ties by name).
    public var byTool: [(tool: String, count: Int)] {
        counts { $0.row.toolName ?? "" }.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { ($0.key, $0.value) }
    }

    /// Counts by kind of access (`read`, `create`, `update`, `delete`, `query`).
    public var byAccess: [String: Int] { counts(\.access) }

    /// Builds the report: streams the patient's rows from the store up to the verified head.
    public static func build(
        store: any EntryReading & AccessReading, key: PatientKey, from: Timestamp?, to: Timestamp?, integrity: VerificationReport,
        deadlineDays: Int, now: Timestamp
    ) throws(StoreError) -> AccessReport {
        var accesses: [Access] = []
        var alertSeqs: [Int64] = []
        var reviewSeqs: [Int64] = []
        try store.forEachAccess(to: key, from: from, to: to, through: integrity.head?.seq ?? 0) { row in
            switch row.kind {
            case .toolCall: accesses.append(Access(row: row))
            case .alert: alertSeqs.append(row.seq)
            case .review: reviewSeqs.append(row.seq)
            default: break
            }
        }
        var alerts: [AlertRecord] = []
        for seq in alertSeqs { if let entry = try store.entry(seq: seq), let alert = AlertRecord(entry) { alerts.append(alert) } }
        var reviews: [ReviewRecord] = []
        for seq in reviewSeqs { if let entry = try store.entry(seq: seq), let review = ReviewRecord(entry) { reviews.append(review) } }
        var patientID: String?
        var pseudonyms: [String] = []
        switch key {
        case .patientID(let id): patientID = id
        case .pseudonyms(let tokens): pseudonyms = tokens
        }
        return AccessReport(
            patientID: patientID, pseudonyms: pseudonyms, from: from, to: to, generatedAt: now, accesses: accesses,
            alerts: AlertStatus.derive(alerts: alerts, reviews: reviews, now: now, deadlineDays: deadlineDays),
            integrity: integrity
        )
    }

    /// The report as a privacy officer of `tenant` may see it: that tenant's accesses and alerts.
    public func restricted(toTenant tenant: String) -> AccessReport {
        var copy = self
        copy.accesses = accesses.filter { $0.row.tenantID == tenant }
        copy.alerts = alerts.filter { $0.alert.tenantID == tenant }
        return copy
    }

    /// The break-the-glass alerts among ``alerts`` and their review states.
    public var breakGlassReviewStates: (reviewed: Int, open: Int, overdue: Int) {
        let states = alerts.filter { $0.alert.kind == .breakGlass }
        return (
            states.filter { $0.state == AlertStatus.reviewed }.count, states.filter { $0.state == AlertStatus.open }.count,
            states.filter(\.overdue).count
        )
    }
}
