public import AuditChain
import AuditCore
public import AuditKeys
import AuditStorage
public import Foundation

/// A checkpoint the log signed: the signed note, and the entry that chained it (`nil` when the
/// log had not grown since the last one, and the note only renewed its cosignature's time).
public struct SignedCheckpoint: Sendable {
    public var checkpoint: Checkpoint
    public var note: SignedNote
    public var verifierKey: NoteVerifierKey
    public var chainedAt: ChainHead?
}

extension AuditLog {
    /// Loads the log's checkpoint signing keys from `file` (default
    /// `<database>.signing-keys.json`), or, when there is no such file and `create` is set,
    /// makes one with a new key for the log named `origin` (mode 0600).
    ///
    /// The default origin names the log by its database file and a random part, so that two
    /// logs never share a name: `caretrail/<file name>/<8 hex digits>`.
    public func signingKeys(file: String? = nil, origin: String? = nil, create: Bool) throws(CareTrailError) -> SigningKeyRing {
        let url = URL(fileURLWithPath: file ?? SigningKeyRing.defaultFile(forDatabase: sidecarBase))
        if FileManager.default.fileExists(atPath: url.path) || !create {
            do {
                return try SigningKeyRing.load(from: url)
            } catch {
                throw CareTrailError(code: .keyFile, message: error.message)
            }
        }
        let name = origin ?? Self.defaultOrigin(database: store.location)
        guard NoteSigner(name: name, seed: [UInt8](repeating: 1, count: 32)) != nil else {
            throw CareTrailError(
                code: .invalidArgument, message: "--origin: a log's name must not be empty or hold spaces, plus signs or control characters"
            )
        }
        let ring = SigningKeyRing.generate(origin: name)
        do {
            try ring.save(to: url, overwrite: false)
        } catch {
            // Servers of one log started together race to make its key: the one that lost
            // uses the key the winner made.
            for _ in 0..<20 where FileManager.default.fileExists(atPath: url.path) {
                if let made = try? SigningKeyRing.load(from: url) { return made }
                Thread.sleep(forTimeInterval: 0.05)
            }
            throw CareTrailError(code: .keyFile, message: error.message)
        }
        return ring
    }

    static func defaultOrigin(database: String) -> String {
        let file = URL(fileURLWithPath: database).lastPathComponent.filter { !$0.isWhitespace && $0 != "+" }
        return "caretrail/\(file.isEmpty ? "log" : file)/\(String(format: "%08x", UInt32.random(in: 0...UInt32.max)))"
    }

    /// The signer of the ring's current key.
    public static func signer(_ keys: SigningKeyRing) throws(CareTrailError) -> NoteSigner {
        guard let signer = NoteSigner(name: keys.origin, seed: [UInt8](keys.current.seed)) else {
            throw CareTrailError(code: .keyFile, message: "the signing key file holds an unusable key")
        }
        return signer
    }

    /// Signs a checkpoint of the log as it is now (tree size = head seq, root = its Merkle
    /// root), adds a timestamped cosignature (C2SP tlog-cosignature) so that readers see how
    /// fresh it is, and chains it as an entry of kind `checkpoint`, unless the only entry since
    /// the last checkpoint is that checkpoint's own: an idle log is not grown by its
    /// checkpoints, whose note is then re-signed with a new time.
    public func signCheckpoint(keys: SigningKeyRing, now: Date = Date()) throws(CareTrailError) -> SignedCheckpoint {
        let signer = try Self.signer(keys)
        let (checkpoint, chain) = try storeCall { () throws(StoreError) -> (Checkpoint, Bool) in
            let size = try store.head()?.seq ?? 0
            let root = try store.merkleRoot(size: size)
            let last = try store.latest(.checkpoint)
            return (Checkpoint(origin: keys.origin, size: size, root: root), last == nil || last?.seq != size)
        }
        var note: SignedNote
        do {
            note = try signer.sign(checkpoint.text)
            note.signatures.append(try signer.cosign(checkpoint.text, time: UInt64(max(0, now.timeIntervalSince1970))))
        } catch {
            throw CareTrailError(code: .keyFile, message: "the checkpoint could not be signed")
        }
        var chainedAt: ChainHead?
        if chain {
            let content = EntryContent(
                kind: .checkpoint, tenantID: "*", userID: "caretrail", model: "caretrail", keyID: sanitizer.pseudonymizer.keyID,
                body: [
                    "checkpoint": .object([
                        "origin": .string(checkpoint.origin), "tree_size": .number(Double(checkpoint.size)),
                        "root": .string(checkpoint.root.base64), "key": .string(signer.verifierKey.description),
                        "key_id": .string(keys.currentID),
                    ])
                ]
            )
            let receipt = try storeCall { () throws(StoreError) in try store.appendNow([EncodedEntry(content)]) }
            chainedAt = receipt.entries.first
        }
        return SignedCheckpoint(checkpoint: checkpoint, note: note, verifierKey: signer.verifierKey, chainedAt: chainedAt)
    }

    /// The proof that entry `seq` is in the tree of `treeSize` entries (default: the head).
    public func inclusionProof(seq: Int64, treeSize: Int64? = nil) throws(CareTrailError) -> InclusionProof {
        try storeCall { () throws(StoreError) in
            let size: Int64
            if let treeSize { size = treeSize } else { size = try store.head()?.seq ?? 0 }
            return try store.inclusionProof(seq: seq, treeSize: size)
        }
    }

    /// The proof that the tree of `to` entries extends the tree of `from`.
    public func consistencyProof(from: Int64, to: Int64) throws(CareTrailError) -> ConsistencyProof {
        try storeCall { () throws(StoreError) in try store.consistencyProof(from: from, to: to) }
    }
}

extension AuditLog {
    /// The verifier keys of every key in the ring, oldest first: what checkpoints signed
    /// before a rotation are checked with.
    public static func verifierKeys(_ keys: SigningKeyRing) -> [NoteVerifierKey] {
        keys.keys.compactMap { NoteSigner(name: keys.origin, seed: [UInt8]($0.seed))?.verifierKey }
    }

    /// Checks that the log extends a checkpoint signed earlier: its signature by one of `keys`,
    /// then a consistency proof from its tree size to the head, against its root. Returns
    /// the damage (`truncated_since_checkpoint`, `rewritten_since_checkpoint`), `nil` when
    /// the log extends it. Run it after a full verification, which proves that the stored
    /// Merkle tree is the one the entries make.
    public func checkExtends(_ note: SignedNote, keys: [NoteVerifierKey]) throws(CareTrailError) -> ChainProblem? {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(text: note.text)
        } catch {
            throw CareTrailError(code: .invalidArgument, message: "the note is not a checkpoint (\(error.rawValue))")
        }
        guard keys.contains(where: { (try? note.verify(with: $0)) != nil }) else {
            let names = Set(keys.map(\.name)).sorted().joined(separator: ", ")
            throw CareTrailError(
                code: .invalidArgument,
                message:
                    "the checkpoint of \(checkpoint.origin) at size \(checkpoint.size) has no good signature by the keys given (\(names))")
        }
        let head = try storeCall { () throws(StoreError) in try store.head()?.seq ?? 0 }
        guard checkpoint.size <= head else {
            return ChainProblem(
                kind: .truncatedSinceCheckpoint, seq: head + 1,
                message: "the log holds \(head) entries; a checkpoint signed earlier covered \(checkpoint.size)")
        }
        guard checkpoint.size > 0 else { return nil }
        let proof = try consistencyProof(from: checkpoint.size, to: head)
        do {
            try MerkleProof.verifyConsistency(
                from: checkpoint.size, to: head, oldRoot: checkpoint.root, newRoot: proof.toRoot, proof: proof.hashes)
            return nil
        } catch {
            return ChainProblem(
                kind: .rewrittenSinceCheckpoint, seq: checkpoint.size,
                message: "the first \(checkpoint.size) entries are not the ones a checkpoint signed earlier covered (\(error.rawValue))")
        }
    }
}
