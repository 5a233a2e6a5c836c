import AuditStorage
import Foundation
import Synchronization

/// The API keys a server has looked up recently, so that a request does not read the key table
/// each time. An entry is trusted for ``lifetime`` seconds: a key revoked through this log stops
/// working at once (the revocation clears the cache); one revoked by another process (the
/// `caretrail keys revoke` command beside a running server) within that lifetime.
final class APIKeyCache: Sendable {
    /// How long a looked-up key is trusted without reading the table again.
    static let lifetime: Double = 1

    private struct Entry {
        let key: APIKeyRecord
        let fetched: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// The cached key with this id, if fetched within the lifetime.
    func key(id: String) -> APIKeyRecord? {
        entries.withLock { entries in
            guard let entry = entries[id] else { return nil }
            guard ContinuousClock.now - entry.fetched < .milliseconds(Int64(Self.lifetime * 1000)) else {
                entries[id] = nil
                return nil
            }
            return entry.key
        }
    }

    /// Remembers `key` as the table held it when it was read at `readAt`. The lifetime counts
    /// from the read, not from now: a read that began before a revocation is trusted until at
    /// most a lifetime after the revocation, however long the read took.
    func remember(_ key: APIKeyRecord, readAt: ContinuousClock.Instant) {
        entries.withLock { entries in
            // Bounded: a flood of ids cannot grow it without limit.
            if entries.count >= 4096 { entries.removeAll(keepingCapacity: true) }
            entries[key.id] = Entry(key: key, fetched: readAt)
        }
    }

    func forget(id: String) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }
}
