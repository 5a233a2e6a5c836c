import AuditCore
import Crypto

/// An entry read back from its canonical bytes: the exact bytes ``EntryHasher`` hashes, which
/// are all a log needs to store of an entry besides its hash.
///
/// Reading is one pass over the object's top-level members (``JSONObjectIndex``): strings are
/// decoded, `body` and `patient_ids` are kept as the canonical text they already are, and no
/// dictionary is built. Bytes that were damaged still give an entry (with empty or missing
/// fields), so a verifier can say what happened to it rather than fail to read it.
public enum CanonicalEntry {
    /// The entry whose canonical bytes are `bytes`, at sequence number `seq` (the row's own,
    /// which a verifier compares with the one inside the bytes by re-hashing).
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, seq: Int64, entryHash: ChainHash) -> StoredEntry {
        decodeLinked(bytes, seq: seq, entryHash: entryHash).entry
    }

    /// ``decode(_:seq:entryHash:)``, with the sequence number the bytes themselves hold (`nil`
    /// when missing or malformed): a verifier reads the entry and its link in one pass.
    public static func decodeLinked(_ bytes: UnsafeBufferPointer<UInt8>, seq: Int64, entryHash: ChainHash) -> (
        entry: StoredEntry, linkedSeq: Int64?
    ) {
        var fields = Fields()
        JSONObjectIndex.forEachMember(in: bytes) { name, escaped, value in
            fields.set(
                name: UnsafeBufferPointer(rebasing: bytes[name]), escaped: escaped, value: UnsafeBufferPointer(rebasing: bytes[value]))
        }
        let content = EncodedEntry(
            kind: RecordKind(stored: fields.kind ?? ""), tenantID: fields.tenantID ?? "", userID: fields.userID ?? "",
            model: fields.model ?? "", toolName: fields.toolName, action: fields.action.map(ToolAction.init(stored:)),
            patientID: fields.patientID, patientIDs: fields.patientIDs, purposeOfUse: fields.purposeOfUse,
            outcome: fields.outcome.map(Outcome.init(stored:)), conversationID: fields.conversationID, traceID: fields.traceID,
            timestamp: fields.timestamp, keyID: fields.keyID ?? "", body: fields.body ?? ""
        )
        let entry = StoredEntry(
            seq: seq, recordedAt: fields.recordedAt ?? "", prevHash: fields.prevHash ?? ChainHash(unchecked: []),
            entryHash: entryHash, content: content
        )
        return (entry, fields.seq)
    }

    /// ``decode(_:seq:entryHash:)`` of bytes held in an array.
    public static func decode(_ bytes: [UInt8], seq: Int64, entryHash: ChainHash) -> StoredEntry {
        bytes.withUnsafeBufferPointer { decode($0, seq: seq, entryHash: entryHash) }
    }

    /// The hash of canonical bytes: what ``EntryHasher`` computes from the fields they hold.
    public static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> ChainHash {
        let digest = SHA256.hash(data: UnsafeRawBufferPointer(bytes))
        return digest.withUnsafeBytes { raw in ChainHash(unchecked: raw.bindMemory(to: UInt8.self)) }
    }

    /// The value of one top-level text member (`recorded_at`, `timestamp`, …) without reading
    /// the others; `nil` when it is missing or JSON `null`.
    public static func text(_ member: String, in bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var found: String?
        let wanted = Array(member.utf8)
        JSONObjectIndex.scanMembers(in: bytes) { name, _, value in
            guard bytes[name].elementsEqual(wanted) else { return true }
            found = string(UnsafeBufferPointer(rebasing: bytes[value]))
            return false
        }
        return found
    }

    /// The values of two top-level text members, found in one walk over the bytes (each `nil`
    /// when missing or JSON `null`): for readers that need both the kind and the time of
    /// every entry of a range.
    public static func texts(_ first: String, _ second: String, in bytes: UnsafeBufferPointer<UInt8>) -> (String?, String?) {
        var found: (String?, String?) = (nil, nil)
        var seen = (false, false)
        let wanted = (Array(first.utf8), Array(second.utf8))
        JSONObjectIndex.scanMembers(in: bytes) { name, _, value in
            if !seen.0, bytes[name].elementsEqual(wanted.0) {
                found.0 = string(UnsafeBufferPointer(rebasing: bytes[value]))
                seen.0 = true
            } else if !seen.1, bytes[name].elementsEqual(wanted.1) {
                found.1 = string(UnsafeBufferPointer(rebasing: bytes[value]))
                seen.1 = true
            }
            return !(seen.0 && seen.1)
        }
        return found
    }

    /// The sequence number and `prev_hash` the bytes hold (`nil` for either when it is
    /// missing or malformed): what links an entry to the one before it.
    public static func link(_ bytes: UnsafeBufferPointer<UInt8>) -> (seq: Int64?, prevHash: ChainHash?) {
        var seq: Int64?
        var prev: ChainHash?
        JSONObjectIndex.forEachMember(in: bytes) { name, _, value in
            let name = UnsafeBufferPointer(rebasing: bytes[name])
            if name.elementsEqual(Member.seq) {
                seq = Int64(String(decoding: UnsafeBufferPointer(rebasing: bytes[value]), as: UTF8.self))
            } else if name.elementsEqual(Member.prevHash) {
                prev = hash(quoted: UnsafeBufferPointer(rebasing: bytes[value]))
            }
        }
        return (seq, prev)
    }

    /// A hash written as a JSON string of 64 hex digits, read without making a string.
    public static func hash(quoted value: UnsafeBufferPointer<UInt8>) -> ChainHash? {
        guard value.count == 66, value[0] == 0x22, value[65] == 0x22 else { return nil }
        return ChainHash(hexBytes: UnsafeBufferPointer(rebasing: value[1..<65]))
    }

    /// A JSON string value's text, or `nil` for `null` and anything that is not a string.
    public static func string(_ value: UnsafeBufferPointer<UInt8>) -> String? {
        guard value.count >= 2, value[0] == 0x22, value[value.count - 1] == 0x22 else { return nil }
        // Without a backslash the text is the bytes between the quotes.
        if !value.contains(0x5C) {
            return String(decoding: UnsafeBufferPointer(rebasing: value[1..<(value.count - 1)]), as: UTF8.self)
        }
        guard case .string(let text)? = try? JSONParser.parse(value) else { return nil }
        return text
    }

    private enum Member {
        static let seq = Array("seq".utf8)
        static let prevHash = Array("prev_hash".utf8)
    }

    /// The members an entry is made of, as they are read.
    private struct Fields {
        var action, conversationID, keyID, kind, model, outcome, patientID, purposeOfUse: String?
        var recordedAt, tenantID, timestamp, toolName, traceID, userID: String?
        var body, patientIDs: String?
        var prevHash: ChainHash?
        var seq: Int64?

        mutating func set(name: UnsafeBufferPointer<UInt8>, escaped: Bool, value: UnsafeBufferPointer<UInt8>) {
            // Canonical member names hold no escapes; an escaped name is not one of ours.
            guard !escaped, let first = name.first else { return }
            let key = String(decoding: name, as: UTF8.self)
            func json() -> String? {
                value.elementsEqual(Self.null) ? nil : String(decoding: value, as: UTF8.self)
            }
            switch (first, key) {
            case (UInt8(ascii: "a"), "action"): action = CanonicalEntry.string(value)
            case (UInt8(ascii: "b"), "body"): body = json()
            case (UInt8(ascii: "c"), "conversation_id"): conversationID = CanonicalEntry.string(value)
            case (UInt8(ascii: "k"), "key_id"): keyID = CanonicalEntry.string(value)
            case (UInt8(ascii: "k"), "kind"): kind = CanonicalEntry.string(value)
            case (UInt8(ascii: "m"), "model"): model = CanonicalEntry.string(value)
            case (UInt8(ascii: "o"), "outcome"): outcome = CanonicalEntry.string(value)
            case (UInt8(ascii: "p"), "patient_id"): patientID = CanonicalEntry.string(value)
            case (UInt8(ascii: "p"), "patient_ids"): patientIDs = json()
            case (UInt8(ascii: "p"), "prev_hash"): prevHash = CanonicalEntry.hash(quoted: value)
            case (UInt8(ascii: "p"), "purpose_of_use"): purposeOfUse = CanonicalEntry.string(value)
            case (UInt8(ascii: "r"), "recorded_at"): recordedAt = CanonicalEntry.string(value)
            case (UInt8(ascii: "s"), "seq"): seq = Int64(String(decoding: value, as: UTF8.self))
            case (UInt8(ascii: "t"), "tenant_id"): tenantID = CanonicalEntry.string(value)
            case (UInt8(ascii: "t"), "timestamp"): timestamp = CanonicalEntry.string(value)
            case (UInt8(ascii: "t"), "tool_name"): toolName = CanonicalEntry.string(value)
            case (UInt8(ascii: "t"), "trace_id"): traceID = CanonicalEntry.string(value)
            case (UInt8(ascii: "u"), "user_id"): userID = CanonicalEntry.string(value)
            default: break
            }
        }

        private static let null: [UInt8] = Array("null".utf8)
    }
}
