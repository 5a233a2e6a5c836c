import AuditAnalysis
public import AuditCore
import Foundation
import Synchronization

/// Runs retention at a fixed interval, off the request path: what `caretrail serve` does
/// daily by default. It keeps counts for `/metrics`.
public final class RetentionSchedule: Sendable {
    public let log: AuditLog
    /// Seconds between two runs.
    public let interval: Double

    /// What the runs so far did.
    public struct Status: Sendable, Hashable {
        public var runs = 0
        public var failures = 0
        /// Entries deleted by every run so far.
        public var deleted = 0
        /// Entries kept by legal holds at the last run.
        public var held = 0
        /// When the last successful run ended (the log's clock).
        public var lastRun: Timestamp?
    }

    private let state = Mutex(Status())

    public init(log: AuditLog, interval: Double) {
        self.log = log
        self.interval = interval
    }

    /// The counts so far.
    public var status: Status { state.withLock { $0 } }

    /// Runs retention once now.
    @discardableResult
    public func runNow() throws(CareTrailError) -> AuditLog.RetentionRun {
        do {
            let run = try log.runRetention(dryRun: false)
            let now = log.now()
            state.withLock { status in
                status.runs += 1
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
        await repeating(every: interval, { () throws(CareTrailError) in _ = try runNow() }, onFailure: onFailure)
    }
}
