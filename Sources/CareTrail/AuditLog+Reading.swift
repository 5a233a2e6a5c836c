import AuditArchive
public import AuditChain
public import AuditCore
public import AuditStorage
import Synchronization

/// Reading the log through its one door. Every method throws ``CareTrailError``, whose cause
/// is the backend's ``StoreError``.
extension AuditLog {
    /// Where the log is: the database file, or the database URL without its password.
    public var location: String { store.location }

    /// The log's clock, now: what `recorded_at` of an entry appended now would be.
    public func now() -> Timestamp { store.clock() }

    /// The current head, or `nil` for an empty log.
    public func head() throws(CareTrailError) -> ChainHead? {
        try storeCall { () throws(StoreError) in try store.head() }
    }

    /// How many entries the log holds.
    public func count() throws(CareTrailError) -> Int64 {
        try storeCall { () throws(StoreError) in try store.count() }
    }

    /// The entry at `seq`.
    public func entry(seq: Int64) throws(CareTrailError) -> StoredEntry? {
        try storeCall { () throws(StoreError) in try reader.entry(seq: seq) }
    }

    /// The first `seq` whose `recorded_at` is at or after `time`, or the head's `seq` + 1 when
    /// none is. `recorded_at` rises with `seq` (the log's own clock), so this is a binary search
    /// in the hot log; entries whose content has left it are older than anything it holds.
    public func firstSeq(recordedAtOrAfter time: Timestamp) throws(CareTrailError) -> Int64 {
        try storeCall { () throws(StoreError) in
            guard let head = try store.head()?.seq else { return 1 }
            return try store.withLogReader { reader in try reader.firstSeq(recordedAtOrAfter: time.description, through: head) }
        }
    }

    /// Entries with `seq` in `first...last`, in order, at most `limit`.
    public func entries(from first: Int64, through last: Int64, limit: Int = 1000) throws(CareTrailError) -> [StoredEntry] {
        try storeCall { () throws(StoreError) in try reader.entries(from: first, through: last, limit: limit) }
    }

    /// Every entry of `kind` that CareTrail writes itself (alerts, reviews, configuration
    /// changes, key events), in log order.
    public func entries(kind: RecordKind) throws(CareTrailError) -> [StoredEntry] {
        try storeCall { () throws(StoreError) in try store.entries(kind: kind) }
    }

    /// The entries of one trace (its agent request and its tool calls), in log order.
    public func entries(trace traceID: String) throws(CareTrailError) -> [StoredEntry] {
        try entries(.trace(traceID))
    }

    /// The entries that answer `query`, in log order, at most `limit`.
    public func entries(
        _ query: EntryQuery, from: Timestamp? = nil, to: Timestamp? = nil, limit: Int = 10_000
    ) throws(CareTrailError) -> [StoredEntry] {
        try storeCall { () throws(StoreError) in try reader.entries(query, from: from, to: to, limit: limit) }
    }

    /// The last `count` entries that answer `query`, in log order: a user's recent activity.
    public func lastEntries(_ query: EntryQuery, count: Int) throws(CareTrailError) -> [StoredEntry] {
        try storeCall { () throws(StoreError) in try reader.lastEntries(query, count: count) }
    }

    /// Calls `body` with each entry that answers `query`, streamed, in log order.
    public func forEachEntry(
        _ query: EntryQuery, from: Timestamp? = nil, to: Timestamp? = nil, limit: Int = Int(Int32.max),
        _ body: (StoredEntry) throws -> Void
    ) throws(CareTrailError) {
        try storeCall { () throws(StoreError) in try reader.forEachEntry(query, from: from, to: to, limit: limit, body) }
    }

    /// The entries of a patient's or a user's history with `after < seq <= through`, in seq
    /// order, until `body` returns `false` (paging readers).
    public func forEachEntry(
        _ query: EntryQuery, after: Int64, through: Int64, _ body: (StoredEntry) throws -> Bool
    ) throws(CareTrailError) {
        try storeCall { () throws(StoreError) in try reader.forEachEntry(query, after: after, through: through, body) }
    }

    /// Re-hashes every entry and checks every link; given an earlier published head, checks
    /// that the log still holds it.
    public func verify(expectHead: ChainHead? = nil) throws(CareTrailError) -> VerificationReport {
        try storeCall { () throws(StoreError) in try store.verify(expectHead: expectHead) }
    }

    /// Verifies what was appended since the last verification that proved the log intact.
    public func verifyIncrementally() throws(CareTrailError) -> VerificationReport {
        try storeCall { () throws(StoreError) in try store.verifyIncrementally() }
    }

    /// The latest verification that proved the log intact, if any.
    public func lastVerification() throws(CareTrailError) -> VerificationRecord? {
        try storeCall { () throws(StoreError) in try store.lastVerification() }
    }

    /// Per-tool statistics, optionally for one tool and from a day (`YYYY-MM-DD`) on.
    public func toolStatistics(tool: String? = nil, fromDay: String? = nil, toDay: String? = nil) throws(CareTrailError) -> [ToolStatistics]
    {
        try storeCall { () throws(StoreError) in try store.toolStatistics(tool: tool, fromDay: fromDay, toDay: toDay) }
    }

    /// The sequence numbers of every entry about a patient.
    public func patientSeqs(_ patient: String) throws(CareTrailError) -> [Int64] {
        try storeCall { () throws(StoreError) in try reader.patientSeqs(patient) }
    }

    /// The last sequence number a SIEM destination has accepted (0 for none).
    public func streamCursor(_ destination: String) throws(CareTrailError) -> Int64 {
        try storeCall { () throws(StoreError) in try store.streamCursor(destination) }
    }

    /// Whether the log can take a write now (the server's readiness check).
    public func canWrite() -> Bool { store.canWrite() }

    /// Lets alert detection read the history it needs before the first append (a server
    /// calls this before it takes requests); returns the head it caught up to.
    @discardableResult
    public func prepareDetection() throws(CareTrailError) -> Int64 {
        try storeCall { () throws(StoreError) in try store.prepareObserver() }
    }

    /// Moves what the backend buffers into its main storage (SQLite: a WAL checkpoint).
    public func checkpointStorage() throws(CareTrailError) {
        try storeCall { () throws(StoreError) in try store.checkpoint() }
    }

    /// The log's entries and SIEM cursors, as exporters read them (FHIR export, SIEM streams,
    /// the health check): read-only ports, with no way to append past the sanitizer. With an
    /// archive attached (``attachArchive(_:)``), archived entries read as if they were hot.
    public var reader: any EntryReading & AccessReading & StreamCursors {
        guard let archive = attachedArchive.withLock({ $0?.entries }) else { return store }
        return ArchiveBackedReader(hot: store, archive: archive)
    }
}

extension AuditLog {
    /// Appends entries this log encoded (``encodeBatch(_:)``), sharing the commit with
    /// concurrent callers. For the benchmark, which times the store apart from preparation;
    /// package-only, so no client can append what the sanitizer has not seen.
    package func appendEncoded(_ batch: [EncodedEntry]) async throws -> AppendReceipt {
        try await store.append(batch)
    }

    /// Appends entries this log encoded in a transaction of their own; see
    /// ``appendEncoded(_:)``.
    package func appendEncodedNow(_ batch: [EncodedEntry]) throws(CareTrailError) -> AppendReceipt {
        try storeCall { () throws(StoreError) in try store.appendNow(batch) }
    }
}
