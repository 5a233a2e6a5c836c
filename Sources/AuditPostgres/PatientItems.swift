import AuditStorage
import NIOCore
import PostgresNIO

/// The patients' keys and report records that a range of entries makes, to be compared with
/// what `caretrail_key` and `caretrail_access` hold for it: otherwise an access could be
/// hidden from, altered in or added to reports while every entry still re-hashes.
struct PatientItems {
    /// The report record of each (sequence number, patient).
    private(set) var records: [Item: [UInt8]] = [:]
    private var reader = CanonicalRecord()

    struct Item: Hashable {
        var seq: Int64
        var patient: String
    }

    /// Adds the items of the entry whose canonical bytes are `canonical`.
    mutating func add(seq: Int64, canonical: UnsafeBufferPointer<UInt8>) {
        reader.read(canonical)
        for patient in reader.patients { add(Item(seq: seq, patient: patient), record: reader.record) }
    }

    /// Adds one patient's item of an entry, with the report record the entry makes for it.
    mutating func add(_ item: Item, record: [UInt8]) {
        records[item] = record
    }

    /// The first sequence number where the stored `keys` and `records` of the range differ
    /// from the items; `nil` when they agree. A key without its record is allowed (a report
    /// reads that entry whole); a record without its key, or a record that differs, is not.
    func firstMismatch(keys: [Item], records stored: [(item: Item, record: [UInt8])]) -> Int64? {
        var first: Int64?
        func note(_ seq: Int64) { first = min(first ?? seq, seq) }
        var unmatched = Set(records.keys)
        for key in keys where unmatched.remove(key) == nil { note(key.seq) }
        for item in unmatched { note(item.seq) }
        // A record of an item the entries do not make differs from its (absent) expectation.
        for (item, record) in stored where records[item] != record { note(item.seq) }
        return first
    }
}
