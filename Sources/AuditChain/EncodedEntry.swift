public import AuditCore

/// An entry's content as the log stores and hashes it: every field of ``EntryFields``, with
/// `patient_ids` as canonical JSON array text and `body` as canonical JSON object text.
///
/// This is the form both hashing and storage work on, so what is hashed is byte for byte
/// what is stored.
public typealias EncodedEntry = EntryFields<String, String>

extension EntryFields where PatientIDs == String, Body == String {
    /// Encodes sanitised content for storage.
    public init(_ content: EntryContent) {
        self = content.map(
            patientIDs: { CanonicalJSON.string(.array($0.map(JSONValue.string))) },
            body: { CanonicalJSON.string(.object($0)) }
        )
    }

    /// The patient ids of `patient_ids`, parsed.
    public var patientIDList: [String] {
        guard let patientIDs, let parsed = try? JSONParser.parse(patientIDs), case .array(let ids) = parsed else {
            return []
        }
        return ids.compactMap(\.stringValue)
    }
}

/// An entry as it sits in the log: its content, its place in the chain and its hashes.
public struct StoredEntry: Sendable, Hashable {
    /// The gap-free sequence number, from 1.
    public var seq: Int64
    /// When the log appended it, by the log's clock (normalised RFC 3339).
    public var recordedAt: String
    /// The hash of the entry before it (``ChainHash/genesis`` for the first).
    public var prevHash: ChainHash
    /// SHA-256 of this entry's canonical bytes.
    public var entryHash: ChainHash
    public var content: EncodedEntry

    public init(seq: Int64, recordedAt: String, prevHash: ChainHash, entryHash: ChainHash, content: EncodedEntry) {
        self.seq = seq
        self.recordedAt = recordedAt
        self.prevHash = prevHash
        self.entryHash = entryHash
        self.content = content
    }

    /// The entry as one JSON object: every column, `body` and `patient_ids` as JSON values, and
    /// `purpose_of_use_display`, the code's display name. This is what `caretrail show` prints.
    public var jsonValue: JSONValue {
        var object: [String: JSONValue] = [
            "seq": .number(Double(seq)), "recorded_at": .string(recordedAt), "prev_hash": .string(prevHash.hex),
            "entry_hash": .string(entryHash.hex),
        ]
        let texts = EntryHasher.columnTexts(content, recordedAt: recordedAt)
        for (column, text) in zip(EntryHasher.hashedColumns, texts) {
            switch column.encoding {
            case .text: object[column.name] = text.map(JSONValue.string) ?? .null
            case .json: object[column.name] = text.map { (try? JSONParser.parse($0)) ?? .string($0) } ?? .null
            case .hash, .integer: continue  // prev_hash and seq, set above
            }
        }
        // Not stored (the code is): the code's display name from HL7 v3 ActReason, for people.
        if let display = content.purposeOfUse.flatMap({ PurposeOfUse(code: $0) })?.display {
            object["purpose_of_use_display"] = .string(display)
        }
        return .object(object)
    }
}

/// The head of the chain: the last entry's sequence number and hash.
public struct ChainHead: Sendable, Hashable, CustomStringConvertible {
    public var seq: Int64
    public var hash: ChainHash

    public init(seq: Int64, hash: ChainHash) {
        self.seq = seq
        self.hash = hash
    }

    /// Reads `SEQ:HASH`, as `caretrail verify --expect-head` takes it.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let seq = Int64(parts[0]), seq >= 1, let hash = ChainHash(hex: String(parts[1])) else {
            return nil
        }
        self.init(seq: seq, hash: hash)
    }

    /// `SEQ:HASH`.
    public var description: String { "\(seq):\(hash.hex)" }

    /// `{"seq": N, "hash": "<hex>"}`.
    public var jsonValue: JSONValue { .object(["seq": .number(Double(seq)), "hash": .string(hash.hex)]) }
}
