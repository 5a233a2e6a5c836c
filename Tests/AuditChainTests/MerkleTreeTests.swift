import AuditChain
import AuditTestSupport
import Crypto
import Foundation
import Testing

/// Leaf hashes of arbitrary data (the published vectors hash data, not entry hashes).
private func leaf(_ bytes: [UInt8]) -> ChainHash {
    ChainHash(unchecked: [UInt8](SHA256.hash(data: [0] + bytes)))
}

/// Entry hashes standing in for a log's: SHA-256 of the index.
private func entryHashes(_ count: Int) -> [ChainHash] {
    (0..<count).map { ChainHash(unchecked: [UInt8](SHA256.hash(data: Array("entry \($0)".utf8)))) }
}

/// The slow reference: RFC 6962's MTH over a list, by its definition.
private func referenceRoot(_ leaves: ArraySlice<ChainHash>) -> ChainHash {
    if leaves.isEmpty { return MerkleTree.emptyRoot }
    if leaves.count == 1 { return leaves[leaves.startIndex] }
    var split = 1
    while split * 2 < leaves.count { split *= 2 }
    let middle = leaves.startIndex + split
    return MerkleTree.nodeHash(referenceRoot(leaves[..<middle]), referenceRoot(leaves[middle...]))
}

@Suite struct MerkleTreeTests {
    /// RFC 6962's reference inputs and the roots of their first 1 to 8, as published with
    /// Certificate Transparency's reference implementation.
    static let rfcInputs: [[UInt8]] = [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43], Array(0x50...0x57), Array(0x60...0x6f),
    ]
    static let rfcRoots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    @Test func rootsMatchThePublishedVectors() {
        #expect(MerkleTree.emptyRoot.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var source = InMemoryMerkleLeaves(leaves: Self.rfcInputs.map(leaf))
        for size in 1...8 {
            #expect(MerkleTree.root(size: Int64(size), from: &source).hex == Self.rfcRoots[size - 1], "size \(size)")
        }
    }

    @Test func rootsMatchTheDefinitionForEverySizeUpTo300() {
        let leaves = entryHashes(300).map(MerkleTree.leafHash)
        var source = InMemoryMerkleLeaves(leaves: leaves)
        for size in 1...300 {
            #expect(MerkleTree.root(size: Int64(size), from: &source) == referenceRoot(leaves[0..<size]))
        }
    }

    @Test func everyInclusionProofUpTo64LeavesVerifiesAndNoAlteredOneDoes() throws {
        let leaves = entryHashes(64).map(MerkleTree.leafHash)
        var source = InMemoryMerkleLeaves(leaves: leaves)
        for size in Int64(1)...64 {
            let root = MerkleTree.root(size: size, from: &source)
            for index in Int64(0)..<size {
                let path = try #require(MerkleTree.inclusionProof(index: index, size: size, from: &source))
                try MerkleProof.verifyInclusion(index: index, size: size, leafHash: leaves[Int(index)], path: path, root: root)
                // Another leaf, another index, a changed or missing hash: refused.
                let other = leaves[Int((index + 1) % 64)]
                #expect(throws: MerkleProof.Failure.self) {
                    try MerkleProof.verifyInclusion(index: index, size: size, leafHash: other, path: path, root: root)
                }
                if size > 1 {
                    #expect(throws: MerkleProof.Failure.self) {
                        try MerkleProof.verifyInclusion(
                            index: (index + 1) % size, size: size, leafHash: leaves[Int(index)], path: path, root: root)
                    }
                    var changed = path
                    changed[0] = MerkleTree.emptyRoot
                    #expect(throws: MerkleProof.Failure.self) {
                        try MerkleProof.verifyInclusion(index: index, size: size, leafHash: leaves[Int(index)], path: changed, root: root)
                    }
                    #expect(throws: MerkleProof.Failure.wrongLength) {
                        try MerkleProof.verifyInclusion(
                            index: index, size: size, leafHash: leaves[Int(index)], path: Array(path.dropLast()), root: root)
                    }
                }
            }
            #expect(MerkleTree.inclusionProof(index: size, size: size, from: &source) == nil)
        }
    }

    @Test func everyConsistencyProofUpTo64LeavesVerifiesAndNoAlteredOneDoes() throws {
        let leaves = entryHashes(64).map(MerkleTree.leafHash)
        var source = InMemoryMerkleLeaves(leaves: leaves)
        for newSize in Int64(1)...64 {
            let newRoot = MerkleTree.root(size: newSize, from: &source)
            for oldSize in Int64(1)...newSize {
                let oldRoot = MerkleTree.root(size: oldSize, from: &source)
                let proof = try #require(MerkleTree.consistencyProof(from: oldSize, to: newSize, from: &source))
                try MerkleProof.verifyConsistency(from: oldSize, to: newSize, oldRoot: oldRoot, newRoot: newRoot, proof: proof)
                guard oldSize < newSize else { continue }
                // A rewritten older tree, or a proof with a hash changed: refused.
                #expect(throws: MerkleProof.Failure.self) {
                    try MerkleProof.verifyConsistency(
                        from: oldSize, to: newSize, oldRoot: MerkleTree.emptyRoot, newRoot: newRoot, proof: proof)
                }
                var changed = proof
                changed[changed.count - 1] = MerkleTree.emptyRoot
                #expect(throws: MerkleProof.Failure.self) {
                    try MerkleProof.verifyConsistency(from: oldSize, to: newSize, oldRoot: oldRoot, newRoot: newRoot, proof: changed)
                }
            }
        }
        #expect(throws: MerkleProof.Failure.sizesOutOfOrder) {
            try MerkleProof.verifyConsistency(from: 5, to: 4, oldRoot: leaves[0], newRoot: leaves[0], proof: [])
        }
    }

    /// Proofs for every tree size from 1 to 1,000 and for random pairs, checked by a second
    /// implementation written from the RFCs in Python (`scripts/check-transparency.py`): it
    /// builds the tree itself and requires the very hashes RFC 6962 defines.
    @Test func proofsForEverySizeUpTo1000AgreeWithAnIndependentImplementation() throws {
        let hashes = entryHashes(1000)
        var source = InMemoryMerkleLeaves(leaves: hashes.map(MerkleTree.leafHash))
        var generator = SystemRandomNumberGenerator()
        var proofs: [[String: Any]] = []
        func base64(_ hash: ChainHash) -> String { Data(hash.bytes).base64EncodedString() }
        func inclusion(_ index: Int64, _ size: Int64) throws {
            let path = try #require(MerkleTree.inclusionProof(index: index, size: size, from: &source))
            proofs.append([
                "leaf_index": index, "tree_size": size, "leaf_hash": base64(source.leaves[Int(index)]), "hashes": path.map(base64),
                "root": base64(MerkleTree.root(size: size, from: &source)),
            ])
        }
        func consistency(_ old: Int64, _ new: Int64) throws {
            let proof = try #require(MerkleTree.consistencyProof(from: old, to: new, from: &source))
            proofs.append([
                "from_size": old, "to_size": new, "hashes": proof.map(base64),
                "from_root": base64(MerkleTree.root(size: old, from: &source)),
                "to_root": base64(MerkleTree.root(size: new, from: &source)),
            ])
        }
        for size in Int64(1)...1000 {
            try inclusion(size - 1, size)
            try inclusion(Int64.random(in: 0..<size, using: &generator), size)
            try consistency(Int64.random(in: 1...size, using: &generator), size)
        }
        for _ in 0..<500 {
            let new = Int64.random(in: 1...1000, using: &generator)
            try consistency(Int64.random(in: 1...new, using: &generator), new)
            try inclusion(Int64.random(in: 0..<new, using: &generator), new)
        }
        let folder = temporaryFolder()
        let file = folder.appendingPathComponent("proofs.json")
        let document: [String: Any] = ["entry_hashes": hashes.map(\.hex), "proofs": proofs]
        try JSONSerialization.data(withJSONObject: document).write(to: file)
        let script = FixturePath.root.deletingLastPathComponent().appendingPathComponent("scripts/check-transparency.py").path
        let result = try runProgram(["python3", script, "proofs", file.path])
        #expect(result.status == 0, "\(result.output.prefix(2000))")
        #expect(result.output.contains("4000 proofs over 1000 leaves hold"))
    }
}
