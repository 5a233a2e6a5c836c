public import AuditChain
public import AuditCore

/// What the anomaly rules need to know of an entry: who, which patients, when, how it went.
public struct ObservedEntry: Sendable, Hashable {
    public var seq: Int64
    public var kind: RecordKind?
    public var tenantID: String
    public var userID: String
    /// The patients the entry accessed: `patient_id`, or a query's `patient_ids`.
    public var patientIDs: [String]
    public var isQuery: Bool
    public var failed: Bool
    public var purpose: PurposeOfUse?
    /// Event time: the agent's `timestamp`, else `recorded_at`, in milliseconds since the epoch.
    public var time: Int64
    /// The log's own clock when the entry was appended (`recorded_at`), in milliseconds.
    public var recordedAt: Int64
    /// Whether the entry was marked late when it was appended (`"late": true`).
    public var late: Bool
    public var breakGlass: Bool
    public var keyID: String

    public init(
        seq: Int64, kind: RecordKind?, tenantID: String, userID: String, patientIDs: [String], isQuery: Bool,
        failed: Bool, purpose: PurposeOfUse?, time: Int64, recordedAt: Int64? = nil, late: Bool = false,
        breakGlass: Bool, keyID: String
    ) {
        self.seq = seq
        self.kind = kind
        self.tenantID = tenantID
        self.userID = userID
        self.patientIDs = patientIDs
        self.isQuery = isQuery
        self.failed = failed
        self.purpose = purpose
        self.time = time
        self.recordedAt = recordedAt ?? time
        self.late = late
        self.breakGlass = breakGlass
        self.keyID = keyID
    }

    /// Reads a stored entry. Only entries with an emergency purpose have their body parsed
    /// (to find `break_glass`), so observing stays cheap.
    public init(_ entry: StoredEntry) {
        self.init(entry, readingLateMark: true)
    }

    /// Reads a stored entry; without `readingLateMark`, `late` is left false and the body is
    /// not parsed for it (history lookups do not need it).
    init(_ entry: StoredEntry, readingLateMark: Bool) {
        let content = entry.content
        let purpose = content.purposeOfUse.flatMap { PurposeOfUse(code: $0) }
        var breakGlass = false
        if purpose?.isEmergency == true {
            breakGlass = Self.topLevelMember("break_glass", in: content.body) != nil
        }
        let isQuery = content.action == .execute
        var patients: [String] = []
        if isQuery {
            var seen = Set<String>()
            patients = content.patientIDList.filter { seen.insert($0).inserted }
        } else if let patient = content.patientID {
            patients = [patient]
        }
        let recordedAt = Self.milliseconds(entry.recordedAt)
        let time = content.timestamp.map(Self.milliseconds) ?? recordedAt
        let late = readingLateMark && Self.isMarkedLate(recordedAt: recordedAt, time: time, body: content.body)
        self.init(
            seq: entry.seq, kind: content.kind, tenantID: content.tenantID, userID: content.userID,
            patientIDs: patients, isQuery: isQuery, failed: content.outcome == .failure,
            purpose: purpose, time: time, recordedAt: recordedAt, late: late, breakGlass: breakGlass, keyID: content.keyID
        )
    }

    /// Whether an entry recorded at `recordedAt` for an event at `time` was marked late when
    /// it was appended. Only an entry dated well before it was recorded can be: the body is
    /// looked at only then.
    static func isMarkedLate(recordedAt: Int64, time: Int64, body: String) -> Bool {
        recordedAt - time > 60_000 && marksLate(body)
    }

    /// Whether a stored body carries the late mark (canonical JSON: `"late":true`).
    static func marksLate(_ body: String) -> Bool {
        // Canonical JSON writes the member as `"late":true`; only then are the members read.
        guard body.utf8.count > 12, contains(Self.lateMark, in: body) else { return false }
        return topLevelMember("late", in: body) == "true"
    }

    private static let lateMark = Array(#""late":true"#.utf8)

    /// Whether `needle` occurs in the UTF-8 bytes of `text` (String.contains goes through
    /// the generic string-processing search, many times slower on a 1 KB body).
    static func contains(_ needle: [UInt8], in text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard let first = needle.first, bytes.count >= needle.count else { return false }
            var index = 0
            let last = bytes.count - needle.count
            while index <= last {
                if bytes[index] == first, bytes[index..<(index + needle.count)].elementsEqual(needle) { return true }
                index += 1
            }
            return false
        }
    }

    /// The JSON text of a top-level member of a stored (valid, canonical) body, found by
    /// walking its members without building any value.
    static func topLevelMember(_ name: String, in body: String) -> String? {
        var body = body
        let wanted = Array(name.utf8)
        return body.withUTF8 { bytes in
            var found: String?
            JSONObjectIndex.forEachMember(in: bytes) { nameRange, escaped, value in
                guard found == nil, !escaped, bytes[nameRange].elementsEqual(wanted) else { return }
                found = String(decoding: UnsafeBufferPointer(rebasing: bytes[value]), as: UTF8.self)
            }
            return found
        }
    }

    static func milliseconds(_ text: String) -> Int64 {
        Timestamp(rfc3339: text)?.millisecondsSinceEpoch ?? 0
    }
}
