import AuditStorage
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// A thread for the store's derived work (posting compaction) that runs at a lower scheduling
/// priority than the threads answering requests.
///
/// Compacting a block of 65,536 entries (the size blocks had then) took about a second of one
/// core to read them and sort their postings. At the same priority it took that core from the
/// request handlers, and the
/// server's p99 latency at 5,000 requests/s doubled while it ran. At nice 10 it gets what the
/// handlers leave. Its writes must not run at that priority, though: appends queue behind a
/// write, so a write starved of CPU would stall them. They go to the writer's own queue
/// (``SQLiteStore/writeBeside(_:)``).
final class BackgroundThread: @unchecked Sendable {
    /// The one such thread of the process, shared by its stores.
    static let shared = BackgroundThread(name: "caretrail-background", nice: 10)

    private let name: String
    private let nice: Int32
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var jobs: [@Sendable () -> Void] = []
    private var started = false

    init(name: String, nice: Int32) {
        self.name = name
        self.nice = nice
    }

    /// Runs `job` on the thread, after the jobs given before it.
    func async(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        if !started {
            started = true
            let thread = Thread { [self] in run() }
            thread.name = name
            thread.start()
        }
        condition.signal()
        condition.unlock()
    }

    private func run() {
        #if os(Linux)
            // On Linux the nice value is per thread; `who` 0 is the calling thread.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
        #else
            Thread.current.qualityOfService = .utility
        #endif
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

/// A closure and its result, handed to the writer's queue and back; the semaphore orders the
/// accesses.
private final class WriteHandoff<T>: @unchecked Sendable {
    let body: (Database) throws -> T
    var result: Result<T, any Error>?
    let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping (Database) throws -> T) {
        self.body = body
    }
}

extension SQLiteStore {
    /// Runs `body` in a write transaction on the writer's own queue and waits for it: for work
    /// on the ``BackgroundThread``, whose low priority must not be the priority at which the
    /// writer is held. Never call it from inside a write.
    ///
    /// Its transactions hold derived data only (postings), so they commit with
    /// `synchronous=NORMAL`: no `fdatasync` of their own. The WAL is a sequence, so a crash
    /// can lose only its last transactions, never one in the middle, and the next append's
    /// commit (`synchronous=FULL`, restored at once) syncs them with its own frames. A lost
    /// compaction is done again from the entries. A file of 200,000 calls took about 3,000
    /// such syncs for its spans' rows, more than a second of waiting on this disk.
    func writeBeside<T>(_ body: @escaping (Database) throws -> T) throws -> T {
        let handoff = WriteHandoff(body)
        pool.asyncWriteWithoutTransaction { db in
            handoff.result = Result {
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
                var value: T?
                try db.inTransaction(.immediate) {
                    value = try handoff.body(db)
                    return .commit
                }
                guard let value else { throw StoreError(code: .appendFailed, message: "the write was not committed") }
                return value
            }
            handoff.done.signal()
        }
        handoff.done.wait()
        guard let result = handoff.result else { throw StoreError(code: .appendFailed, message: "the write did not run") }
        return try result.get()
    }
}
