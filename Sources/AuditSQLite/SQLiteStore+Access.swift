import AuditChain
public import AuditCore
public import AuditStorage
import GRDB

extension SQLiteStore {
    /// The sequence numbers of every entry about a patient (for benchmarks: the lookup alone).
    public func patientSeqs(_ patient: String) throws(StoreError) -> [Int64] {
        try read { db in try Postings.seqs(db, tail: tail, kind: .patient, keys: [patient], last: try Self.head(db)?.seq ?? 0) }
    }

    /// Calls `body` with every access to the patient whose event time lies in `from...to`, in
    /// log order, and with every alert and review about the patient (at any time). Rows are
    /// streamed: a patient's accesses from the records of its posting lists, the rest (the
    /// block still filling, alerts, reviews, a search by pseudonym) read from the entries.
    public func forEachAccess(
        to key: PatientKey, from: Timestamp?, to: Timestamp?, through last: Int64?, _ body: (AccessRow) throws -> Void
    ) throws(StoreError) {
        do {
            try pool.read { db in
                let head = try Self.head(db)?.seq ?? 0
                let lower = from?.description
                let upper = to?.description
                let tokenSearch: Bool
                if case .pseudonyms = key { tokenSearch = true } else { tokenSearch = false }
                func visit(_ seq: Int64, _ posted: Postings.Posted) throws {
                    let recorded = posted.row
                    if let recorded {
                        if let lower, recorded.time < lower { return }
                        if let upper, recorded.time > upper { return }
                        return try body(recorded)
                    }
                    guard let entry = try Self.entry(db, seq: seq) else { return }
                    let row = AccessRow(reporting: entry)
                    if row.kind == "tool_call" || row.kind == "agent_request" {
                        if let lower, row.time < lower { return }
                        if let upper, row.time > upper { return }
                    }
                    // A search by pseudonym lists accesses only.
                    if tokenSearch && row.kind != "tool_call" { return }
                    try body(row)
                }
                let through = min(head, last ?? head)
                switch key {
                case .patientID(let patient):
                    // One key: streamed in order, each row decoded from its record once.
                    try Postings.visit(db, tail: tail, kind: .patient, keys: [patient], last: through, rows: true, visit)
                case .pseudonyms(let tokens):
                    for found in try Postings.find(db, tail: tail, kind: .token, keys: tokens, last: through, rows: false) {
                        try visit(found.seq, .unknown)
                    }
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "cannot read the log: \(Self.reason(error))")
        }
    }
}
