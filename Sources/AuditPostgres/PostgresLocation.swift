public import AuditStorage
import Foundation
import NIOSSL
import PostgresNIO

/// A PostgreSQL database as users name it: `postgres://user[:password]@host[:port]/dbname`
/// (`postgresql://` too). The password never appears in ``description``, logs or errors.
public struct PostgresLocation: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String

    /// Whether `text` names a PostgreSQL database rather than a file.
    public static func isPostgres(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Reads a `postgres://` URL; throws ``StoreError/Code/outOfRange`` naming what is wrong.
    public init(url text: String) throws(StoreError) {
        guard Self.isPostgres(text), text.utf8.count <= 2048, let url = URLComponents(string: text), let host = url.host,
            !host.isEmpty
        else {
            throw StoreError(code: .outOfRange, message: "--db: expected postgres://user@host[:port]/dbname")
        }
        guard let user = url.user, !user.isEmpty else {
            throw StoreError(code: .outOfRange, message: "--db: the PostgreSQL URL names no user")
        }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw StoreError(code: .outOfRange, message: "--db: the PostgreSQL URL names no database")
        }
        let port = url.port ?? 5432
        guard (1...65_535).contains(port) else { throw StoreError(code: .outOfRange, message: "--db: the port must be 1 to 65535") }
        self.host = host
        self.port = port
        self.user = user
        self.password = url.password
        self.database = database
    }

    /// The URL without its password.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// The connection's settings: plain TCP on loopback, TLS required elsewhere.
    func configuration() throws(StoreError) -> PostgresConnection.Configuration {
        let loopback = host == "127.0.0.1" || host == "localhost" || host == "::1"
        let tls: PostgresConnection.Configuration.TLS
        if loopback {
            tls = .disable
        } else {
            do {
                tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            } catch {
                throw StoreError(code: .readFailed, message: "cannot set up TLS for \(description)")
            }
        }
        return PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }
}
