public import AuditChain
import AuditCore
public import AuditStorage
import Foundation
import Logging
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// Re-hashes every entry whose content the database holds, checks that its bytes name the
    /// sequence number and link the spine holds, checks every link of the spine, and checks
    /// that every entry without content lies in a range a `retention_purge` or `archive`
    /// record of the chain took it from (each purged range's hashes still making its recorded
    /// root). Given an earlier published head, checks the log still holds it.
    public func verify(expectHead: ChainHead?, chunkSize: Int) throws(StoreError) -> VerificationReport {
        let report = try verify(after: nil, expectHead: expectHead, chunkSize: chunkSize)
        try record(report)
        return report
    }

    /// Verifies what was appended since the last verification that proved the log intact, after
    /// checking that the entry at its head still holds the hash it had; in full without one.
    ///
    /// When nothing was appended since and the head still holds its hash, which is what a
    /// report usually finds, that is told by one query.
    public func verifyIncrementally(chunkSize: Int) throws(StoreError) -> VerificationReport {
        guard let (previous, anchorHash, headSeq) = try lastVerificationAndHead() else {
            return try verify(expectHead: nil, chunkSize: chunkSize)
        }
        if headSeq == previous.head.seq, anchorHash == previous.head.hash {
            var report = VerificationReport(problem: nil, entriesChecked: 0, head: previous.head, mode: .incremental)
            report.previous = previous
            return report
        }
        guard let anchor = try spine(from: previous.head.seq, through: previous.head.seq).first, anchor.entryHash == previous.head.hash
        else {
            var report = VerificationReport(problem: nil, entriesChecked: 0, head: try head(), mode: .incremental)
            report.previous = previous
            report.problem = ChainProblem(
                kind: .rewritten, seq: previous.head.seq,
                message: "entry \(previous.head.seq) no longer has the hash the last verification proved: the log was rewritten")
            return report
        }
        var report = try verify(after: anchor, expectHead: nil, chunkSize: chunkSize)
        report.mode = .incremental
        report.previous = previous
        try record(report)
        return report
    }

    public func lastVerification() throws(StoreError) -> VerificationRecord? {
        try lastVerificationAndHead()?.record
    }

    /// The last intact verification, the hash the entry at its head holds now, and the log's
    /// head now, in one query.
    private func lastVerificationAndHead() throws(StoreError) -> (record: VerificationRecord, anchorHash: ChainHash?, headSeq: Int64?)? {
        try withConnection { connection, logger in
            guard
                let row = try connection.rows(
                    """
                    SELECT v.verified_through, v.head_hash, v.verified_at, v.mode, v.entries_checked, \
                    (SELECT c.entry_hash FROM caretrail_chain c WHERE c.seq = v.verified_through), \
                    (SELECT c.seq FROM caretrail_chain c ORDER BY c.seq DESC LIMIT 1) \
                    FROM caretrail_verification v ORDER BY v.id DESC LIMIT 1
                    """, logger
                ).first
            else { return nil }
            let (seq, hash, at, mode, checked, anchor, head) = try row.decode(
                (Int64, ByteBuffer, String, String, Int64, ByteBuffer?, Int64?).self)
            let record = VerificationRecord(
                head: ChainHead(seq: seq, hash: ChainHash(unchecked: Array(buffer: hash))), verifiedAt: at,
                mode: VerificationMode(rawValue: mode) ?? .full, entriesChecked: checked)
            return (record, anchor.map { ChainHash(unchecked: Array(buffer: $0)) }, head)
        }
    }

    private func record(_ report: VerificationReport) throws(StoreError) {
        guard report.isIntact, let head = report.head else { return }
        if report.mode == .incremental, report.previous?.head == head { return }
        try withConnection { connection, logger in
            try connection.run(
                """
                INSERT INTO caretrail_verification (verified_through, head_hash, verified_at, mode, entries_checked) \
                VALUES (\(head.seq), \(ByteBuffer(bytes: head.hash.bytes)), \(clock().description), \(report.mode.rawValue), \
                \(report.entriesChecked))
                """, logger)
        }
    }

    private func verify(after anchor: ChainLink?, expectHead: ChainHead?, chunkSize: Int) throws(StoreError) -> VerificationReport {
        let head = try self.head()
        var report = VerificationReport(problem: nil, entriesChecked: 0, head: head, expectedHead: expectHead)
        var verifier = ChainVerifier(after: anchor)
        var sealed: [ClosedRange<Int64>] = []
        var indexProblem: ChainProblem?
        var next = (anchor?.seq ?? 0) + 1
        let last = head?.seq ?? 0
        while next <= last {
            let through = min(last, next + Int64(max(1, chunkSize)) - 1)
            var expected = PatientItems()
            let links = try spine(from: next, through: through) { seq, bytes in expected.add(seq: seq, canonical: bytes) }
            guard !links.isEmpty else { break }
            for link in links where link.isSealed {
                if let run = sealed.last, run.upperBound == link.seq - 1 {
                    sealed[sealed.count - 1] = run.lowerBound...link.seq
                } else {
                    sealed.append(link.seq...link.seq)
                }
            }
            if let index = verifier.check(links) {
                report.entriesChecked = verifier.checkedCount
                report.problem = try diagnose(links[index].seq, expectedSeq: index > 0 ? links[index - 1].seq + 1 : next)
                return report
            }
            // Reported after what the chain itself shows (an entry deleted without a purge record
            // leaves its keys behind, which is not the first thing to say about it).
            if indexProblem == nil { indexProblem = try patientIndexProblem(from: next, through: through, expected: expected) }
            next = links[links.count - 1].seq + 1
        }
        report.entriesChecked = verifier.checkedCount
        if let expectHead {
            // A sealed entry has no content to read back: its spine's hash is what was published.
            let kept = try spine(from: expectHead.seq, through: expectHead.seq).first
            if kept?.entryHash != expectHead.hash {
                report.problem = ChainVerifier.checkExpectedHead(expectHead, stored: try entry(seq: expectHead.seq), currentHead: head)
            }
            if report.problem != nil { return report }
        }
        report.problem = try sealedProblem(sealed) ?? indexProblem
        return report
    }

    /// The spine's links from `first` through `last`, each entry with content re-hashed and its
    /// bytes' own sequence number and link compared with the spine's; `reading` sees each
    /// entry's canonical bytes.
    func spine(
        from first: Int64, through last: Int64, reading: (Int64, UnsafeBufferPointer<UInt8>) -> Void = { _, _ in }
    ) throws(StoreError) -> [ChainLink] {
        try withConnection { connection, logger in
            try connection.rows(
                """
                SELECT c.seq, c.prev_hash, c.entry_hash, e.canonical FROM caretrail_chain c \
                LEFT JOIN caretrail_entry e ON e.seq = c.seq WHERE c.seq BETWEEN \(first) AND \(last) ORDER BY c.seq
                """, logger
            ).map { row in
                let (seq, prev, hash, canonical) = try row.decode((Int64, ByteBuffer, ByteBuffer, ByteBuffer?).self)
                let prevHash = ChainHash(unchecked: Array(buffer: prev))
                let entryHash = ChainHash(unchecked: Array(buffer: hash))
                guard let canonical else {
                    return ChainLink(seq: seq, prevHash: prevHash, entryHash: entryHash, hashIsValid: true, isSealed: true)
                }
                let valid = canonical.withUnsafeReadableBytes { raw in
                    let bytes = raw.bindMemory(to: UInt8.self)
                    reading(seq, bytes)
                    let link = CanonicalEntry.link(bytes)
                    return CanonicalEntry.hash(bytes) == entryHash && link.seq == seq && link.prevHash == prevHash
                }
                return ChainLink(seq: seq, prevHash: prevHash, entryHash: entryHash, hashIsValid: valid)
            }
        }
    }

    /// What is wrong at `seq`: a gap, or the entry and its neighbours diagnosed by the chain's
    /// own rules.
    private func diagnose(_ seq: Int64, expectedSeq: Int64) throws(StoreError) -> ChainProblem {
        if seq != expectedSeq {
            return ChainProblem(
                kind: .deleted, seq: expectedSeq, message: "entries \(expectedSeq)–\(seq - 1) are missing (gap in the sequence)")
        }
        let around = try entries(from: max(1, seq - 1), through: seq + 1, limit: 3)
        guard let suspect = around.first(where: { $0.seq == seq }) else {
            return ChainProblem(kind: .brokenLink, seq: seq, message: "prev_hash does not match the hash of entry \(seq - 1)")
        }
        return ChainVerifier.diagnose(
            suspect: suspect, before: around.first { $0.seq == seq - 1 }, after: around.first { $0.seq == seq + 1 }, hasher: hasher)
    }

    /// An entry without content that no purge or archive record took, or a purged range whose
    /// hashes no longer make its recorded root.
    private func sealedProblem(_ sealed: [ClosedRange<Int64>]) throws(StoreError) -> ChainProblem? {
        var records = try entries(kind: .retentionPurge)
        records += try entries(kind: .archive)
        var covered: [ClosedRange<Int64>] = ArchivedSegment.current(from: records).segments.map(\.range)
        for record in records where record.content.kind == .retentionPurge {
            guard let purge = RetentionPurge(record) else {
                return ChainProblem(kind: .purgeMismatch, seq: record.seq, message: "the retention_purge record cannot be read")
            }
            for range in purge.ranges {
                let hashes = try spine(from: range.first, through: range.last).map(\.entryHash)
                guard hashes.count == Int(range.last - range.first + 1), MerkleTree.root(ofEntries: hashes) == range.root else {
                    return ChainProblem(
                        kind: .purgeMismatch, seq: range.first,
                        message:
                            "the hashes kept of entries \(range.first)...\(range.last) do not make the root the record at seq \(record.seq) chained"
                    )
                }
                covered.append(range.first...range.last)
            }
        }
        for run in sealed {
            var seq = run.lowerBound
            while seq <= run.upperBound {
                guard let range = covered.first(where: { $0.contains(seq) }) else {
                    return ChainProblem(
                        kind: .purgedWithoutRecord, seq: seq,
                        message: "entry \(seq)'s content is gone, and no retention or archive record took it")
                }
                seq = range.upperBound + 1
            }
        }
        return nil
    }
}

extension PostgresStore {
    /// Whether the patients' keys and report records of the entries from `first` through
    /// `last` are the ones the entries make; a problem naming the first entry where not.
    /// Both are read by sequence number, as rows that lie together on disk.
    func patientIndexProblem(from first: Int64, through last: Int64, expected: PatientItems) throws(StoreError) -> ChainProblem? {
        let (keys, records) = try withConnection { connection, logger in
            let keys = try connection.rows(
                """
                SELECT key, seq FROM caretrail_key \
                WHERE kind = \(Int16(EntryKeys.Kind.patient.rawValue)) AND seq BETWEEN \(first) AND \(last)
                """, logger
            ).map { row in
                let (patient, seq) = try row.decode((String, Int64).self)
                return PatientItems.Item(seq: seq, patient: patient)
            }
            let records = try connection.rows(
                "SELECT patient, seq, record FROM caretrail_access WHERE seq BETWEEN \(first) AND \(last)", logger
            ).map { row in
                let (patient, seq, record) = try row.decode((String, Int64, ByteBuffer).self)
                return (item: PatientItems.Item(seq: seq, patient: patient), record: Array(buffer: record))
            }
            return (keys, records)
        }
        guard let seq = expected.firstMismatch(keys: keys, records: records) else { return nil }
        return ChainProblem(
            kind: .indexMismatch, seq: seq,
            message: "the patients' keys or report records of entry \(seq) do not match the entry")
    }
}
