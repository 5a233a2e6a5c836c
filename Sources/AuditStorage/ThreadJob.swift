import Foundation

/// Work run on a thread of its own, for a caller that blocks until it is done.
///
/// Dispatch's global queues have about as many threads as cores on Linux, and a thread that
/// blocks does not make them start another. A dispatch worker that waits for work queued
/// behind it can therefore wait forever: an ingest on two cores did, its insert thread and
/// its prefetch thread both waiting for preparation that no thread was left to run.
package struct ThreadJob: Sendable {
    private let finished: DispatchSemaphore

    /// Starts `body` on a new thread.
    package static func start(_ body: @escaping @Sendable () -> Void) -> ThreadJob {
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            finished.signal()
        }
        // Preparation parses nested JSON: more stack than a secondary thread's default.
        thread.stackSize = 8 << 20
        thread.start()
        return ThreadJob(finished: finished)
    }

    /// Blocks until the work is done.
    package func wait() {
        finished.wait()
    }
}
