import AuditStorage
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// A few connections to one database, lent one call at a time.
///
/// The storage ports are synchronous, as SQLite's calls are, so callers wait on postgres-nio's
/// futures. Those run on an event loop group of the pool's own, never on the caller's thread or
/// on Swift's cooperative pool, so a caller that blocks cannot starve the work it waits for.
/// A connection that fails is closed and replaced on its next loan.
final class PostgresConnectionPool: Sendable {
    let location: PostgresLocation
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let configuration: PostgresConnection.Configuration
    private let idle: NIOLockedValueBox<[PostgresConnection]>
    private let available: DispatchSemaphore
    private let nextID = NIOLockedValueBox(0)

    init(location: PostgresLocation, size: Int) throws(StoreError) {
        self.location = location
        self.configuration = try location.configuration()
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.idle = NIOLockedValueBox([])
        self.available = DispatchSemaphore(value: size)
        var logger = Logger(label: "caretrail.postgres")
        logger.logLevel = .critical
        self.logger = logger
    }

    /// Opens one connection now, so that a wrong URL or password fails at once.
    func check() throws(StoreError) {
        try withConnection { _ in }
    }

    /// Runs `body` with a connection of its own; the connection goes back to the pool after,
    /// unless it failed. Failures become read errors that name the server's reason.
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws(StoreError) -> T {
        do {
            return try lend(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(code: .readFailed, message: "the PostgreSQL log at \(location) failed: \(PostgresStore.reason(error))")
        }
    }

    /// Runs `body` with a connection of its own, passing its errors on as they are.
    func lend<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        available.wait()
        defer { available.signal() }
        let connection: PostgresConnection
        if let ready = idle.withLockedValue({ $0.popLast() }) {
            connection = ready
        } else {
            let id = nextID.withLockedValue { value in
                value += 1
                return value
            }
            do {
                connection = try PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger).wait()
            } catch {
                throw StoreError(code: .readFailed, message: "cannot connect to \(location): \(PostgresStore.reason(error))")
            }
        }
        defer {
            if connection.isClosed {
                _ = try? connection.close().wait()
            } else {
                idle.withLockedValue { $0.append(connection) }
            }
        }
        return try body(connection)
    }

    /// Closes every connection and the event loop.
    func close() {
        for connection in idle.withLockedValue({ connections in
            defer { connections = [] }
            return connections
        }) {
            _ = try? connection.close().wait()
        }
        try? group.syncShutdownGracefully()
    }
}

/// Synchronous queries on a connection, for the store's transactions.
extension PostgresConnection {
    /// Runs `query` and returns its rows.
    func rows(_ query: PostgresQuery, _ logger: Logger) throws -> [PostgresRow] {
        try self.query(query, logger: logger).wait().rows
    }

    /// Runs `query`, ignoring its rows.
    func run(_ query: PostgresQuery, _ logger: Logger) throws {
        _ = try self.query(query, logger: logger).wait()
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ logger: Logger, _ body: () throws -> T) throws -> T {
        try run("BEGIN", logger)
        do {
            let result = try body()
            try run("COMMIT", logger)
            return result
        } catch {
            _ = try? run("ROLLBACK", logger)
            throw error
        }
    }
}
