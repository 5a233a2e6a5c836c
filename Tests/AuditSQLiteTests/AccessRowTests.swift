import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import Foundation
import GRDB
import Testing

@testable import AuditSQLite

@Suite("Report rows read straight from SQLite")
struct AccessRowTests {
    static func role(in body: String) -> String? {
        var copy = body
        return copy.withUTF8 { BodyScan.topLevelString("user_role", in: $0) }
    }

    @Test func theUserRoleIsTheTopLevelMemberUnescaped() {
        #expect(
            Self.role(in: #"{"arguments":{"user_role":"forged"},"duration_ms":3,"user_role":"nurse \"night\" \u00e9"}"#)
                == "nurse \"night\" é")
        #expect(Self.role(in: #"{"trigger":"user_request","user_role":"physician"}"#) == "physician")
    }

    @Test func aNestedOrMissingOrNonStringRoleIsNoRole() {
        // Only inside `arguments` and `result`: not the caller's role.
        #expect(Self.role(in: #"{"arguments":{"user_role":"admin"},"result":["user_role","x"]}"#) == nil)
        #expect(Self.role(in: #"{"user_role":7}"#) == nil)
        #expect(Self.role(in: #"{"user_role":null}"#) == nil)
        #expect(Self.role(in: "{}") == nil)
        #expect(Self.role(in: "") == nil)
    }

    /// Every row a report reads agrees with SQLite's own JSON functions and with the stored
    /// columns, on entries with and without a role, with escapes, and on alerts (whose body is
    /// handed on whole).
    @Test func reportRowsAgreeWithTheStoredEntries() throws {
        let store = try newStore(temporaryFolder())
        let bodies = [
            #"{"trigger":"user_request","user_role":"physician"}"#,
            #"{"arguments":{"user_role":"forged"},"trigger":"retry"}"#,
            #"{"trigger":"user_request","user_role":"night \"float\" nurse"}"#,
            #"{"break_glass":{"reason":"unconscious patient in the ER"},"user_role":"physician"}"#,
        ]
        var entries: [EncodedEntry] = []
        for (index, body) in bodies.enumerated() {
            var call = entry(index, patient: "PAT-9")
            call.body = body
            if body.contains("break_glass") { call.purposeOfUse = "ETREAT" }
            entries.append(call)
        }
        var alert = entry(9, patient: "PAT-9", kind: "alert")
        alert.body = #"{"alert":"break_glass","user_role":"not read for alerts"}"#
        entries.append(alert)
        _ = try store.appendNow(entries)

        var rows: [AccessRow] = []
        try store.forEachAccess(to: .patientID("PAT-9"), from: nil, to: nil, through: nil) { rows.append($0) }
        #expect(rows.map(\.seq) == [1, 2, 3, 4, 5])
        let expectedRoles = try store.pool.read { db in
            try String?.fetchAll(
                db,
                sql:
                    "SELECT json_extract(canonical, '$.body.user_role') FROM entry WHERE json_extract(canonical, '$.kind') = 'tool_call' ORDER BY seq"
            )
        }
        #expect(rows.prefix(4).map(\.userRole) == expectedRoles)
        #expect(rows.prefix(4).map(\.userRole) == ["physician", nil, "night \"float\" nurse", "physician"])
        #expect(rows.map(\.breakGlass) == [false, false, false, true, false])
        #expect(rows[3].breakGlassReason == "unconscious patient in the ER")
        #expect(rows[4].userRole == nil)
        #expect(rows[4].body == alert.body)
        #expect(rows.prefix(4).allSatisfy { $0.body == nil })
        for (row, stored) in zip(rows, entries) {
            #expect(row.userID == stored.userID && row.tenantID == stored.tenantID && row.model == stored.model)
            #expect(row.toolName == stored.toolName && row.action == stored.action && row.purposeOfUse == stored.purposeOfUse)
            #expect(row.conversationID == stored.conversationID && row.traceID == stored.traceID && row.time == stored.timestamp)
        }
    }

    /// Entries fetched one by one (lookups, `show --seq`) are exactly what was appended, hashes
    /// included, NULL columns and empty strings told apart.
    @Test func anEntryReadBySeqIsExactlyWhatWasAppended() throws {
        let store = try newStore(temporaryFolder())
        var sparse = entry(1)
        sparse.toolName = nil
        sparse.conversationID = nil
        sparse.outcome = nil
        sparse.traceID = ""
        let receipt = try store.appendNow([entry(0), sparse])
        let read = try #require(try store.entry(seq: 2))
        #expect(read.content == sparse)
        #expect(read.entryHash == receipt.entries[1].hash)
        #expect(read.prevHash == receipt.entries[0].hash)
        #expect(try store.entry(seq: 3) == nil)
        #expect(try store.head() == receipt.head)
    }
}
