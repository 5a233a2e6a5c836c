public import AuditChain
public import AuditCore
public import AuditStorage

/// Reads a log whose older entries are in its cold archive as if they had never left: each
/// answer merges the hot log's with the archived entries', in sequence order.
///
/// An archive run moves only the content of tool calls, agent requests and imported FHIR
/// events (``RecordKind/retained``) and seals them in the hot log, which then no longer finds
/// them; every other kind stays hot. So an archived entry is taken from its segment exactly
/// when its kind is a retained one, and no entry is given twice. Entries a retention run
/// deleted are in neither.
public struct ArchiveBackedReader: EntryReading, AccessReading, StreamCursors {
    public let hot: any EntryReading & AccessReading & StreamCursors
    public let archive: ArchivedEntries

    public init(hot: any EntryReading & AccessReading & StreamCursors, archive: ArchivedEntries) {
        self.hot = hot
        self.archive = archive
    }

    public var clock: @Sendable () -> Timestamp { hot.clock }

    public func head() throws(StoreError) -> ChainHead? { try hot.head() }

    public func count() throws(StoreError) -> Int64 { try hot.count() }

    public func entry(seq: Int64) throws(StoreError) -> StoredEntry? {
        // The hot log gives no entry for a sealed one.
        if let stored = try hot.entry(seq: seq) { return stored }
        return try archived(seq)
    }

    public func entries(from first: Int64, through last: Int64, limit: Int) throws(StoreError) -> [StoredEntry] {
        let hot = try hot.entries(from: first, through: last, limit: limit)
        guard let covered = archive.range, limit > 0 else { return hot }
        // Past the hot log's last answer, when it filled the limit, nothing more is needed.
        let end = min(hot.count == limit ? hot[hot.count - 1].seq : last, covered.upperBound)
        var archived: [StoredEntry] = []
        var seq = max(first, covered.lowerBound)
        while seq <= end && archived.count < limit {
            if let entry = try self.archived(seq) { archived.append(entry) }
            seq += 1
        }
        guard !archived.isEmpty else { return hot }
        return Array((archived + hot).sorted { $0.seq < $1.seq }.prefix(limit))
    }

    public func entries(kind: RecordKind) throws(StoreError) -> [StoredEntry] {
        let hot = try hot.entries(kind: kind)
        guard RecordKind.retained.contains(kind) else { return hot }
        var archived: [StoredEntry] = []
        try reading {
            try archive.forEachEntry { entry in
                if entry.content.kind == kind { archived.append(entry) }
                return true
            }
        }
        return archived + hot
    }

    public func latest(_ kind: RecordKind) throws(StoreError) -> StoredEntry? {
        if let latest = try hot.latest(kind) { return latest }
        return try entries(kind: kind).last
    }

    public func forEachEntry(
        _ query: EntryQuery, from: Timestamp?, to: Timestamp?, limit: Int, _ body: (StoredEntry) throws -> Void
    ) throws(StoreError) {
        try forEachEntryPaging(query, from: from, to: to, limit: limit, body)
    }

    public func forEachEntry(
        _ query: EntryQuery, after: Int64, through: Int64, _ body: (StoredEntry) throws -> Bool
    ) throws(StoreError) {
        var merge = Merge(pending: archive.seqs(query, after: after, through: through)[...])
        try hot.forEachEntry(query, after: after, through: through) { entry in
            guard try merge.emit(before: entry.seq, from: self, body) else { return false }
            return try body(entry)
        }
        if !merge.stopped { _ = try reading { () throws -> Bool in try merge.emit(before: Int64.max, from: self, body) } }
    }

    public func withLogReader<T>(_ body: (any LogReader) throws -> T) throws(StoreError) -> T {
        try hot.withLogReader(body)
    }

    public func patientSeqs(_ patient: String) throws(StoreError) -> [Int64] {
        let archived = archive.seqs(.patient(patient), after: 0, through: Int64.max)
        return Array(Set(try hot.patientSeqs(patient) + archived)).sorted()
    }

    public func forEachAccess(
        to key: PatientKey, from: Timestamp?, to: Timestamp?, through last: Int64?, _ body: (AccessRow) throws -> Void
    ) throws(StoreError) {
        let through = last ?? Int64.max
        let tokenSearch: Bool
        let seqs: [Int64]
        switch key {
        case .patientID(let patient):
            tokenSearch = false
            seqs = archive.seqs(.patient(patient), after: 0, through: through)
        case .pseudonyms(let tokens):
            tokenSearch = true
            seqs = archive.seqs(tokens: tokens, through: through)
        }
        let lower = from?.description
        let upper = to?.description
        // The same rows, filtered the same way, as the hot log gives for entries it holds.
        func rows(_ entry: StoredEntry) throws -> Bool {
            let row = AccessRow(reporting: entry)
            if row.kind == .toolCall || row.kind == .agentRequest {
                if let lower, row.time < lower { return true }
                if let upper, row.time > upper { return true }
            }
            if tokenSearch && row.kind != .toolCall { return true }
            try body(row)
            return true
        }
        var merge = Merge(pending: seqs[...])
        try hot.forEachAccess(to: key, from: from, to: to, through: last) { row in
            _ = try merge.emit(before: row.seq, from: self, rows)
            try body(row)
        }
        _ = try reading { () throws -> Bool in try merge.emit(before: Int64.max, from: self, rows) }
    }

    public func streamCursor(_ destination: String) throws(StoreError) -> Int64 {
        try hot.streamCursor(destination)
    }

    public func setStreamCursor(_ destination: String, to seq: Int64) throws(StoreError) {
        try hot.setStreamCursor(destination, to: seq)
    }

    /// The archived entry at `seq`, when its kind is one an archive run moves.
    func archived(_ seq: Int64) throws(StoreError) -> StoredEntry? {
        let entry = try reading { try archive.entry(seq: seq) }
        guard let entry, RecordKind.retained.contains(entry.content.kind) else { return nil }
        return entry
    }

    /// Runs `body`, reporting what fails as a read failure of the log.
    private func reading<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "cannot read the archive: \(error)")
        }
    }

    /// Archived sequence numbers still to give, merged into the hot log's answer.
    private struct Merge {
        var pending: ArraySlice<Int64>
        var stopped = false

        /// Gives the archived entries before `seq`; `false` once `body` asked to stop.
        mutating func emit(
            before seq: Int64, from reader: ArchiveBackedReader, _ body: (StoredEntry) throws -> Bool
        ) throws -> Bool {
            while let next = pending.first, next < seq {
                pending.removeFirst()
                guard let entry = try reader.archived(next) else { continue }
                guard try body(entry) else {
                    stopped = true
                    return false
                }
            }
            return true
        }
    }
}
