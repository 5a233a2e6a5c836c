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
        for patient in reader.patients { records[Item(seq: seq, patient: patient)] = reader.record }
    }

    /// The first sequence number where `stored` (key, sequence number and record, if any,
    /// of every patient key in the range) differs from the items; `nil` when they agree. A key
    /// without its record is allowed: a report reads that entry whole.
    func firstMismatch(_ stored: [(patient: String, seq: Int64, record: [UInt8]?)]) -> Int64? {
        var unmatched = records
        var first: Int64?
        func note(_ seq: Int64) { first = min(first ?? seq, seq) }
        for row in stored {
            guard let expected = unmatched.removeValue(forKey: Item(seq: row.seq, patient: row.patient)) else {
                note(row.seq)
                continue
            }
            if let record = row.record, record != expected { note(row.seq) }
        }
        for item in unmatched.keys { note(item.seq) }
        return first
    }
}
