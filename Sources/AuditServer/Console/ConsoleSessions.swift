public import AuditStorage
public import Foundation
import Synchronization

/// A signed-in privacy officer's session: the key they signed in with, the form token every
/// form of the session carries, and when they were last seen.
public struct ConsoleSession: Sendable {
    /// The cookie's value; only its SHA-256 would be worth storing if sessions outlived the
    /// process, but they live in memory and die with it.
    public let token: String
    /// The CSRF token: a hidden field of every form, checked against the session on every POST.
    public let formToken: String
    public let key: APIKeyRecord
    /// Seconds since 1970 of the last request of the session.
    var lastSeen: TimeInterval
}

/// The console's sessions, in memory: a sign-in exchanges an API key for a random session
/// token, kept in an HttpOnly cookie. A session not used for `idleTimeout` seconds ends; a
/// restart of the server ends them all (officers sign in again, nothing else is lost).
public final class ConsoleSessions: Sendable {
    private let sessions = Mutex<[String: ConsoleSession]>([:])
    /// Seconds without a request after which a session ends.
    public let idleTimeout: TimeInterval
    private let clock: @Sendable () -> TimeInterval

    /// Sessions that end after `idleTimeout` seconds without a request (15 minutes unless set).
    public init(idleTimeout: TimeInterval = 900, clock: @escaping @Sendable () -> TimeInterval = { Date().timeIntervalSince1970 }) {
        self.idleTimeout = idleTimeout
        self.clock = clock
    }

    /// Opens a session for `key`.
    func open(for key: APIKeyRecord) -> ConsoleSession {
        let now = clock()
        let session = ConsoleSession(token: Self.randomToken(), formToken: Self.randomToken(), key: key, lastSeen: now)
        sessions.withLock { sessions in
            // Ended sessions are swept at each sign-in, so the table holds live ones only.
            sessions = sessions.filter { now - $0.value.lastSeen < idleTimeout }
            sessions[session.token] = session
        }
        return session
    }

    /// The live session of `token`, marked as seen now; `nil` when there is none or it idled out.
    func session(_ token: String) -> ConsoleSession? {
        let now = clock()
        return sessions.withLock { sessions in
            guard var session = sessions[token] else { return nil }
            guard now - session.lastSeen < idleTimeout else {
                sessions[token] = nil
                return nil
            }
            session.lastSeen = now
            sessions[token] = session
            return session
        }
    }

    /// Ends the session of `token`.
    func close(_ token: String) {
        _ = sessions.withLock { $0.removeValue(forKey: token) }
    }

    /// 32 random bytes from the system's secure generator, as 64 hex digits.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
