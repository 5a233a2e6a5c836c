import AuditCore
import Hummingbird
import NIOCore
import Synchronization

/// How many heavy requests (full verifications, exports) may run at once. One more is
/// answered 429 with `Retry-After` rather than queued: each holds a thread and reads the
/// whole log.
final class ConcurrencyLimit: Sendable {
    private let running = Atomic(0)
    let maximum: Int
    let code: String
    let what: String

    init(maximum: Int, code: String, what: String) {
        self.maximum = maximum
        self.code = code
        self.what = what
    }

    /// Takes a slot, or throws 429 when all are taken. Call ``release()`` when done.
    func acquire() throws {
        let (before, _) = running.wrappingAdd(1, ordering: .acquiringAndReleasing)
        if before >= maximum {
            running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            throw APIError(
                .tooManyRequests, code: code, message: "\(what) already running here (at most \(maximum)); retry later",
                retryAfter: 5
            )
        }
    }

    func release() {
        running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
    }

    var inUse: Int { running.load(ordering: .relaxed) }
}

extension Request {
    /// The body, up to `limit` bytes, within `seconds`: a client that sends it slower than
    /// that gets 408 rather than holding the connection. A larger body is a 413.
    mutating func collectBody(upTo limit: Int, within seconds: Int) async throws -> ByteBuffer {
        let request = self
        let body = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var copy = request
                return try await copy.collectBody(upTo: limit)
            }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let body = first else {
                throw APIError(.requestTimeout, code: "body_timeout", message: "the request body did not arrive within \(seconds) seconds")
            }
            return body
        }
        return body
    }
}
