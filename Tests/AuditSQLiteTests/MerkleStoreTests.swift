import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import Foundation
import GRDB
import Testing

@testable import AuditSQLite

@Suite("The Merkle tree a log keeps, its proofs and their verification")
struct MerkleStoreTests {
    /// A log of `count` entries in blocks of 64, so the background pass stores nodes often.
    static func log(_ count: Int) throws -> SQLiteStore {
        let store = try SQLiteStore.create(at: temporaryFolder().appendingPathComponent("audit.sqlite").path, postingBlockShift: 6)
        for start in stride(from: 0, to: count, by: 500) {
            _ = try store.appendNow((start..<min(count, start + 500)).map { mixedEntry($0, spacingMS: 1000) })
        }
        return store
    }

    /// The reference: the tree built in memory from the entries' hashes.
    static func reference(_ store: SQLiteStore) throws -> InMemoryMerkleLeaves {
        let hashes = try store.pool.read { db in try Data.fetchAll(db, sql: "SELECT entry_hash FROM entry ORDER BY seq") }
        return InMemoryMerkleLeaves(leaves: hashes.map { MerkleTree.leafHash(ChainHash(unchecked: [UInt8]($0))) })
    }

    @Test func rootsAndProofsFromTheStoredTreeEqualTheTreeOfTheEntries() throws {
        let store = try Self.log(1300)
        var reference = try Self.reference(store)
        let stored = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM merkle_node") ?? 0 }
        // The pass after the last append saw 1,300 entries: 81 nodes of 16 entries, 5 of 256.
        #expect(stored == 86)
        for size in [Int64(1), 2, 15, 16, 17, 255, 256, 257, 1000, 1024, 1279, 1280, 1300] {
            #expect(try store.merkleRoot(size: size) == MerkleTree.root(size: size, from: &reference), "size \(size)")
            for seq in Set([Int64(1), size / 2 + 1, size]) {
                let proof = try store.inclusionProof(seq: seq, treeSize: size)
                #expect(proof.hashes == MerkleTree.inclusionProof(index: seq - 1, size: size, from: &reference))
                try proof.verify()
            }
            for from in Set([Int64(1), (size + 1) / 2, size]) {
                let proof = try store.consistencyProof(from: from, to: size)
                #expect(proof.hashes == MerkleTree.consistencyProof(from: from, to: size, from: &reference))
                try proof.verify()
            }
        }
        #expect(try store.merkleRoot(size: 0) == MerkleTree.emptyRoot)
    }

    @Test func proofsBeyondTheLogAreRefusedWithOutOfRange() throws {
        let store = try Self.log(40)
        let attempts: [() throws -> Void] = [
            { _ = try store.inclusionProof(seq: 41, treeSize: 41) }, { _ = try store.inclusionProof(seq: 0, treeSize: 10) },
            { _ = try store.inclusionProof(seq: 11, treeSize: 10) }, { _ = try store.consistencyProof(from: 0, to: 10) },
            { _ = try store.consistencyProof(from: 11, to: 10) }, { _ = try store.consistencyProof(from: 1, to: 41) },
            { _ = try store.merkleRoot(size: 41) }, { _ = try store.merkleRoot(size: -1) },
        ]
        for attempt in attempts {
            #expect(throws: StoreError.self) { try attempt() }
            do { try attempt() } catch let error as StoreError { #expect(error.code == .outOfRange) } catch {}
        }
    }

    @Test func aLogWithoutStoredNodesGivesTheSameAnswers() throws {
        let store = try Self.log(700)
        let root = try store.merkleRoot(size: 700)
        let proof = try store.inclusionProof(seq: 123, treeSize: 650)
        try store.pool.write { db in try db.execute(sql: "DELETE FROM merkle_node") }
        #expect(try store.merkleRoot(size: 700) == root)
        #expect(try store.inclusionProof(seq: 123, treeSize: 650) == proof)
        // The next background pass stores them again.
        store.extendMerkleTree()
        #expect(try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM merkle_node") } == 45)
    }

    @Test(arguments: [4, 8])
    func verifyFindsAStoredNodeThatTheEntriesDoNotMake(level: Int) throws {
        let store = try Self.log(1300)
        #expect(try store.verify().isIntact)
        try store.pool.write { db in
            try db.execute(
                sql: "UPDATE merkle_node SET hash = ? WHERE level = ? AND idx = 2", arguments: [Data(repeating: 7, count: 32), level])
        }
        let report = try store.verify()
        #expect(report.problem?.kind == .merkleMismatch)
        #expect(report.problem?.seq == Int64(2 << level) + 1)
    }
}
