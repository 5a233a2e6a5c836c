public import AuditChain
public import AuditCore
public import AuditKeys
import AuditStorage

extension AuditLog {
    /// A bundle of every entry about a patient whose event time lies in `from...to` (the
    /// entries a patient access report lists: accesses, alerts and reviews), with their
    /// inclusion proofs and a checkpoint signed now: what an auditor checks offline with
    /// ``LogBundle/verified(_:key:)`` and the log's verifier key.
    public func bundle(
        _ subject: ReportSubject, from: Timestamp?, to: Timestamp?, keys: SigningKeyRing
    ) throws(CareTrailError) -> LogBundle {
        let signed = try signCheckpoint(keys: keys)
        let size = signed.checkpoint.size
        let key = patientKey(subject)
        return try storeCall { () throws(StoreError) -> LogBundle in
            var seqs: [Int64] = []
            try reader.forEachAccess(to: key, from: from, to: to, through: size) { row in seqs.append(row.seq) }
            let hasher = EntryHasher()
            var canonical: [[UInt8]] = []
            canonical.reserveCapacity(seqs.count)
            for seq in seqs {
                guard let entry = try reader.entry(seq: seq) else {
                    throw StoreError(code: .readFailed, message: "entry \(seq) vanished while the bundle was made")
                }
                let bytes = hasher.canonicalBytes(seq: seq, recordedAt: entry.recordedAt, prevHash: entry.prevHash, content: entry.content)
                guard bytes.withUnsafeBufferPointer(CanonicalEntry.hash) == entry.entryHash else {
                    throw StoreError(code: .readFailed, message: "entry \(seq) does not hash to its stored hash; run caretrail verify")
                }
                canonical.append(bytes)
            }
            let proofs = try store.inclusionProofs(seqs: seqs, treeSize: size)
            return LogBundle(
                note: signed.note, checkpoint: signed.checkpoint, verifierKey: signed.verifierKey, from: from?.description,
                to: to?.description, entries: Array(zip(canonical, proofs)).map { (canonical: $0.0, proof: $0.1) })
        }
    }
}
