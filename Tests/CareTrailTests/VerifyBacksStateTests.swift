import AuditAnalysis
import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import GRDB
import Testing

/// Verify ties what grants and configures, and what the log recorded of itself, back to the
/// chain: an API key row no key event backs, a configuration hidden from the kind index, a
/// verification record removed.
@Suite("Verify checks the state outside the chain against it")
struct VerifyBacksStateTests {
    let folder = temporaryFolder()
    var path: String { folder.appendingPathComponent("audit.sqlite").path }

    func log() throws -> AuditLog {
        let log = try AuditLog.create(database: path)
        _ = try log.ingest(path: try sampleWorkload(lines: 30, in: folder))
        return log
    }

    func change(_ sql: String, _ arguments: StatementArguments = []) throws {
        try DatabaseQueue(path: path).writeWithoutTransaction { db in try db.execute(sql: sql, arguments: arguments) }
    }

    @Test func anAPIKeyTheChainDoesNotBackIsKeyNotInLog() throws {
        let log = try log()
        let (officer, _) = try log.createAPIKey(role: .privacyOfficer, tenant: "hospital-1", by: "admin")
        let (agent, _) = try log.createAPIKey(role: .agent, tenant: "hospital-1", by: "admin")
        try log.revokeAPIKey(id: agent.id, by: "admin")
        #expect(try log.verify().isIntact)

        // A key added to the table only: an admin key nobody created in the log.
        try change(
            "INSERT INTO api_key (id, secret_hash, role, tenant_id, created_at) VALUES ('ctk_forged', ?, 'admin', '*', '2026-01-01')",
            [Data(repeating: 1, count: 32)])
        #expect(try log.verify().problem?.kind == .keyNotInLog)
        try change("DELETE FROM api_key WHERE id = 'ctk_forged'")
        #expect(try log.verify().isIntact)

        // A key revived after its revocation, given another role, or another secret.
        try change("UPDATE api_key SET revoked_at = NULL WHERE id = ?", [agent.id])
        let revived = try log.verify()
        #expect(revived.problem?.kind == .keyNotInLog)
        #expect(revived.problem?.message.contains("revoked in the log") == true)
        try change("UPDATE api_key SET revoked_at = '2026-01-01' WHERE id = ?", [agent.id])
        #expect(try log.verify().isIntact)
        try change("UPDATE api_key SET role = 'admin' WHERE id = ?", [officer.id])
        #expect(try log.verify().problem?.kind == .keyNotInLog)
        try change("UPDATE api_key SET role = 'privacy_officer' WHERE id = ?", [officer.id])
        try change("UPDATE api_key SET secret_hash = zeroblob(32) WHERE id = ?", [officer.id])
        #expect(try log.verify().problem?.kind == .keyNotInLog)
    }

    @Test func aConfigurationHiddenFromTheKindIndexIsIndexMismatch() throws {
        let log = try log()
        var strict = LogConfiguration()
        strict.reviewDeadlineDays = 1
        let head = try log.setConfiguration(strict, changedBy: "officer")
        #expect(try log.verify().isIntact)
        try change("DROP TRIGGER entry_kind_is_append_only_delete")
        try change("DELETE FROM entry_kind WHERE seq = ?", [head.seq])
        let report = try log.verify()
        #expect(report.problem?.kind == .indexMismatch)
        #expect(report.problem?.seq == head.seq)
    }

    @Test func aRemovedVerificationRecordIsReported() throws {
        let log = try log()
        #expect(try log.verify().isIntact)
        _ = try log.ingest(path: try sampleWorkload(lines: 5, in: folder))
        #expect(try log.verify().isIntact)
        _ = try log.ingest(path: try sampleWorkload(lines: 5, in: folder))
        #expect(try log.verify().isIntact)
        try change("DELETE FROM verification WHERE id = 2")
        let report = try log.verify()
        #expect(report.problem?.kind == .truncated)
        #expect(report.problem?.message.contains("verification") == true)
    }

    @Test func anIncrementalVerificationWhoseAnchorIsGoneReportsTruncation() throws {
        let log = try log()
        #expect(try log.verify().isIntact)
        try change("DROP TRIGGER entry_is_append_only_delete")
        try change("DELETE FROM entry WHERE seq > 25")
        let report = try log.verifyIncrementally()
        #expect(report.problem?.kind == .truncated)
        #expect(report.problem?.seq == 30)
    }
}
