public import AuditAnalysis
public import AuditChain
public import AuditCore
import AuditStorage
import Foundation

extension AuditLog {
    /// The retention policy in force and its version: the sequence number of the
    /// configuration entry that set it (0 for the defaults).
    public var retentionPolicy: (policy: RetentionPolicy, version: Int64) {
        let (configuration, seq) = configurationInForce.currentAndSeq
        return (configuration.retention, seq)
    }

    /// Places a legal hold, chained; returns it.
    @discardableResult
    public func placeHold(_ scope: LegalHold.Scope, reason: String, by user: String) throws(CareTrailError) -> LegalHold {
        let who = user.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !who.isEmpty, who.utf8.count <= 256 else {
            throw CareTrailError(code: .invalidArgument, message: "--by: who places the hold is required (at most 256 bytes)")
        }
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard why.count >= 3, why.utf8.count <= 4096 else {
            throw CareTrailError(code: .invalidArgument, message: "--reason: say why the hold is placed (3 to 4096 characters)")
        }
        switch scope {
        case .patient(let patient):
            guard !patient.isEmpty, patient.utf8.count <= IngestLimits.identifierBytes else {
                throw CareTrailError(code: .invalidArgument, message: "--patient: a patient id of 1 to 256 bytes")
            }
        case .range(let first, let last):
            guard first >= 1, first <= last else {
                throw CareTrailError(code: .invalidArgument, message: "--range: FIRST..LAST with 1 <= FIRST <= LAST")
            }
        }
        let content = LegalHold.placing(scope, reason: sanitizer.scrubNote(why), by: who, keyID: sanitizer.pseudonymizer.keyID)
        let head = try appendOwn(content)
        guard let hold = try holds().first(where: { $0.seq == head.seq }) else {
            throw CareTrailError(code: .store, message: "the hold was chained but cannot be read back")
        }
        return hold
    }

    /// Releases the hold `id` (`hold-<seq>` or the seq), chained.
    @discardableResult
    public func releaseHold(id: String, by user: String) throws(CareTrailError) -> LegalHold {
        let who = user.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !who.isEmpty, who.utf8.count <= 256 else {
            throw CareTrailError(code: .invalidArgument, message: "--by: who releases the hold is required (at most 256 bytes)")
        }
        guard let seq = LegalHold.seq(fromID: id) else {
            throw CareTrailError(code: .invalidArgument, message: "ID: a hold id such as hold-42")
        }
        guard let hold = try holds().first(where: { $0.seq == seq }) else {
            throw CareTrailError(code: .notFound, message: "no legal hold hold-\(seq)")
        }
        guard hold.isActive else {
            throw CareTrailError(code: .invalidArgument, message: "\(hold.id) was released already")
        }
        _ = try appendOwn(LegalHold.releasing(seq: seq, by: who, keyID: sanitizer.pseudonymizer.keyID))
        guard let released = try holds().first(where: { $0.seq == seq }) else {
            throw CareTrailError(code: .store, message: "the release was chained but cannot be read back")
        }
        return released
    }

    /// Every legal hold, placed and released, in the order placed.
    public func holds() throws(CareTrailError) -> [LegalHold] {
        try storeCall { () throws(StoreError) in LegalHold.holds(from: try store.entries(kind: .legalHold)) }
    }

    /// What a retention run did, or would do.
    public struct RetentionRun: Sendable {
        public var plan: RetentionPlan
        /// The purge record, when the run deleted anything (not for a dry run).
        public var record: ChainHead?
        /// How many of the deleted entries had their content in the archive.
        public var archived = 0

        public init(plan: RetentionPlan, record: ChainHead?, archived: Int = 0) {
            self.plan = plan
            self.record = record
            self.archived = archived
        }
    }

    /// Deletes the content of every entry whose category's period has ended at the log's
    /// clock and that no legal hold keeps, and chains a `retention_purge` record, in one
    /// transaction. With `dryRun`, only plans. Entries of the block still filling are left to
    /// a later run.
    public func runRetention(dryRun: Bool) throws(CareTrailError) -> RetentionRun {
        let (policy, version) = retentionPolicy
        let holds = LegalHolds(try holds())
        let now = store.clock()
        let plan = try storeCall { () throws(StoreError) in
            try RetentionPlan.make(
                reading: store, policy: policy, policyVersion: version, holds: holds, now: now, through: try store.purgeableThrough())
        }
        guard !dryRun, !plan.ranges.isEmpty else { return RetentionRun(plan: plan, record: nil) }
        let keyID = sanitizer.pseudonymizer.keyID
        let head = try storeCall { () throws(StoreError) in
            try store.purge(plan.ranges) { sealed in
                EncodedEntry(
                    RetentionPurge(
                        ranges: sealed, deleted: plan.deleted, held: plan.held, policyVersion: version, judgedAt: now.description
                    ).content(keyID: keyID))
            }
        }
        return RetentionRun(plan: plan, record: head)
    }
}
