import AuditChain
import AuditStorage
import CareTrail
import Dispatch
import Synchronization

/// What `/health` answers, without ever taking SQLite's write lock or blocking a request
/// thread: a log is ready while its last append succeeded and its head can be read.
///
/// The head is read on a queue of its own and waited for at most ``readTimeout``; a read that
/// does not finish in time (the disk stalls, another process holds a lock for long) makes the
/// answer 503 rather than holding the caller. Anonymous callers cannot queue work behind the
/// writer this way: at most one read is in flight, and callers meanwhile get the last answer.
final class HealthState: Sendable {
    struct Reading: Sendable {
        var head: ChainHead?
        var readable: Bool
    }

    private let store: any EntryReading
    private let lastAppendFailed = Atomic(false)
    private let reading = Mutex<(last: Reading, inFlight: Bool)>((Reading(head: nil, readable: true), false))
    private let queue = DispatchQueue(label: "caretrail.health")

    /// How long `/health` waits for the head.
    static let readTimeout: Duration = .milliseconds(500)

    init(store: any EntryReading) {
        self.store = store
    }

    /// Called after each append over HTTP.
    func appendFinished(succeeded: Bool) {
        lastAppendFailed.store(!succeeded, ordering: .relaxed)
    }

    var appendsFailing: Bool { lastAppendFailed.load(ordering: .relaxed) }

    /// The head and whether it could be read, within ``readTimeout``.
    func read() async -> Reading {
        let start = reading.withLock { state -> Bool in
            if state.inFlight { return false }
            state.inFlight = true
            return true
        }
        if !start { return reading.withLock { $0.last } }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Reading, Never>) in
            let answer = OneAnswer(continuation)
            queue.async {
                let result: Reading
                do {
                    result = Reading(head: try self.store.head(), readable: true)
                } catch {
                    result = Reading(head: nil, readable: false)
                }
                self.reading.withLock { $0 = (result, false) }
                answer.give(result)
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(500)) {
                let last = self.reading.withLock { $0.last }
                answer.give(Reading(head: last.head, readable: false))
            }
        }
    }
}

/// Resumes a continuation with the first answer given; later answers are dropped.
private final class OneAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<HealthState.Reading, Never>?>

    init(_ continuation: CheckedContinuation<HealthState.Reading, Never>) {
        self.continuation = Mutex(continuation)
    }

    func give(_ reading: HealthState.Reading) {
        let waiting = continuation.withLock { value -> CheckedContinuation<HealthState.Reading, Never>? in
            defer { value = nil }
            return value
        }
        waiting?.resume(returning: reading)
    }
}
