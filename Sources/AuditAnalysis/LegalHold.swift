public import AuditChain
public import AuditCore

/// A legal hold: entries about a patient, or a range of the chain, that no retention run may
/// delete while the hold stands, whatever their category's period says.
///
/// Holds are placed and released by entries of kind `legal_hold` in the chain itself, so a
/// hold cannot be lifted unseen. The hold's id is `hold-<seq>`, the sequence number of the
/// entry that placed it.
public struct LegalHold: Sendable, Hashable {
    /// What a hold keeps.
    public enum Scope: Sendable, Hashable {
        /// Every entry about the patient (as `patient_id`, or among a query's `patient_ids`).
        case patient(String)
        /// Every entry with `first <= seq <= last`.
        case range(first: Int64, last: Int64)
    }

    /// The sequence number of the entry that placed the hold.
    public var seq: Int64
    public var scope: Scope
    /// Why it was placed (scrubbed of identifiers before it was chained).
    public var reason: String
    public var placedBy: String
    public var placedAt: String
    /// The entry that released it, if one did.
    public var releasedSeq: Int64?
    public var releasedBy: String?

    /// `hold-<seq>`: the id `caretrail hold release` takes.
    public var id: String { "hold-\(seq)" }
    /// Whether the hold still keeps its entries.
    public var isActive: Bool { releasedSeq == nil }

    /// The sequence number a hold id names: `hold-42` or `42`.
    public static func seq(fromID id: String) -> Int64? {
        let digits = id.hasPrefix("hold-") ? String(id.dropFirst(5)) : id
        guard let seq = Int64(digits), seq >= 1 else { return nil }
        return seq
    }

    /// The entry that places a hold on `scope`, by `user`.
    public static func placing(_ scope: Scope, reason: String, by user: String, keyID: String) -> EntryContent {
        var hold: [String: JSONValue] = ["action": .string("add"), "reason": .string(reason)]
        switch scope {
        case .patient(let patient): hold["patient_id"] = .string(patient)
        case .range(let first, let last): hold["range"] = .object(["first": .number(Double(first)), "last": .number(Double(last))])
        }
        return EntryContent(
            kind: .legalHold, tenantID: "*", userID: user, model: AlertDraft.writer, keyID: keyID, body: ["legal_hold": .object(hold)])
    }

    /// The entry that releases the hold placed at `seq`, by `user`.
    public static func releasing(seq: Int64, by user: String, keyID: String) -> EntryContent {
        EntryContent(
            kind: .legalHold, tenantID: "*", userID: user, model: AlertDraft.writer, keyID: keyID,
            body: ["legal_hold": .object(["action": .string("release"), "hold": .number(Double(seq))])]
        )
    }

    /// Every hold the `legal_hold` entries place, with their releases, in the order placed.
    /// Entries that are not holds, or that release no known hold, are ignored.
    public static func holds(from entries: [StoredEntry]) -> [LegalHold] {
        var holds: [LegalHold] = []
        var index: [Int64: Int] = [:]
        for entry in entries where entry.content.kind == .legalHold {
            guard case .object(let body)? = try? JSONParser.parse(entry.content.body), case .object(let hold)? = body["legal_hold"]
            else { continue }
            switch hold["action"]?.stringValue {
            case "add":
                let scope: Scope
                if let patient = hold["patient_id"]?.stringValue {
                    scope = .patient(patient)
                } else if case .object(let range)? = hold["range"], let first = range["first"]?.numberValue.flatMap(Int64.init(exactly:)),
                    let last = range["last"]?.numberValue.flatMap(Int64.init(exactly:))
                {
                    scope = .range(first: first, last: last)
                } else {
                    continue
                }
                index[entry.seq] = holds.count
                holds.append(
                    LegalHold(
                        seq: entry.seq, scope: scope, reason: hold["reason"]?.stringValue ?? "", placedBy: entry.content.userID,
                        placedAt: entry.recordedAt))
            case "release":
                guard let seq = hold["hold"]?.numberValue.flatMap(Int64.init(exactly:)), let at = index[seq],
                    holds[at].releasedSeq == nil
                else { continue }
                holds[at].releasedSeq = entry.seq
                holds[at].releasedBy = entry.content.userID
            default:
                continue
            }
        }
        return holds
    }

    /// The JSON form `caretrail hold list --format json` prints.
    public var jsonValue: JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(id), "seq": .number(Double(seq)), "reason": .string(reason), "placed_by": .string(placedBy),
            "placed_at": .string(placedAt), "active": .bool(isActive),
            "released_seq": releasedSeq.map { .number(Double($0)) } ?? .null, "released_by": releasedBy.map(JSONValue.string) ?? .null,
        ]
        switch scope {
        case .patient(let patient): members["patient_id"] = .string(patient)
        case .range(let first, let last): members["range"] = .object(["first": .number(Double(first)), "last": .number(Double(last))])
        }
        return .object(members)
    }
}

/// The holds in force, asked entry by entry during a retention run.
public struct LegalHolds: Sendable {
    private let patients: Set<String>
    private let ranges: [ClosedRange<Int64>]

    public init(_ holds: [LegalHold]) {
        var patients: Set<String> = []
        var ranges: [ClosedRange<Int64>] = []
        for hold in holds where hold.isActive {
            switch hold.scope {
            case .patient(let patient): patients.insert(patient)
            case .range(let first, let last): ranges.append(first...last)
            }
        }
        self.patients = patients
        self.ranges = ranges
    }

    /// Whether any hold keeps `entry`.
    public func holds(_ entry: StoredEntry) -> Bool {
        if ranges.contains(where: { $0.contains(entry.seq) }) { return true }
        guard !patients.isEmpty else { return false }
        if let patient = entry.content.patientID, patients.contains(patient) { return true }
        if let list = entry.content.patientIDs, case .array(let values)? = try? JSONParser.parse(list) {
            return values.contains { $0.stringValue.map(patients.contains) ?? false }
        }
        return false
    }
}
