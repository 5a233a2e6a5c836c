import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import Foundation
import GRDB
import Testing

@testable import AuditSQLite

@Suite("Spans of posting lists and the report records they carry")
struct PostingSpanTests {
    /// 9,000 entries: with blocks of 4,096 and spans of two blocks, one span, nothing left in
    /// its blocks, and a block still filling. Bodies with roles (escaped too), break-the-glass
    /// reasons and none; alerts about patients between the calls.
    static let entries: [EncodedEntry] = (0..<9000).map { index in
        var e = mixedEntry(index, spacingMS: 60_000)
        switch index % 4 {
        case 0: e.body = #"{"duration_ms":\#(index % 400),"user_role":"physician"}"#
        case 1: e.body = #"{"duration_ms":12,"user_role":"night \"float\" nurse \u00e9"}"#
        case 2:
            e.body = #"{"break_glass":{"reason":"unconscious patient in the ER"},"user_role":"physician"}"#
            e.purposeOfUse = "ETREAT"
        default: e.body = #"{"arguments":{"user_role":"forged"}}"#
        }
        if index % 997 == 5 {
            e = entry(index, patient: "PAT-\(index % 50)", kind: "alert")
            e.body = #"{"alert":"patient_access_burst","patient_id":"PAT-\#(index % 50)"}"#
        }
        return e
    }

    static func store(blockShift: Int, spanShift: Int, epochShift: Int = 4) throws -> SQLiteStore {
        let store = try SQLiteStore.create(
            at: temporaryFolder().appendingPathComponent("audit.sqlite").path, postingBlockShift: blockShift, postingSpanShift: spanShift,
            postingEpochShift: epochShift
        )
        for start in stride(from: 0, to: entries.count, by: 1000) {
            _ = try store.appendNow(Array(entries[start..<min(entries.count, start + 1000)]))
        }
        return store
    }

    static func rows(_ store: SQLiteStore, _ patient: String, from: Timestamp? = nil, to: Timestamp? = nil, through: Int64? = nil) throws
        -> [AccessRow]
    {
        var rows: [AccessRow] = []
        try store.forEachAccess(to: .patientID(patient), from: from, to: to, through: through) { rows.append($0) }
        // Each log has its own clock.
        return rows.map { row in
            var row = row
            row.recordedAt = ""
            return row
        }
    }

    /// Everything compaction writes: posting rows of blocks and spans, and where they end.
    static func derived(_ store: SQLiteStore) throws -> [String] {
        try store.pool.read { db in
            let blocks = try Row.fetchAll(
                db, sql: "SELECT block, kind, key, hex(seqs), hex(records) FROM posting ORDER BY block, kind, key")
            let spans = try Row.fetchAll(
                db, sql: "SELECT span, kind, key, hex(seqs), hex(records) FROM posting_span ORDER BY kind, key, span")
            let marks = try Row.fetchAll(
                db, sql: "SELECT key, value FROM meta WHERE key IN ('postings_through', 'spans_through') ORDER BY key")
            return (blocks + spans + marks).map(\.description)
        }
    }

    /// Everything compaction derives from the entries, blocks, spans and epochs alike, with the
    /// counters and block times: what two stores holding the same entries must agree on.
    static func everythingDerived(_ store: SQLiteStore) throws -> [String] {
        try derived(store)
            + store.pool.read { db in
                try [
                    "SELECT epoch, kind, key, hex(seqs), hex(records) FROM posting_epoch ORDER BY kind, key, epoch",
                    "SELECT * FROM block_time ORDER BY block", "SELECT * FROM tool_day ORDER BY 1, 2",
                    "SELECT * FROM tool_day_duration ORDER BY 1, 2, 3", "SELECT * FROM tool_day_user ORDER BY 1, 2, 3",
                    "SELECT key, value FROM meta WHERE key = 'epochs_through'",
                ].flatMap { sql in try Row.fetchAll(db, sql: sql).map(\.description) }
            }
    }

    /// A file appended in one transaction completes many blocks at once: their spans are then
    /// written straight from the collected blocks, with no block rows. What that writes is
    /// exactly what compacting block by block and merging writes.
    @Test func spansWrittenStraightFromTheirBlocksEqualSpansMergedFromBlockRows() throws {
        func store(_ batch: Int) throws -> SQLiteStore {
            // One clock reading for every entry, so that both stores hold the same bytes.
            let store = try SQLiteStore.create(
                at: temporaryFolder().appendingPathComponent("audit.sqlite").path,
                clock: { Timestamp(millisecondsSinceEpoch: 1_780_000_000_000) }, postingBlockShift: 8, postingSpanShift: 2,
                postingEpochShift: 2
            )
            for start in stride(from: 0, to: Self.entries.count, by: batch) {
                _ = try store.appendNow(Array(Self.entries[start..<min(Self.entries.count, start + batch)]))
            }
            return store
        }
        // Blocks of 256 entries, spans of 4 blocks, epochs of 4 spans: 8 epochs and more.
        let straight = try store(Self.entries.count)
        let merged = try store(256)
        // 9,000 entries: 8 spans of 1,024, then 3 complete blocks that make no span.
        let blockRows = try straight.pool.read { db in try Int64.fetchAll(db, sql: "SELECT DISTINCT block FROM posting ORDER BY block") }
        #expect(blockRows == [32, 33, 34], "the spans of a single transaction are written with no block rows")
        let expected = try Self.everythingDerived(merged)
        #expect(expected.count > 1_000)
        #expect(try Self.everythingDerived(straight) == expected)
        #expect(try straight.verify().isIntact)
    }

    /// A file appended in one transaction has the postings of the blocks it fills whole
    /// collected as it goes; a block it began part-way is read back. Either way the rows are
    /// those of blocks appended one commit at a time.
    @Test func postingsCollectedWhileAppendingEqualPostingsReadBack() throws {
        func store() throws -> SQLiteStore {
            try SQLiteStore.create(
                at: temporaryFolder().appendingPathComponent("audit.sqlite").path,
                clock: { Timestamp(millisecondsSinceEpoch: 1_780_000_000_000) }, postingBlockShift: 8, postingSpanShift: 2,
                postingEpochShift: 2
            )
        }
        let collected = try store()
        // The first 100 entries alone, so that the transaction begins inside a block.
        _ = try collected.appendNow(Array(Self.entries[0..<100]))
        _ = try collected.appendAll { append in
            for start in stride(from: 100, to: Self.entries.count, by: 700) {
                try append(Array(Self.entries[start..<min(Self.entries.count, start + 700)]))
            }
        }
        let merged = try store()
        for start in stride(from: 0, to: Self.entries.count, by: 256) {
            _ = try merged.appendNow(Array(Self.entries[start..<min(Self.entries.count, start + 256)]))
        }
        #expect(try Self.everythingDerived(collected) == Self.everythingDerived(merged))
        #expect(try collected.verify().isIntact)
    }

    @Test func aSpanReplacesItsBlocksRowsAndLookupsAreUnchanged() throws {
        let spanned = try Self.store(blockShift: 12, spanShift: 1)
        // Blocks of 2^30 entries never complete: everything is read from the entries.
        let unindexed = try Self.store(blockShift: 30, spanShift: 1)
        let (spans, blockRows, spannedThrough) = try spanned.pool.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(DISTINCT span) FROM posting_span") ?? 0,
                try Int64.fetchAll(db, sql: "SELECT DISTINCT block FROM posting ORDER BY block"),
                try Postings.spannedThrough(db)
            )
        }
        #expect(spans == 1)
        #expect(spannedThrough == 8192)
        #expect(blockRows.isEmpty, "the spanned blocks' rows are removed")
        for query in [EntryQuery.patient("PAT-7"), .user("usr-3"), .conversation("conv-100"), .trace("tr-2001"), .patient("PAT-49")] {
            let expected = try unindexed.entries(query).map(\.seq)
            #expect(!expected.isEmpty)
            #expect(try spanned.entries(query).map(\.seq) == expected, "\(query)")
        }
    }

    /// Blocks of 256 merged two by two into spans, and spans two by two into epochs: 8 epochs,
    /// their spans' rows removed, and lookups, report rows (at earlier heads too), detection's
    /// windows of history and verify's check of the postings all the same as without postings.
    @Test func anEpochReplacesItsSpansRowsAndLookupsAreUnchanged() throws {
        let epoched = try Self.store(blockShift: 8, spanShift: 1, epochShift: 1)
        let unindexed = try Self.store(blockShift: 30, spanShift: 1)
        let (epochs, spansLeft, epochsThrough) = try epoched.pool.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(DISTINCT epoch) FROM posting_epoch") ?? 0,
                try Int64.fetchAll(db, sql: "SELECT DISTINCT span FROM posting_span ORDER BY span"),
                try Postings.epochsThrough(db)
            )
        }
        #expect(epochs == 8 && epochsThrough == 8192)
        #expect(spansLeft.allSatisfy { $0 >= 16 }, "the merged spans' rows are removed")
        for query in [EntryQuery.patient("PAT-7"), .user("usr-3"), .conversation("conv-100"), .trace("tr-2001"), .tool("order_lab")] {
            #expect(try epoched.entries(query).map(\.seq) == (try unindexed.entries(query).map(\.seq)), "\(query)")
        }
        for patient in ["PAT-3", "PAT-40"] {
            #expect(try Self.rows(epoched, patient) == (try Self.rows(unindexed, patient)))
            for head: Int64 in [1_000, 8_192, 8_700] {
                #expect(try Self.rows(epoched, patient, through: head) == (try Self.rows(unindexed, patient, through: head)))
            }
        }
        let window = (
            try #require(Timestamp(rfc3339: Self.entries[5000].timestamp ?? "")),
            try #require(Timestamp(rfc3339: Self.entries[5100].timestamp ?? ""))
        )
        let history = { (store: SQLiteStore) in
            try store.withLogReader { reader in
                try reader.entries(user: "usr-3", eventAfter: window.0, through: window.1, before: 9001, recorded: nil).map(\.seq)
            }
        }
        #expect(try history(epoched) == (try history(unindexed)))
        #expect(try !history(epoched).isEmpty)
        #expect(try epoched.verify().isIntact)
        // A patient's accesses removed from one epoch: verify finds it.
        try epoched.pool.write { db in try db.execute(sql: "DELETE FROM posting_epoch WHERE kind = 1 AND key = 'PAT-3' AND epoch = 2") }
        #expect(try epoched.verify().problem?.kind == .indexMismatch)
    }

    /// Rows from records (spans and blocks) equal rows read from the entries, with date bounds
    /// and at an earlier head inside the span, a block and the block still filling.
    @Test func reportRowsFromRecordsEqualRowsReadFromTheEntries() throws {
        let spanned = try Self.store(blockShift: 12, spanShift: 1)
        let blocks = try Self.store(blockShift: 12, spanShift: 5)
        let unindexed = try Self.store(blockShift: 30, spanShift: 1)
        let from = try #require(Timestamp(rfc3339: Self.entries[3000].timestamp ?? ""))
        let to = try #require(Timestamp(rfc3339: Self.entries[8500].timestamp ?? ""))
        var all: [AccessRow] = []
        // Odd and even patients (roles differ by the parity of the entry), with queries and alerts.
        for patient in ["PAT-3", "PAT-14", "PAT-40", "PAT-43"] {
            let expected = try Self.rows(unindexed, patient)
            all += expected
            #expect(expected.count > 150)
            #expect(try Self.rows(spanned, patient) == expected)
            #expect(try Self.rows(blocks, patient) == expected)
            let bounded = try Self.rows(unindexed, patient, from: from, to: to)
            #expect(try Self.rows(spanned, patient, from: from, to: to) == bounded)
            for head: Int64 in [3_000, 8_192, 8_500] {
                let earlier = try Self.rows(unindexed, patient, through: head)
                #expect(earlier.last.map { $0.seq <= head } ?? true)
                #expect(try Self.rows(spanned, patient, through: head) == earlier, "head \(head)")
            }
        }
        #expect(all.contains { $0.kind == "alert" && $0.body != nil })
        #expect(all.contains { $0.viaQuery })
        #expect(all.contains { $0.breakGlass && $0.breakGlassReason == "unconscious patient in the ER" })
        #expect(all.contains { $0.userRole == "night \"float\" nurse é" })
    }

    /// A merge cut short by a crash leaves some span rows and every block row; one that
    /// crashed after marking its span leaves block rows behind. Both are completed on the
    /// next compaction, with the same rows as a merge that ran through.
    @Test func aMergeCutShortIsCompletedWithoutDuplicates() throws {
        /// The spanned blocks' rows again, as their compaction wrote them.
        func restoreBlocks(_ store: SQLiteStore) throws {
            try store.pool.write { db in
                for block: Int64 in [0, 1] {
                    let collected = try Postings.collect(db, block: block, from: block * 4096 + 1, through: (block + 1) * 4096)
                    try Postings.insert(db, block: block, collected.rows()[...])
                }
            }
        }
        func differences(_ a: [String], _ b: [String]) -> Int {
            zip(a, b).filter { $0 != $1 }.count + abs(a.count - b.count)
        }

        // Cut short mid-merge: the blocks' rows all there, part of the span's rows written,
        // the span not marked.
        let midMerge = try Self.store(blockShift: 12, spanShift: 1)
        let expected = try Self.derived(midMerge)
        let reference = try Self.rows(midMerge, "PAT-7")
        try restoreBlocks(midMerge)
        try midMerge.pool.write { db in
            try db.execute(sql: "DELETE FROM posting_span WHERE key > 'PAT-3'")
            try db.execute(sql: "UPDATE meta SET value = '0' WHERE key = 'spans_through'")
        }
        #expect(differences(try Self.derived(midMerge), expected) > 1000)
        // Lookups meanwhile read the blocks, not the half-written span.
        #expect(try Self.rows(midMerge, "PAT-7") == reference)
        #expect(
            try midMerge.entries(.user("usr-3")).map(\.seq)
                == (try Self.store(blockShift: 30, spanShift: 1).entries(.user("usr-3"))).map(\.seq))
        midMerge.compactPostingsNow()
        #expect(differences(try Self.derived(midMerge), expected) == 0)

        // Crashed after the span was marked: its blocks' rows are still there.
        let marked = try Self.store(blockShift: 12, spanShift: 1)
        let markedExpected = try Self.derived(marked)
        try restoreBlocks(marked)
        #expect(differences(try Self.derived(marked), markedExpected) > 1000)
        #expect(try Self.rows(marked, "PAT-7") == (try Self.rows(midMerge, "PAT-7")))
        marked.compactPostingsNow()
        #expect(differences(try Self.derived(marked), markedExpected) == 0)
    }

    /// Reports read patients' accesses from the posting lists and records, so a full
    /// verification checks them against the entries: an access hidden, altered or added there
    /// is found, in a span and in a block alike, and pinpointed to its block.
    @Test func verifyFindsPatientPostingsThatDisagreeWithTheEntries() throws {
        let intact = try Self.store(blockShift: 12, spanShift: 1)
        #expect(try intact.verify().isIntact)

        let damages: [(name: String, sql: String, block: Int64)] = [
            // A record's role changed (same length), in the span.
            (
                "record edited in a span",
                "UPDATE posting_span SET records = CAST(replace(CAST(records AS TEXT), 'physician', 'physiciam') AS BLOB) WHERE kind = 1 AND key = 'PAT-14'",
                0
            ),
            // An access dropped from a patient's list: the other blocks of the span still agree.
            (
                "access hidden in a span",
                "UPDATE posting_span SET seqs = substr(seqs, 1, length(seqs) - 8) WHERE kind = 1 AND key = 'PAT-7'", 1
            ),
            // A patient's whole row removed from the span.
            ("patient row deleted", "DELETE FROM posting_span WHERE kind = 1 AND key = 'PAT-3'", 0),
            // An access attributed to another patient.
            ("posting moved to another patient", "UPDATE posting_span SET key = 'PAT-99' WHERE kind = 1 AND key = 'PAT-5'", 0),
        ]
        for damage in damages {
            let store = try Self.store(blockShift: 12, spanShift: 1)
            try store.pool.write { db in
                try db.execute(sql: damage.sql)
                #expect(db.changesCount == 1, "\(damage.name)")
            }
            let report = try store.verify()
            #expect(report.problem?.kind == .indexMismatch, "\(damage.name)")
            #expect(report.problem?.seq == damage.block * 4096 + 1, "\(damage.name)")
            // The message names entries, never a patient.
            #expect(report.problem?.message.contains("PAT-") == false)
        }
        // Also when the block's rows are not merged yet.
        let blocks = try Self.store(blockShift: 12, spanShift: 5)
        #expect(try blocks.verify().isIntact)
        try blocks.pool.write { db in
            try db.execute(sql: "UPDATE posting SET seqs = substr(seqs, 9) WHERE kind = 1 AND block = 1 AND key = 'PAT-40'")
        }
        #expect(try blocks.verify().problem?.seq == 4097)
    }

    @Test func aRecordIsReadBackAsTheRowItWasMadeOf() {
        let row = AccessRow(
            seq: 7, kind: "tool_call", time: "2026-03-01T10:00:00.000Z", recordedAt: "2026-03-01T10:00:00.120Z", tenantID: "hospital-1",
            userID: "usr-0001", userRole: nil, model: "m", toolName: String(repeating: "t", count: 300), action: "E",
            purposeOfUse: "TREAT", outcome: "", breakGlass: true, breakGlassReason: "é \"quoted\"", conversationID: nil, traceID: "tr-1",
            viaQuery: true, body: nil
        )
        var data: [UInt8] = []
        AccessRecord.append(row, to: &data)
        var alert = row
        alert.kind = "alert"
        AccessRecord.append(alert, to: &data)
        AccessRecord.append(row, to: &data)
        data.withUnsafeBytes { bytes in
            var reader = AccessRecord.Reader(bytes)
            guard case .row(let first)? = reader.next(seq: 7) else {
                Issue.record("no row")
                return
            }
            #expect(first == row)
            guard case .entry? = reader.next(seq: 8) else {
                Issue.record("an alert's record names its kind only")
                return
            }
            guard case .row(let third)? = reader.next(seq: 9) else {
                Issue.record("no third row")
                return
            }
            #expect(third.seq == 9 && third.toolName == row.toolName)
            #expect(reader.next(seq: 10) == nil)
        }
        // Cut bytes are no row.
        data.prefix(40).withUnsafeBytes { bytes in
            var reader = AccessRecord.Reader(bytes)
            #expect(reader.next(seq: 1) == nil)
        }
    }
}
