import AuditArchive
import AuditCore
import CareTrail
import Foundation
import Synchronization

/// A clock the test moves: the log's `recorded_at` and a retention run's `now`.
final class MovableClock: Sendable {
    private let milliseconds: Mutex<Int64>

    init(_ start: String) {
        milliseconds = Mutex(Timestamp(rfc3339: start)?.millisecondsSinceEpoch ?? 0)
    }

    func advance(days: Int64) { milliseconds.withLock { $0 += days * 86_400_000 } }
    func advance(milliseconds step: Int64) { milliseconds.withLock { $0 += step } }
    var now: Timestamp { Timestamp(millisecondsSinceEpoch: milliseconds.withLock { $0 }) }
}

/// A log in a temporary folder whose clock the test moves, and calls dated by that clock:
/// what the retention and archive suites share.
protocol AgingLogFixture {
    var folder: URL { get }
    var clock: MovableClock { get }
}

extension AgingLogFixture {
    var path: String { folder.appendingPathComponent("audit.sqlite").path }
    var archiveFolder: URL { folder.appendingPathComponent("archive") }
    var destination: DirectoryDestination { DirectoryDestination(directory: archiveFolder) }

    func makeLog() throws -> AuditLog {
        let clock = self.clock
        return try AuditLog.create(database: path, clock: { clock.now }, postingBlockShift: 2, postingSpanShift: 2)
    }

    /// `count` calls of `tool` about `patient`, dated a minute before the log's clock.
    func calls(_ count: Int, tool: String, patient: String, conversation: String) -> String {
        let time = clock.now.adding(milliseconds: -60_000)?.description ?? ""
        return (0..<count).map { index in
            """
            {"timestamp":"\(time)","tenant_id":"hospital-1","conversation_id":"\(conversation)","trace_id":"tr-\(conversation)-\(index)","user_id":"usr-\(index % 3)","model":"m-1","tool_name":"\(tool)","action":"R","purpose_of_use":"TREAT","patient_id":"\(patient)","arguments":{"patient_id":"\(patient)"},"result":{"status":"ok"}}
            """
        }.joined(separator: "\n") + "\n"
    }

    func ingest(_ log: AuditLog, _ text: String) throws {
        let file = folder.appendingPathComponent("calls-\(UUID().uuidString).jsonl")
        try text.write(to: file, atomically: true, encoding: .utf8)
        _ = try log.ingest(path: file.path)
    }

    func bytesOnDisk() throws -> Data {
        var data = Data()
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: path + suffix) {
            data.append(try Data(contentsOf: URL(fileURLWithPath: path + suffix)))
        }
        return data
    }
}
