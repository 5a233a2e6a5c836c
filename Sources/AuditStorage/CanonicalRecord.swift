package import AuditChain
import AuditCore

/// What a full verification needs of an entry, read straight from its canonical bytes in one
/// walk over its members: its link (`seq`, `prev_hash`), the patients it concerns and the
/// ``AccessRecord`` their postings must hold, written byte for byte as ``AccessRecord/append(_:to:)``
/// writes the record of the decoded entry, without making the entry's strings.
package struct CanonicalRecord {
    package var seq: Int64?
    package var prevHash: ChainHash?
    /// The patients of the entry, each once (its `patient_id`, and a query's `patient_ids`).
    package var patients: [String] = []
    /// The record, when there are patients.
    package var record: [UInt8] = []
    /// The entry's kind when the kind index holds it (neither tool call nor agent request).
    package var indexedKind: String?

    package init() {}

    /// Whether the kind index (`entry_kind`) holds entries of `kind`.
    package static func isIndexed(kind: String) -> Bool {
        kind != RecordKind.toolCall.rawValue && kind != RecordKind.agentRequest.rawValue
    }

    /// The members read, by their place in the canonical order.
    private enum Member: Int, CaseIterable {
        case action, body, conversationID, keyID, kind, model, outcome, patientID, patientIDs, prevHash, purposeOfUse
        case recordedAt, seq, tenantID, timestamp, toolName, traceID, userID

        static let names: [[UInt8]] = EntryHasher.hashedColumns.map { Array($0.name.utf8) }
    }

    private static let null = Array("null".utf8)
    private static let execute = Array("\"E\"".utf8)
    private static let toolCall = Array("\"tool_call\"".utf8)
    private static let agentRequest = Array("\"agent_request\"".utf8)

    /// Reads `bytes`, replacing what the reader held.
    package mutating func read(_ bytes: UnsafeBufferPointer<UInt8>) {
        var ranges = [Range<Int>?](repeating: nil, count: Member.allCases.count)
        // Canonical members come in order: each name is looked for from the last one found on.
        var next = 0
        JSONObjectIndex.forEachMember(in: bytes) { name, escaped, value in
            guard !escaped else { return }
            let nameBytes = bytes[name]
            var index = next
            while index < Member.names.count {
                if nameBytes.elementsEqual(Member.names[index]) {
                    ranges[index] = value
                    next = index + 1
                    return
                }
                index += 1
            }
        }
        func slice(_ member: Member) -> UnsafeBufferPointer<UInt8>? {
            guard let range = ranges[member.rawValue] else { return nil }
            let value = UnsafeBufferPointer(rebasing: bytes[range])
            return value.elementsEqual(Self.null) ? nil : value
        }
        seq = slice(.seq).flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
        prevHash = slice(.prevHash).flatMap(CanonicalEntry.hash(quoted:))
        patients.removeAll(keepingCapacity: true)
        record.removeAll(keepingCapacity: true)
        indexedKind = nil
        if let kind = slice(.kind), !kind.elementsEqual(Self.toolCall), !kind.elementsEqual(Self.agentRequest) {
            indexedKind = CanonicalEntry.string(kind)
        }
        if let patient = slice(.patientID).flatMap(CanonicalEntry.string) { patients.append(patient) }
        if let action = slice(.action), action.elementsEqual(Self.execute), let ids = slice(.patientIDs),
            case .array(let values)? = try? JSONParser.parse(ids)
        {
            for case .string(let patient) in values where !patients.contains(patient) { patients.append(patient) }
        }
        guard !patients.isEmpty else { return }

        let isCall = slice(.kind).map { $0.elementsEqual(Self.toolCall) } ?? false
        text(slice(.kind))
        guard isCall else { return }
        text(slice(.timestamp) ?? slice(.recordedAt))
        text(slice(.recordedAt))
        text(slice(.tenantID))
        text(slice(.userID))
        let body = slice(.body) ?? UnsafeBufferPointer(start: nil, count: 0)
        string(BodyScan.topLevelString("user_role", in: body))
        text(slice(.model))
        text(slice(.toolName))
        text(slice(.action))
        let purpose = slice(.purposeOfUse)
        text(purpose)
        text(slice(.outcome))
        var breakGlass: (present: Bool, reason: String?) = (false, nil)
        if let purpose = purpose.flatMap(CanonicalEntry.string), AccessRow.emergencyPurposes.contains(purpose) {
            breakGlass = BodyScan.breakGlass(in: body)
        }
        string(breakGlass.present ? "1" : nil)
        string(breakGlass.reason)
        text(slice(.conversationID))
        text(slice(.traceID))
    }

    /// Writes a JSON string value as a record field: its bytes between the quotes when it holds
    /// no escape, else its decoded text; NULL for `null` or a missing member.
    private mutating func text(_ value: UnsafeBufferPointer<UInt8>?) {
        guard let value, value.count >= 2, value[0] == 0x22 else {
            record.append(0)
            return
        }
        let inner = UnsafeBufferPointer(rebasing: value[1..<(value.count - 1)])
        if inner.contains(0x5C) {
            string(CanonicalEntry.string(value))
        } else {
            field(inner)
        }
    }

    private mutating func string(_ value: String?) {
        guard var value else {
            record.append(0)
            return
        }
        value.withUTF8 { field($0) }
    }

    private mutating func field(_ bytes: UnsafeBufferPointer<UInt8>) {
        AccessRecord.appendField(bytes, to: &record)
    }
}
