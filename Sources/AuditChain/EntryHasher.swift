public import AuditCore
import Crypto

/// Computes an entry's hash: `entry_hash = SHA-256(JCS(entry))`, where `entry` is the JSON
/// object of every stored column except `entry_hash` itself.
///
/// The object's members, in the canonical (sorted) order: `action`, `body` (the JSON object),
/// `conversation_id`, `key_id`, `kind`, `model`, `outcome`, `patient_id`, `patient_ids` (the
/// JSON array), `prev_hash` (64 lower-case hex digits), `purpose_of_use`, `recorded_at`, `seq`
/// (a number), `tenant_id`, `timestamp`, `tool_name`, `trace_id`, `user_id`. A column holding
/// SQL NULL is a JSON `null`. Any RFC 8785 library can recompute it from a row.
public struct EntryHasher: Sendable {
    public init() {}

    /// The stored text of every hashed column, in ``hashedColumns`` order; `nil` for SQL NULL
    /// and for `prev_hash` and `seq`, which are not text. The one mapping from fields to
    /// columns: hashing, inserting and printing all use it.
    public static func columnTexts(_ e: EncodedEntry, recordedAt: String) -> [String?] {
        [
            e.action?.rawValue, e.body, e.conversationID, e.keyID, e.kind.rawValue, e.model, e.outcome?.rawValue, e.patientID,
            e.patientIDs, nil,
            e.purposeOfUse, recordedAt, nil, e.tenantID, e.timestamp, e.toolName, e.traceID, e.userID,
        ]
    }

    /// The canonical bytes that are hashed.
    public func canonicalBytes(seq: Int64, recordedAt: String, prevHash: ChainHash, content e: EncodedEntry) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(e.body.utf8.count + 512)
        writeCanonical(seq: seq, recordedAt: recordedAt, prevHash: prevHash, content: e, into: &out)
        return out
    }

    /// The entry hash.
    public func hash(seq: Int64, recordedAt: String, prevHash: ChainHash, content: EncodedEntry) -> ChainHash {
        var buffer: [UInt8] = []
        return hash(seq: seq, recordedAt: recordedAt, prevHash: prevHash, content: content, buffer: &buffer)
    }

    /// The entry hash, reusing `buffer` to spare an allocation per entry on long runs.
    public func hash(
        seq: Int64, recordedAt: String, prevHash: ChainHash, content: EncodedEntry, buffer: inout [UInt8]
    ) -> ChainHash {
        buffer.removeAll(keepingCapacity: true)
        writeCanonical(seq: seq, recordedAt: recordedAt, prevHash: prevHash, content: content, into: &buffer)
        return Self.digest(buffer)
    }

    /// Whether a stored entry's hash matches its content, as if it sat at `seq` (by default its own).
    public func isValid(_ entry: StoredEntry, asSeq seq: Int64? = nil, buffer: inout [UInt8]) -> Bool {
        hash(
            seq: seq ?? entry.seq, recordedAt: entry.recordedAt, prevHash: entry.prevHash, content: entry.content,
            buffer: &buffer
        ) == entry.entryHash
    }

    private static func digest(_ buffer: [UInt8]) -> ChainHash {
        let digest = SHA256.hash(data: buffer)
        return digest.withUnsafeBytes { raw in ChainHash(unchecked: raw.bindMemory(to: UInt8.self)) }
    }

    /// How a hashed column is written into the canonical object.
    public enum ColumnEncoding: Sendable {
        /// A JSON string (or `null`).
        case text
        /// Stored JSON text, spliced in as a JSON value (it is stored canonical).
        case json
        /// 32 raw bytes, written as 64 lower-case hex digits.
        case hash
        /// The sequence number, a JSON number.
        case integer
    }

    /// The hashed columns in canonical (sorted) order. A store that selects its columns in this
    /// order can feed ``hash(seq:buffer:column:)`` straight from its rows.
    public static let hashedColumns: [(name: String, encoding: ColumnEncoding)] = [
        ("action", .text), ("body", .json), ("conversation_id", .text), ("key_id", .text), ("kind", .text),
        ("model", .text), ("outcome", .text), ("patient_id", .text), ("patient_ids", .json), ("prev_hash", .hash),
        ("purpose_of_use", .text), ("recorded_at", .text), ("seq", .integer), ("tenant_id", .text),
        ("timestamp", .text), ("tool_name", .text), ("trace_id", .text), ("user_id", .text),
    ]

    /// The entry hash from raw column bytes: `column(i, body)` calls `body` with the bytes of
    /// ``hashedColumns``[i] (`nil` for SQL NULL). This is the verifier's fast path: no strings
    /// are made.
    public func hash(
        seq: Int64, buffer: inout [UInt8], column: (Int, (UnsafeBufferPointer<UInt8>?) -> Void) -> Void
    ) -> ChainHash {
        buffer.removeAll(keepingCapacity: true)
        writeCanonical(seq: seq, into: &buffer, column: column)
        return Self.digest(buffer)
    }

    private func writeCanonical(seq: Int64, recordedAt: String, prevHash: ChainHash, content e: EncodedEntry, into out: inout [UInt8]) {
        let values = Self.columnTexts(e, recordedAt: recordedAt)
        writeCanonical(seq: seq, into: &out) { index, body in
            if index == 9 {
                prevHash.bytes.withUnsafeBufferPointer { body($0) }
                return
            }
            guard let value = values[index] else { return body(nil) }
            var copy = value
            copy.withUTF8 { body($0) }
        }
    }

    /// `"name":` of each hashed column, as bytes (a leading comma for all but the first).
    private static let memberPrefixes: [[UInt8]] = hashedColumns.enumerated().map { index, column in
        Array(((index == 0 ? "{" : ",") + "\"" + column.name + "\":").utf8)
    }
    private static let encodings: [ColumnEncoding] = hashedColumns.map(\.encoding)

    /// Writes the canonical bytes from raw column bytes, as ``hash(seq:buffer:column:)`` does
    /// before hashing them: for a store that keeps the canonical bytes themselves, and for the
    /// upgrade of a log that kept columns.
    public func writeCanonical(
        seq: Int64, into out: inout [UInt8], column: (Int, (UnsafeBufferPointer<UInt8>?) -> Void) -> Void
    ) {
        let prefixes = Self.memberPrefixes
        let encodings = Self.encodings
        var index = 0
        while index < prefixes.count {
            out.append(contentsOf: prefixes[index])
            let encoding = encodings[index]
            if encoding == .integer {
                CanonicalJSON.writeNumber(Double(seq), into: &out)
            } else {
                column(index) { bytes in
                    guard let bytes else {
                        out.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
                        return
                    }
                    switch encoding {
                    case .text: CanonicalJSON.writeString(bytes: bytes, into: &out)
                    case .json: out.append(contentsOf: bytes)
                    case .hash:
                        out.append(UInt8(ascii: "\""))
                        ChainHash.appendHex(bytes, to: &out)
                        out.append(UInt8(ascii: "\""))
                    case .integer: break
                    }
                }
            }
            index += 1
        }
        out.append(UInt8(ascii: "}"))
    }
}
