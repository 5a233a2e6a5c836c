import AuditAnalysis
public import AuditArchive
public import AuditCore
public import AuditKeys
import Foundation
import Synchronization

/// Runs retention at a fixed interval, off the request path: what `caretrail serve` does
/// daily by default. With an archive, each run first moves the entries older than the hot
/// period to it, then deletes expired entries in the hot log and the archive alike. It keeps
/// counts for `/metrics`.
public final class RetentionSchedule: Sendable {
    public let log: AuditLog
    /// Seconds between two runs.
    public let interval: Double
    /// The archive each run fills and prunes, and the keys its checkpoints are signed with.
    public let archive: (destination: any ArchiveDestination, keys: SigningKeyRing)?

    /// What the runs so far did.
    public struct Status: Sendable, Hashable {
        public var runs = 0
        public var failures = 0
        /// Entries deleted by every run so far.
        public var deleted = 0
        /// Entries whose content runs moved to the archive.
        public var archived = 0
        /// Entries kept by legal holds at the last run.
        public var held = 0
        /// When the last successful run ended (the log's clock).
        public var lastRun: Timestamp?
    }

    private let state = Mutex(Status())

    public init(log: AuditLog, interval: Double, archive: (destination: any ArchiveDestination, keys: SigningKeyRing)? = nil) {
        self.log = log
        self.interval = interval
        self.archive = archive
    }

    /// The counts so far.
    public var status: Status { state.withLock { $0 } }

    /// Runs retention once now: with an archive, archiving first.
    @discardableResult
    public func runNow() async throws(CareTrailError) -> AuditLog.RetentionRun {
        do {
            var moved: Int64 = 0
            let run: AuditLog.RetentionRun
            if let archive {
                moved = try await log.archive(to: archive.destination, keys: archive.keys).withContent
                run = try await log.runRetention(dryRun: false, archive: archive.destination, keys: archive.keys)
                try await log.refreshArchive()
            } else {
                run = try log.runRetention(dryRun: false)
            }
            let now = log.now()
            state.withLock { status in
                status.runs += 1
                status.archived += Int(moved)
                status.deleted += run.plan.count
                status.held = run.plan.held
                status.lastRun = now
            }
            return run
        } catch {
            state.withLock { $0.failures += 1 }
            throw error
        }
    }

    /// Runs once at once, then every `interval` seconds, until the task is cancelled. A
    /// failure is reported through `onFailure` and tried again at the next interval.
    public func run(onFailure: @Sendable (CareTrailError) -> Void) async {
        await repeating(every: interval, { () async throws(CareTrailError) in _ = try await runNow() }, onFailure: onFailure)
    }
}
