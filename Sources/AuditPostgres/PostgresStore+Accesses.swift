import AuditChain
public import AuditCore
public import AuditStorage
import Foundation
import Logging
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// Every access to the patient whose event time lies in `from...to`, in log order, and
    /// every alert and review about the patient; by pseudonym, accesses only.
    ///
    /// By patient id the rows come from the report records of `caretrail_access`: the patient's
    /// keys give the sequence numbers and the records their rows, each from one index-only
    /// range scan, so that a report reads a few contiguous index pages rather than a page of
    /// the log per access (a patient's accesses are spread over the whole log). An entry whose
    /// record holds only its kind (an alert or review) is read whole, as is one without a
    /// record (written before the log kept them).
    public func forEachAccess(
        to key: PatientKey, from: Timestamp?, to: Timestamp?, through last: Int64?, _ body: (AccessRow) throws -> Void
    ) throws(StoreError) {
        let lower = from?.description
        let upper = to?.description
        let through = last ?? Int64.max
        let accessesOnly: Bool
        let page: (Int64) throws(StoreError) -> (rows: [AccessRow], last: Int64?, full: Bool)
        switch key {
        case .patientID(let patient):
            accessesOnly = false
            page = { cursor throws(StoreError) in try self.recordedAccesses(patient: patient, after: cursor, through: through) }
        case .pseudonyms(let tokens):
            accessesOnly = true
            page = { cursor throws(StoreError) in try self.tokenAccesses(tokens, after: cursor, through: through) }
        }
        var cursor: Int64 = 0
        while true {
            let (rows, lastSeq, full) = try page(cursor)
            for row in rows {
                if row.kind == .toolCall || row.kind == .agentRequest {
                    if let lower, row.time < lower { continue }
                    if let upper, row.time > upper { continue }
                }
                if accessesOnly && row.kind != .toolCall { continue }
                try call(body, row)
            }
            guard let lastSeq, full else { return }
            cursor = lastSeq
        }
    }

    /// One page of a patient's rows after `cursor`: from their records where the records carry
    /// them, else from the entries.
    private func recordedAccesses(patient: String, after cursor: Int64, through: Int64) throws(StoreError)
        -> (rows: [AccessRow], last: Int64?, full: Bool)
    {
        try withConnection { connection, logger in
            let found = try connection.rows(
                """
                SELECT k.seq, a.record FROM caretrail_key k \
                LEFT JOIN caretrail_access a ON a.patient = k.key AND a.seq = k.seq \
                WHERE k.kind = \(Int16(EntryKeys.Kind.patient.rawValue)) AND k.key = \(patient) \
                AND k.seq > \(cursor) AND k.seq <= \(through) ORDER BY k.seq LIMIT \(Int64(Self.page))
                """, logger)
            // Rows in log order; an entry to read whole leaves a hole, filled below.
            var rows: [AccessRow?] = []
            rows.reserveCapacity(found.count)
            var wholes: [Int64: Int] = [:]
            var lastSeq: Int64?
            for item in found {
                let (seq, record) = try item.decode((Int64, ByteBuffer?).self)
                lastSeq = seq
                let decoded = record?.withUnsafeReadableBytes { bytes in
                    var reader = AccessRecord.Reader(bytes)
                    return reader.next(seq: seq)
                }
                if case .row(let row)? = decoded {
                    rows.append(row)
                } else {
                    wholes[seq] = rows.count
                    rows.append(nil)
                }
            }
            if !wholes.isEmpty {
                for entry in try Self.decode(
                    connection.rows(
                        """
                        SELECT e.seq, c.entry_hash, e.canonical FROM caretrail_entry e JOIN caretrail_chain c ON c.seq = e.seq \
                        WHERE e.seq = ANY(\(Array(wholes.keys))::bigint[])
                        """, logger))
                {
                    if let index = wholes[entry.seq] { rows[index] = AccessRow(reporting: entry) }
                }
            }
            return (rows.compactMap { $0 }, lastSeq, found.count == Self.page)
        }
    }

    /// One page of the entries whose bodies hold any of `tokens`, after `cursor`, read whole.
    private func tokenAccesses(_ tokens: [String], after cursor: Int64, through: Int64) throws(StoreError)
        -> (rows: [AccessRow], last: Int64?, full: Bool)
    {
        let entries = try withConnection { connection, logger in
            try Self.decode(
                connection.rows(
                    """
                    SELECT e.seq, c.entry_hash, e.canonical FROM caretrail_entry e JOIN caretrail_chain c ON c.seq = e.seq \
                    WHERE e.seq IN (SELECT DISTINCT seq FROM caretrail_key WHERE kind = \(Int16(EntryKeys.Kind.token.rawValue)) \
                    AND key = ANY(\(tokens)::text[]) AND seq > \(cursor) AND seq <= \(through) ORDER BY seq LIMIT \(Int64(Self.page))) \
                    ORDER BY e.seq
                    """, logger))
        }
        return (entries.map(AccessRow.init(reporting:)), entries.last?.seq, entries.count == Self.page)
    }
}
