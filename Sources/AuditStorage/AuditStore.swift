public import AuditChain
public import AuditCore

/// Reads the log's entries: by sequence number, by range, by kind, and by the questions
/// privacy officers ask (``EntryQuery``). What FHIR export, SIEM streams and the HTTP API read.
///
/// Every backend answers in log order and streams where it says so, so that memory stays flat
/// however large the log is.
public protocol EntryReading: Sendable {
    /// The log's clock: `recorded_at` of every entry, and `now` for deadlines.
    var clock: @Sendable () -> Timestamp { get }
    /// The current head, or `nil` for an empty log.
    func head() throws(StoreError) -> ChainHead?
    /// How many entries the log holds.
    func count() throws(StoreError) -> Int64
    /// The entry at `seq`.
    func entry(seq: Int64) throws(StoreError) -> StoredEntry?
    /// Entries with `seq` in `first...last`, in order, at most `limit`.
    func entries(from first: Int64, through last: Int64, limit: Int) throws(StoreError) -> [StoredEntry]
    /// Every entry of `kind` (for the kinds CareTrail writes itself: alerts, reviews,
    /// configuration changes, key events), in log order.
    func entries(kind: RecordKind) throws(StoreError) -> [StoredEntry]
    /// The entries of `kind` with a sequence number above `seq`, in log order: how a reader
    /// that keeps what it read (the alert queue) catches up.
    func entries(kind: RecordKind, after seq: Int64) throws(StoreError) -> [StoredEntry]
    /// The last entry of `kind`, if any.
    func latest(_ kind: RecordKind) throws(StoreError) -> StoredEntry?
    /// Calls `body` with each entry that answers `query`, streamed, in log order, limited to
    /// events between `from` and `to` (inclusive; `timestamp`, else `recorded_at`).
    func forEachEntry(
        _ query: EntryQuery, from: Timestamp?, to: Timestamp?, limit: Int, _ body: (StoredEntry) throws -> Void
    ) throws(StoreError)
    /// The entries of a patient's or a user's history with `after < seq <= through`, in seq
    /// order, until `body` returns `false`: how paging readers start where the last page ended.
    func forEachEntry(_ query: EntryQuery, after: Int64, through: Int64, _ body: (StoredEntry) throws -> Bool) throws(StoreError)
    /// The last `count` entries that answer `query`, in log order: a user's recent activity,
    /// read without the history before it.
    func lastEntries(_ query: EntryQuery, count: Int) throws(StoreError) -> [StoredEntry]
    /// Runs `body` with a ``LogReader`` over one consistent snapshot of the log.
    func withLogReader<T>(_ body: (any LogReader) throws -> T) throws(StoreError) -> T
}

extension EntryReading {
    /// Keeps the last `count` of every entry that answers `query`: backends whose lookups can
    /// start from the end answer from there instead.
    public func lastEntries(_ query: EntryQuery, count: Int) throws(StoreError) -> [StoredEntry] {
        guard count > 0 else { return [] }
        var kept: [StoredEntry] = []
        try forEachEntry(query, after: 0, through: Int64.max) { entry in
            kept.append(entry)
            if kept.count > 2 * count { kept.removeFirst(kept.count - count) }
            return true
        }
        return Array(kept.suffix(count))
    }

    /// Filters ``entries(kind:)``: backends with an index by kind answer from it instead.
    public func entries(kind: RecordKind, after seq: Int64) throws(StoreError) -> [StoredEntry] {
        try entries(kind: kind).filter { $0.seq > seq }
    }

    /// Entries with `seq` in `first...last`, in order, at most `limit`.
    public func entries(from first: Int64, through last: Int64) throws(StoreError) -> [StoredEntry] {
        try entries(from: first, through: last, limit: 1000)
    }

    /// The entries of one trace (its agent request and its tool calls), in log order.
    public func entries(trace traceID: String) throws(StoreError) -> [StoredEntry] {
        try entries(.trace(traceID))
    }

    /// The entries that answer `query`, in log order, at most `limit`.
    public func entries(
        _ query: EntryQuery, from: Timestamp? = nil, to: Timestamp? = nil, limit: Int = 10_000
    ) throws(StoreError) -> [StoredEntry] {
        var entries: [StoredEntry] = []
        try forEachEntry(query, from: from, to: to, limit: limit) { entries.append($0) }
        return entries
    }

    /// Answers ``forEachEntry(_:from:to:limit:_:)`` through ``forEachEntry(_:after:through:_:)``,
    /// filtering by event time: how a backend whose lookups page by sequence number answers it.
    public func forEachEntryPaging(
        _ query: EntryQuery, from: Timestamp?, to: Timestamp?, limit: Int, _ body: (StoredEntry) throws -> Void
    ) throws(StoreError) {
        let lower = from?.description
        let upper = to?.description
        var count = 0
        try forEachEntry(query, after: 0, through: Int64.max) { entry in
            guard count < limit else { return false }
            let time = entry.content.timestamp ?? entry.recordedAt
            if let lower, time < lower { return true }
            if let upper, time > upper { return true }
            try body(entry)
            count += 1
            return count < limit
        }
    }

    /// Calls `body` with each entry that answers `query`, streamed, in log order.
    public func forEachEntry(
        _ query: EntryQuery, from: Timestamp? = nil, to: Timestamp? = nil, _ body: (StoredEntry) throws -> Void
    ) throws(StoreError) {
        try forEachEntry(query, from: from, to: to, limit: Int(Int32.max), body)
    }
}

/// Reads a patient's access history, as patient access reports list it.
public protocol AccessReading: Sendable {
    /// The sequence numbers of every entry about a patient.
    func patientSeqs(_ patient: String) throws(StoreError) -> [Int64]
    /// Calls `body` with every access to the patient whose event time lies in `from...to`, in
    /// log order, and every alert and review about the patient, up to `last` (the head when
    /// `nil`).
    func forEachAccess(
        to key: PatientKey, from: Timestamp?, to: Timestamp?, through last: Int64?, _ body: (AccessRow) throws -> Void
    ) throws(StoreError)
}

/// Proves the chain: re-hashes entries and checks their links.
public protocol ChainVerifying: Sendable {
    /// Recomputes every entry's hash and checks every link; given an earlier published head,
    /// checks the log still holds it. An intact result is kept for the next incremental pass.
    func verify(expectHead: ChainHead?, chunkSize: Int) throws(StoreError) -> VerificationReport
    /// Verifies only what was appended since the last verification that proved the log intact
    /// (or everything, when there is none or its head changed).
    func verifyIncrementally(chunkSize: Int) throws(StoreError) -> VerificationReport
    /// The latest verification that proved the log intact, if any.
    func lastVerification() throws(StoreError) -> VerificationRecord?
}

extension ChainVerifying {
    /// Verifies the whole chain; see ``verify(expectHead:chunkSize:)``.
    public func verify(expectHead: ChainHead? = nil) throws(StoreError) -> VerificationReport {
        try verify(expectHead: expectHead, chunkSize: 16_384)
    }

    /// Verifies what was appended since the last intact verification.
    public func verifyIncrementally() throws(StoreError) -> VerificationReport {
        try verifyIncrementally(chunkSize: 16_384)
    }
}

/// Appends to the chain. Every append is atomic and durable before it returns, and links each
/// entry to the head it read inside the same transaction, so the chain never forks.
public protocol EntryAppending: Sendable {
    /// Appends a batch atomically and durably, sharing the commit with concurrent callers.
    func append(_ batch: [EncodedEntry]) async throws -> AppendReceipt
    /// Appends a batch atomically and durably in a transaction of its own, blocking the caller.
    func appendNow(_ batch: [EncodedEntry]) throws(StoreError) -> AppendReceipt
    /// Appends everything `produce` passes to `append` in one transaction: all of it, or, when
    /// `produce` throws, none of it. Returns how many entries were given, how many the
    /// observer derived from them (alerts), and the head.
    func appendAll(
        _ produce: (_ append: ([EncodedEntry]) throws -> Void) throws -> Void
    ) throws -> (count: Int64, derived: Int64, head: ChainHead?)
    /// Whether the log can take a write now (the server's readiness check).
    func canWrite() -> Bool
    /// Lets the store's ``AppendObserver`` read the history it needs before the first append;
    /// returns the head it caught up to.
    @discardableResult
    func prepareObserver() throws(StoreError) -> Int64
}

/// The durable position of each SIEM destination in the log.
public protocol StreamCursors: Sendable {
    /// The last sequence number `destination` has accepted (0 for none).
    func streamCursor(_ destination: String) throws(StoreError) -> Int64
    /// Records, durably, that `destination` accepted everything up to `seq`.
    func setStreamCursor(_ destination: String, to seq: Int64) throws(StoreError)
}

/// The API keys of the HTTP API and the console. Every change is chained with an event entry
/// in the same transaction.
public protocol APIKeyStore: Sendable {
    /// Stores a new key and appends `event`, atomically.
    func addAPIKey(_ key: APIKeyRecord, event: EncodedEntry) throws(StoreError)
    /// Revokes a key and appends `event`, atomically. Throws ``StoreError/Code/notFound``,
    /// and appends nothing, when there is no such live key.
    func revokeAPIKey(id: String, at time: String, event: EncodedEntry) throws(StoreError) -> Bool
    /// Every key, revoked ones included.
    func apiKeys() throws(StoreError) -> [APIKeyRecord]
    /// The key with `id`.
    func apiKey(id: String) throws(StoreError) -> APIKeyRecord?
}

/// Per-tool counters, kept as entries are appended.
public protocol ToolStatisticsReading: Sendable {
    /// Per-tool statistics, optionally for one tool and a range of days (`YYYY-MM-DD`).
    func toolStatistics(tool: String?, fromDay: String?, toDay: String?) throws(StoreError) -> [ToolStatistics]
}

extension ToolStatisticsReading {
    /// Per-tool statistics; see ``toolStatistics(tool:fromDay:toDay:)``.
    public func toolStatistics(tool: String? = nil, fromDay: String? = nil) throws(StoreError) -> [ToolStatistics] {
        try toolStatistics(tool: tool, fromDay: fromDay, toDay: nil)
    }
}

/// The Merkle tree over the chain (RFC 6962 hashing, leaf `seq - 1`): its roots and proofs,
/// for checkpoints, auditors and bundles. The tree is derived data the backend maintains off
/// the append path; answers never depend on how far that maintenance has got.
public protocol MerkleTreeReading: Sendable {
    /// The root of the first `size` entries (`size` from 0 to the head's seq).
    func merkleRoot(size: Int64) throws(StoreError) -> ChainHash
    /// The proof that entry `seq` is in the tree of `treeSize` entries (`seq ≤ treeSize ≤ head`).
    func inclusionProof(seq: Int64, treeSize: Int64) throws(StoreError) -> InclusionProof
    /// The proofs of several entries in one tree, from one snapshot: what a bundle carries.
    func inclusionProofs(seqs: [Int64], treeSize: Int64) throws(StoreError) -> [InclusionProof]
    /// The proof that the tree of `to` entries extends the tree of `from` (`0 < from ≤ to ≤ head`).
    func consistencyProof(from: Int64, to: Int64) throws(StoreError) -> ConsistencyProof
}

extension MerkleTreeReading {
    /// The proof that entry `seq` is in the tree of `treeSize` entries: one of ``inclusionProofs(seqs:treeSize:)``.
    public func inclusionProof(seq: Int64, treeSize: Int64) throws(StoreError) -> InclusionProof {
        guard let proof = try inclusionProofs(seqs: [seq], treeSize: treeSize).first else {
            throw StoreError(code: .readFailed, message: "no proof was made")
        }
        return proof
    }
}

/// A backend of the audit log: everything CareTrail stores and reads, behind one set of
/// protocols. SQLite (`AuditSQLite`) implements it; analysis, FHIR and SIEM code read through
/// the narrower protocols it is made of and never name a backend.
public protocol AuditStore: EntryReading, AccessReading, ChainVerifying, EntryAppending, StreamCursors, APIKeyStore,
    ToolStatisticsReading, MerkleTreeReading, EntryPurging, EntryArchiving, ChainCopying, AnyObject
{
    /// Where the log is (a file path, a database URL without its password).
    var location: String { get }
    /// Moves what the backend buffers into its main storage (SQLite: a WAL checkpoint).
    func checkpoint() throws(StoreError)
}
