public import AuditStorage
import Foundation
import Synchronization

/// Follows the log into one destination until stopped: delivers the backlog at full speed,
/// then new entries as they are appended (polling every ``pollInterval``), sends a checkpoint
/// every ``checkpointInterval`` even when idle, and after a failure reconnects with
/// exponential backoff (0.5 s doubling to 30 s) and jitter. ``stop()`` lets the chunk in
/// flight be confirmed or abandoned, so the cursor stays consistent.
public final class SIEMFollower: Sendable {
    public let target: SIEMTarget
    public let store: any EntryReading & StreamCursors
    public let renderer: SIEMRenderer
    public let checkpointInterval: Double
    public let pollInterval: Double
    public let entriesPerConfirmation: Int
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    public init(
        target: SIEMTarget, store: any EntryReading & StreamCursors, renderer: SIEMRenderer, checkpointInterval: Double = 60,
        pollInterval: Double = 0.2,
        entriesPerConfirmation: Int = 10_000
    ) {
        self.target = target
        self.store = store
        self.renderer = renderer
        self.checkpointInterval = checkpointInterval
        self.pollInterval = pollInterval
        self.entriesPerConfirmation = max(1, entriesPerConfirmation)
    }

    public var isStopping: Bool { stopping.load(ordering: .sequentiallyConsistent) }

    /// Asks the loop to stop after the chunk in flight.
    public func stop() { stopping.store(true, ordering: .sequentiallyConsistent) }

    /// Runs the loop on a thread of its own (it blocks on sockets and the disk); ``stopAndWait()``
    /// ends it. `report` receives each failure, in words fit for a log (no entry content).
    public func start(fromSeq: Int64? = nil, report: @escaping @Sendable (SIEMError, Double) -> Void) {
        guard !started.exchange(true, ordering: .sequentiallyConsistent) else { return }
        let thread = Thread { [self] in
            run(fromSeq: fromSeq, report: report)
            done.signal()
        }
        thread.name = "caretrail-stream"
        thread.start()
    }

    /// Stops the loop started by ``start(fromSeq:report:)`` and waits for it to end.
    public func stopAndWait() {
        stop()
        if started.load(ordering: .sequentiallyConsistent) { done.wait() }
    }

    /// The loop itself, on the calling thread, until ``stop()``. `report` gets each failure
    /// and the seconds until the next attempt.
    public func run(fromSeq: Int64? = nil, report: (SIEMError, Double) -> Void) {
        var fromSeq = fromSeq
        var backoff = 0.5
        var lastCheckpoint = Date.distantPast
        while !isStopping {
            do throws(SIEMError) {
                let destination = try target.open()
                defer { destination.close() }
                while !isStopping {
                    let due = Date().timeIntervalSince(lastCheckpoint) >= checkpointInterval
                    if let start = fromSeq {
                        // Starting elsewhere moves the cursor there, so a failure resumes from what was confirmed.
                        do {
                            try store.setStreamCursor(destination.name, to: start - 1)
                        } catch {
                            throw SIEMError(code: .store, message: "cannot record the stream cursor: \(error.message)")
                        }
                        fromSeq = nil
                    }
                    var streamer = SIEMStreamer(store: store, renderer: renderer, destination: destination)
                    streamer.entriesPerConfirmation = entriesPerConfirmation
                    let delivered = try streamer.deliverBacklog(checkpoint: due, stop: { self.isStopping })
                    backoff = 0.5
                    if due { lastCheckpoint = Date() }
                    if delivered == 0 { pause(pollInterval) }
                }
            } catch {
                let wait = backoff * Double.random(in: 0.5...1.5)
                report(error, wait)
                pause(wait)
                backoff = min(backoff * 2, 30)
            }
        }
    }

    /// Sleeps up to `seconds`, waking early when stopped.
    private func pause(_ seconds: Double) {
        let end = Date().addingTimeInterval(seconds)
        while !isStopping, Date() < end { Thread.sleep(forTimeInterval: min(0.05, max(0, end.timeIntervalSinceNow))) }
    }
}
