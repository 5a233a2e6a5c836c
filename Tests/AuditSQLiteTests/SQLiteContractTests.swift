import AuditSQLite
import AuditStorage
import AuditStorageContract
import AuditTestSupport
import Foundation
import Testing

/// The storage contract, run against the SQLite backend: each check on a fresh log file.
@Suite("SQLite store keeps the storage contract")
struct SQLiteContractTests {
    static let contract = StorageContract {
        try SQLiteStore.create(at: temporaryFolder().appendingPathComponent("contract.sqlite").path)
    }

    @Test(arguments: StorageContract.checkNames)
    func sqliteStoreKeepsTheContract(_ check: String) async throws {
        try await Self.contract.run(check)
    }
}
