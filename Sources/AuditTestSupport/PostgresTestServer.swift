public import Foundation
import Synchronization

/// A throwaway PostgreSQL cluster for tests: `initdb` in a temporary folder, `pg_ctl start` on a
/// loopback port (18,000–18,999, a range no other test listens in), trust authentication for
/// the `postgres` superuser, stopped and removed by ``stop()``. Run as root, the cluster runs
/// as the `postgres` user, as PostgreSQL requires.
public final class PostgresTestServer: Sendable {
    public let port: Int
    public let folder: URL
    private let bin: String

    /// The superuser's URL of the `postgres` database.
    public var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    /// The folder of PostgreSQL's programs (the newest installed major version), if any.
    public static var binaries: String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted().last.map { "\(root)/\($0)/bin" }
            .flatMap { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") ? $0 : nil }
    }

    private init(port: Int, folder: URL, bin: String) {
        self.port = port
        self.folder = folder
        self.bin = bin
    }

    /// Creates and starts a cluster; throws when PostgreSQL is not installed or will not start.
    public static func start() throws -> PostgresTestServer {
        guard let bin = binaries else { throw Failure(message: "PostgreSQL is not installed (apt-get install postgresql-15)") }
        let folder = temporaryFolder()
        let data = folder.appendingPathComponent("pg")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        if getuid() == 0 {
            _ = try runProgram(["chown", "-R", "postgres", folder.path])
        }
        let initdb = try run(bin + "/initdb", ["-D", data.path, "-A", "trust", "-U", "postgres", "--no-sync"])
        guard initdb.status == 0 else { throw Failure(message: "initdb failed: \(initdb.output)") }
        var last = ""
        for _ in 0..<20 {
            let port = Int.random(in: 18_000...18_999)
            let started = try runDetached(
                bin + "/pg_ctl",
                [
                    "-D", data.path, "-l", data.appendingPathComponent("log").path, "-w", "-t", "60", "-o",
                    // The socket goes to /tmp: a path inside the test folder is longer than a
                    // Unix socket's name may be.
                    "-p \(port) -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on", "start",
                ])
            if started == 0 { return PostgresTestServer(port: port, folder: folder, bin: bin) }
            last = (try? String(contentsOf: data.appendingPathComponent("log"), encoding: .utf8)) ?? ""
        }
        throw Failure(message: "PostgreSQL did not start on any port tried: \(last)")
    }

    /// Stops the cluster (fast shutdown) and removes its folder.
    public func stop() {
        _ = try? Self.runDetached(bin + "/pg_ctl", ["-D", folder.appendingPathComponent("pg").path, "-m", "fast", "-w", "stop"])
        try? FileManager.default.removeItem(at: folder)
    }

    /// One cluster shared by a test process's tests that need only a database of their own
    /// (``newDatabase()``); started on first use, stopped when the process exits.
    public static func shared() throws -> PostgresTestServer {
        try sharedServer.withLock { server in
            if let server { return server }
            let started = try start()
            server = started
            atexit { PostgresTestServer.stopShared() }
            return started
        }
    }

    private static let sharedServer = Mutex<PostgresTestServer?>(nil)

    private static func stopShared() {
        sharedServer.withLock { server in
            server?.stop()
            server = nil
        }
    }

    /// Creates an empty database in the cluster; returns the superuser's URL of it.
    public func newDatabase() throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let created = try psql("CREATE DATABASE \(name)")
        guard created.status == 0 else { throw Failure(message: "cannot create a database: \(created.output)") }
        return "postgres://postgres@127.0.0.1:\(port)/\(name)"
    }

    /// Runs `psql` as the superuser with `sql`; returns its status and output.
    public func psql(_ sql: String, user: String = "postgres") throws -> (status: Int32, output: String) {
        try runProgram(["psql", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", sql])
    }

    /// Runs `pg_ctl` with its output discarded, and returns its exit status. The server it
    /// starts keeps the standard output it inherited open, so a pipe would never reach its end,
    /// and Foundation's `Process` did not see `runuser` exit once the server ran beside it: the
    /// child is spawned and waited for directly.
    private static func runDetached(_ program: String, _ arguments: [String]) throws -> Int32 {
        let argv = (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", program] : [program]) + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor in [Int32(1), 2] {
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0)
        }
        var pid: pid_t = 0
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        guard posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ) == 0 else {
            throw Failure(message: "cannot run \(argv[0])")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// Runs a PostgreSQL program, as the `postgres` user when the tests run as root.
    private static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        if getuid() == 0 { return try runProgram(["runuser", "-u", "postgres", "--", program] + arguments) }
        return try runProgram([program] + arguments)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
