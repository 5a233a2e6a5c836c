import AuditChain
import AuditCore
import AuditStorage
import Foundation
import GRDB
import GRDBSQLite

/// What a full verification checks of the data that patient reports are read from: the
/// patients' posting lists and their ``AccessRecord``s must hold exactly one item
/// (patient, sequence number, record) for each patient of each entry, with the record the
/// entry makes, in every complete block, whether the block's rows are in `posting` or merged
/// into a span. Otherwise an access could be hidden from, altered in or added to reports while
/// every entry still re-hashes.
///
/// Both sides are summed into a ``MultisetDigest`` per block, from the entries in log order and
/// from the posting rows in key order, so neither is sorted or held in memory; the first block
/// whose digests differ is reported.
enum PatientPostingCheck {
    /// Adds the item of one patient's access to `digest`.
    static func add(
        patient: UnsafeRawBufferPointer, seq: Int64, record: UnsafeRawBufferPointer, to digest: inout MultisetDigest, buffer: inout [UInt8]
    ) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: patient)
        buffer.append(0)
        withUnsafeBytes(of: seq.littleEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: record)
        buffer.withUnsafeBytes { digest.add($0) }
    }

    /// The items entries make, summed per block as they are added.
    struct Expected {
        let blockShift: Int64
        var digests: [Int64: MultisetDigest] = [:]
        private var record: [UInt8] = []
        private var buffer: [UInt8] = []

        init(blockShift: Int64) {
            self.blockShift = blockShift
        }

        mutating func add(_ entry: StoredEntry) {
            var patients: [String] = []
            if let patient = entry.content.patientID { patients.append(patient) }
            // A query's patients: those its result named.
            if entry.content.action == .execute {
                for patient in entry.content.patientIDList where !patients.contains(patient) { patients.append(patient) }
            }
            guard !patients.isEmpty else { return }
            record.removeAll(keepingCapacity: true)
            AccessRecord.append(AccessRow(reporting: entry), to: &record)
            add(seq: entry.seq, patients: patients, record: record)
        }

        /// Adds the items of an entry read as a ``CanonicalRecord``.
        mutating func add(_ read: CanonicalRecord, seq: Int64) {
            guard !read.patients.isEmpty else { return }
            add(seq: seq, patients: read.patients, record: read.record)
        }

        private mutating func add(seq: Int64, patients: [String], record: [UInt8]) {
            var digest = digests[seq >> blockShift] ?? MultisetDigest()
            record.withUnsafeBytes { recordBytes in
                for var patient in patients {
                    patient.withUTF8 { name in
                        PatientPostingCheck.add(
                            patient: UnsafeRawBufferPointer(name), seq: seq, record: recordBytes, to: &digest, buffer: &buffer)
                    }
                }
            }
            digests[seq >> blockShift] = digest
        }
    }

    /// The items the stored patient postings hold for entries up to `through`, summed per
    /// block: epochs, then spans, then the blocks not yet in a span.
    static func stored(_ db: Database, through: Int64, blockShift: Int64) throws -> [Int64: MultisetDigest] {
        let spanned = try Postings.spannedThrough(db)
        let spanBlocks = Int64(1) << Int64(try Postings.spanShift(db))
        let compacted = try Postings.compactedThrough(db)
        var digests: [Int64: MultisetDigest] = [:]
        var buffer: [UInt8] = []
        func read(_ sql: String, _ arguments: [Int64]) throws {
            let prepared = try db.makeStatement(sql: sql)
            let statement = prepared.sqliteStatement
            for (index, argument) in arguments.enumerated() { sqlite3_bind_int64(statement, Int32(index + 1), argument) }
            let columns = StatementColumns(statement: statement)
            while try StatementColumns.step(statement, db) {
                let seqs = columns.withBytes(1) { bytes in bytes.map { Postings.decode(UnsafeRawBufferPointer($0)) } ?? [] }
                columns.withBytes(0) { key in
                    columns.withBytes(2) { records in
                        let key = UnsafeRawBufferPointer(key ?? UnsafeBufferPointer(start: nil, count: 0))
                        let records = UnsafeRawBufferPointer(records ?? UnsafeBufferPointer(start: nil, count: 0))
                        var reader = AccessRecord.Reader(records)
                        for seq in seqs {
                            // A missing or cut record is an empty one, which no entry makes.
                            let range = reader.skip() ?? records.count..<records.count
                            guard seq <= through else { continue }
                            var digest = digests[seq >> blockShift] ?? MultisetDigest()
                            add(
                                patient: key, seq: seq, record: UnsafeRawBufferPointer(rebasing: records[range]), to: &digest,
                                buffer: &buffer)
                            digests[seq >> blockShift] = digest
                        }
                    }
                }
            }
            withExtendedLifetime(prepared) {}
        }
        let patient = Postings.Kind.patient.rawValue
        let epochBlocks = spanBlocks << Int64(try Postings.epochShift(db))
        let epochCount = (min(try Postings.epochsThrough(db), spanned) >> blockShift) / epochBlocks
        try read("SELECT key, seqs, records FROM posting_epoch WHERE kind = ?1 AND epoch < ?2", [patient, epochCount])
        try read(
            "SELECT key, seqs, records FROM posting_span WHERE kind = ?1 AND span >= ?2 AND span < ?3",
            [patient, epochCount * (epochBlocks / spanBlocks), (spanned >> blockShift) / spanBlocks])
        try read(
            "SELECT key, seqs, records FROM posting WHERE kind = ?1 AND block >= ?2 AND block < ?3",
            [patient, spanned >> blockShift, compacted >> blockShift]
        )
        return digests
    }
}
