public import AuditChain
public import AuditKeys
import Foundation
import Synchronization

/// Signs a checkpoint of the log at a fixed interval, even when the log is idle, and keeps the
/// latest one for readers: what `caretrail serve` publishes at `GET /v1/checkpoint`.
///
/// An idle log is not grown by its checkpoints (see ``AuditLog/signCheckpoint(keys:now:)``):
/// each interval then re-signs the same tree size with a fresh cosignature time, which is how
/// a reader tells a current checkpoint from a replayed old one.
public final class CheckpointSchedule: Sendable {
    public let log: AuditLog
    public let keys: SigningKeyRing
    /// Seconds between two checkpoints.
    public let interval: Double
    private let latestSigned = Mutex<SignedCheckpoint?>(nil)

    public init(log: AuditLog, keys: SigningKeyRing, interval: Double) {
        self.log = log
        self.keys = keys
        self.interval = interval
    }

    /// The latest checkpoint signed, if any.
    public var latest: SignedCheckpoint? { latestSigned.withLock { $0 } }

    /// The verifier key of the current signing key.
    public var verifierKey: NoteVerifierKey? { try? AuditLog.signer(keys).verifierKey }

    /// Signs one now and keeps it.
    @discardableResult
    public func signNow() throws(CareTrailError) -> SignedCheckpoint {
        let signed = try log.signCheckpoint(keys: keys)
        latestSigned.withLock { $0 = signed }
        return signed
    }

    /// Signs one at once, then one every `interval` seconds, until the task is cancelled.
    /// A failure (a full disk, a busy database) is reported through `onFailure` and retried at
    /// the next interval: the last good checkpoint stays published meanwhile.
    public func run(onFailure: @Sendable (CareTrailError) -> Void) async {
        await repeating(every: interval, { () throws(CareTrailError) in _ = try signNow() }, onFailure: onFailure)
    }
}
