import AuditChain
import AuditCore
import AuditSQLite
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import GRDB
import Testing

struct LabResult: Codable, Sendable, Equatable {
    var patientID: String
    var patientName: String
    var potassium: Double
}

struct ToolFailure: Error {}

let context = ToolCallContext(
    tenantID: "hospital-1", conversationID: "conv-1", userID: "usr-1", model: "gpt-4.1", purposeOfUse: .treatment,
    patientID: "PAT-1", traceID: "tr-1", turnNumber: 2, userRole: "physician"
)

@Suite("Audited tool calls")
struct AuditedToolCallTests {
    @Test func successfulCallIsRecordedWithResultAndDuration() async throws {
        let log = try newLog(temporaryFolder())
        let result = try await log.audited(tool: "get_lab_results", arguments: ["patient_id": "PAT-1"], context: context) {
            try await Task.sleep(for: .milliseconds(20))
            return LabResult(patientID: "PAT-1", patientName: "Wei Chen", potassium: 4.1)
        }
        #expect(result.potassium == 4.1)
        let stored = try #require(try log.entry(seq: 1))
        #expect(stored.content.toolName == "get_lab_results")
        #expect(stored.content.outcome == "success")
        #expect(stored.content.purposeOfUse == "TREAT")
        #expect(stored.content.patientID == "PAT-1")
        #expect(!stored.content.body.contains("Wei Chen"))
        let body = try JSONParser.parse(stored.content.body)
        #expect((body["duration_ms"]?.numberValue ?? 0) >= 20)
        #expect(body["result"]?["potassium"] == 4.1)
    }

    @Test func failingToolIsRecordedThenItsErrorRethrown() async throws {
        let log = try newLog(temporaryFolder())
        await #expect(throws: ToolFailure.self) {
            _ = try await log.audited(tool: "order_lab", arguments: [:], context: context) { () async throws -> LabResult in
                throw ToolFailure()
            }
        }
        let stored = try #require(try log.entry(seq: 1))
        #expect(stored.content.outcome == "failure")
        #expect(stored.content.body.contains("ToolFailure"))
    }

    @Test func resultIsWithheldWhenTheRecordCannotBeWritten() async throws {
        let folder = temporaryFolder()
        let log = try newLog(folder)
        // The disk "fills up": every insert into the log now fails.
        let queue = try DatabaseQueue(path: log.location)
        try await queue.write {
            try $0.execute(sql: "CREATE TRIGGER disk_full BEFORE INSERT ON entry BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        }
        var toolRan = false
        do {
            _ = try await log.audited(tool: "get_lab_results", arguments: [:], context: context) {
                toolRan = true
                return LabResult(patientID: "PAT-1", patientName: "Wei Chen", potassium: 4.1)
            }
            Issue.record("the result reached the caller without an audit record")
        } catch let error as CareTrailError {
            #expect(error.code == .auditWriteFailed)
            #expect(!error.message.contains("Wei Chen"))
        }
        #expect(toolRan)
        #expect(try log.count() == 0)
    }
}
