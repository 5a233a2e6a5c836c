import AuditAnalysis
import AuditChain
import AuditCore
import AuditSQLite
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import Testing

/// Late records read the part of their window the detector observed from memory, and only the
/// rest from the log: the alerts are the same whatever the memory holds.
@Suite("Backfilled history, from memory and from the log")
struct BackfillHistoryTests {
    /// Blocks of 4,096 (the whole log in the tail index) and blocks of 16 merged two by two
    /// into spans, so that windows of history are read through spans, blocks and the tail.
    @Test(arguments: [(12, 4), (4, 1)])
    func lateRecordsRaiseTheSameAlertsWhateverTheMemoryHolds(blockShift: Int, spanShift: Int) async throws {
        let folder = temporaryFolder()
        let database = folder.appendingPathComponent("audit.sqlite").path
        let clock = TestClock("2026-06-01T12:00:00Z")
        let log = try AuditLog.create(
            database: database, clock: clock.read, postingBlockShift: blockShift, postingSpanShift: spanShift)
        let now = clock.read().millisecondsSinceEpoch
        // Live traffic first, then a backfill of two days ago in batches, then more live traffic
        // and a second backfill whose windows reach back into the first one.
        func call(_ index: Int, minutesAgo: Double) -> IngestRecord {
            .toolCall(
                ToolCall(
                    tenantID: "hospital-0", conversationID: "conv-\(index / 20)", userID: "usr-\(index % 5)", model: "m",
                    toolName: "get_patient_record", purposeOfUse: .treatment, patientID: "PAT-\(index % 7)",
                    timestamp: Timestamp(millisecondsSinceEpoch: now - Int64(minutesAgo * 60_000))
                ))
        }
        _ = try await log.record((0..<40).map { call($0, minutesAgo: Double(40 - $0) / 4) })
        for batch in 0..<6 {
            _ = try await log.record((0..<50).map { call(batch * 50 + $0, minutesAgo: 2 * 1440 - Double(batch * 50 + $0) / 2) })
        }
        _ = try await log.record((0..<30).map { call(400 + $0, minutesAgo: Double(30 - $0) / 10) })
        _ = try await log.record((0..<60).map { call(500 + $0, minutesAgo: 2 * 1440 - 30 - Double($0)) })
        let live = try log.alerts().map(\.alert)
        #expect(live.contains { $0.summary.contains("late") }, "the backfill raised no late alert")
        // Replay the log with detectors keeping all, a little, or none of what they observe.
        let store = try SQLiteStore.open(at: database)
        func replay(historyInMemory: Int) throws -> [String] {
            try store.withLogReader { reader in
                var detector = AnomalyDetector(historyInMemory: historyInMemory)
                var raised: [String] = []
                for entry in try reader.entries(from: 1, through: try reader.head()?.seq ?? 0) where entry.content.kind != .alert {
                    for draft in try detector.observe(ObservedEntry(entry), history: reader) {
                        raised.append("\(draft.kind.rawValue) \(draft.triggerSeq) \(draft.entrySeqs)")
                    }
                }
                return raised
            }
        }
        let fromLog = try replay(historyInMemory: 0)
        #expect(!fromLog.isEmpty)
        #expect(try replay(historyInMemory: 131_072) == fromLog)
        #expect(try replay(historyInMemory: 16) == fromLog)
        #expect(try replay(historyInMemory: 1) == fromLog)
        #expect(try log.scanAlerts().matches)
    }

    /// The same calls, recorded live and recorded two days late, raise the same alerts on the
    /// same entries: judged from the log's history, each rule counts exactly what the windows
    /// in memory count.
    @Test func aLateBackfillRaisesWhatTheSameCallsRaiseLive() async throws {
        func alerts(minutesAgo base: Double) async throws -> [String] {
            let clock = TestClock("2026-06-01T12:00:00Z")
            let log = try AuditLog.create(database: temporaryFolder().appendingPathComponent("audit.sqlite").path, clock: clock.read)
            let now = clock.read().millisecondsSinceEpoch
            func at(_ minute: Double) -> Timestamp { Timestamp(millisecondsSinceEpoch: now - Int64((base - minute) * 60_000)) }
            func call(_ user: String, _ patient: String, minute: Double, error: JSONValue? = nil) -> IngestRecord {
                .toolCall(
                    ToolCall(
                        tenantID: "hospital-0", conversationID: "conv-\(user)", userID: user, model: "m", toolName: "get_patient_record",
                        purposeOfUse: .treatment, patientID: patient, timestamp: at(minute), error: error))
            }
            // One user reads 52 distinct patients within 26 minutes (limit 50), another reads
            // one patient 11 times within 11 minutes (threshold 10), and a third fails 6 times
            // within 6 minutes (threshold 5).
            var calls: [IngestRecord] = (0..<52).map { call("usr-many", "PAT-\($0)", minute: Double($0) / 2) }
            calls += (0..<11).map { call("usr-burst", "PAT-burst", minute: 30 + Double($0)) }
            calls += (0..<6).map { call("usr-fail", "PAT-fail", minute: 45 + Double($0), error: "denied") }
            _ = try await log.record(calls)
            return try log.alerts().map(\.alert).map { "\($0.kind.rawValue) \($0.triggerSeq) \($0.entrySeqs)" }.sorted()
        }
        let live = try await alerts(minutesAgo: 55)
        #expect(live.count == 3, "\(live)")
        let late = try await alerts(minutesAgo: 2 * 1440)
        #expect(late == live)
    }
    /// A late record reads from the log what an earlier process stored in its window, and a
    /// backfill into a new log reads nothing: the log says once that it holds no tool call.
    @Test func aBackfillReadsWhatAnEarlierProcessStoredAndANewLogHoldsNothingToRead() async throws {
        let database = temporaryFolder().appendingPathComponent("audit.sqlite").path
        let clock = TestClock("2026-06-01T12:00:00Z")
        let first = try AuditLog.create(database: database, clock: clock.read)
        let store = try SQLiteStore.open(at: database)
        func mayHoldToolCalls() throws -> Bool {
            try store.withLogReader { reader in try reader.mayHoldToolCalls(before: (try reader.head()?.seq ?? 0) + 1) }
        }
        #expect(try mayHoldToolCalls() == false)
        _ = try await first.record((0..<5).map { read(minute: Double($0)) })
        #expect(try mayHoldToolCalls())
        // Days later, another call, then a new process: it warms up from the last day only,
        // so the five accesses above are read from the log.
        clock.advance(days: 3)
        _ = try await first.record([read("PAT-000007", minute: 0, user: "usr-0001")])
        let second = try AuditLog.open(database: database, clock: clock.read)
        _ = try await second.record((5..<10).map { read(minute: Double($0)) })
        #expect(try second.alerts().contains { $0.alert.kind == .patientAccessBurst })
        #expect(try second.scanAlerts().matches)
    }
}
