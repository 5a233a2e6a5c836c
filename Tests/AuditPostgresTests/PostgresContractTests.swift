import AuditChain
import AuditPostgres
import AuditStorage
import AuditStorageContract
import AuditTestSupport
import Foundation
import Testing

/// The storage contract, run against the PostgreSQL backend: each check on a fresh database
/// of one throwaway cluster, installed as `caretrail init` installs it.
@Suite("PostgreSQL store keeps the storage contract")
struct PostgresContractTests {
    static let contract = StorageContract {
        let url = try PostgresTestServer.shared().newDatabase()
        let store = try PostgresStore.connect(try PostgresLocation(url: url), clock: SystemClock.now)
        _ = try store.install()
        return store
    }

    @Test(arguments: StorageContract.checkNames)
    func postgresStoreKeepsTheContract(_ check: String) async throws {
        try await Self.contract.run(check)
    }
}
