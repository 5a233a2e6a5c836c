import AuditAnalysis
public import AuditChain
public import AuditCore
public import AuditKeys
import AuditPostgres
import AuditSQLite
public import AuditStorage
import Foundation
import Synchronization

/// An audit log that agents record into: the store, the pseudonymisation keys and the
/// sanitizer together. Everything appended through it is sanitised first.
///
/// ```swift
/// let log = try AuditLog.open(database: "audit.sqlite")
/// let head = try await log.record(.toolCall(call))
/// ```
public final class AuditLog: Sendable {
    /// The hash-chained store: a backend behind the storage protocols. Private to the
    /// library: everything that reaches it goes through the sanitizer and the log's rules.
    let store: any AuditStore
    /// Every pseudonymisation key, and the current one.
    public let keyRing: KeyRing
    /// The sanitizer, with the current key and the log's chained policy (rebuilt when a
    /// `config` entry changes the policy).
    public var sanitizer: Sanitizer {
        let (configuration, seq) = configurationInForce.currentAndSeq
        return sanitizerCache.withLock { cache in
            if let cached = cache, cached.seq == seq { return cached.sanitizer }
            let sanitizer = Sanitizer(policy: configuration.sanitizerPolicy, pseudonymizer: keyRing.current)
            cache = (seq, sanitizer)
            return sanitizer
        }
    }
    private let sanitizerCache = Mutex<(seq: Int64, sanitizer: Sanitizer)?>(nil)
    /// Live anomaly detection, run inside every append; it publishes each configuration
    /// change it sees in the chain to ``configurationInForce``.
    let monitor: AlertMonitor
    /// The configuration in force, which ingest validation and the sanitizer read.
    let configurationInForce: ConfigurationInForce
    /// API keys looked up recently by ``authenticate(secret:)``.
    let apiKeyCache = APIKeyCache()
    /// The alerts and reviews read so far (see ``alerts()``).
    let alertHistory = Mutex<AlertHistory?>(nil)
    /// The cold archive reads go through, when one is attached.
    let attachedArchive = Mutex<AttachedArchive?>(nil)
    /// The path files that belong to the log are named after when none is given (signing
    /// keys, the archive cache): the database file, or for a PostgreSQL log its key file.
    let sidecarBase: String
    /// The key file the ring was read from (or written to).
    public let keyRingPath: String

    init(
        store: any AuditStore, keyRing: KeyRing, monitor: AlertMonitor, configurationInForce: ConfigurationInForce, sidecarBase: String,
        keyRingPath: String
    ) {
        self.store = store
        self.sidecarBase = sidecarBase
        self.keyRingPath = keyRingPath
        self.keyRing = keyRing
        self.monitor = monitor
        self.configurationInForce = configurationInForce
    }

    /// Refuses to run a sanitizer policy other than the log's: a process given one must find
    /// it chained already (`caretrail config set`), so nobody runs a weaker policy unseen.
    func requirePolicy(_ policy: SanitizerPolicy?) throws(CareTrailError) {
        guard let policy, policy != configuration.sanitizerPolicy else { return }
        throw CareTrailError(
            code: .invalidArgument,
            message: "--policy: the policy differs from the one chained in the log; chain it first with "
                + "'caretrail config set' (member sanitizer_policy), which records who changed it"
        )
    }

    /// The key file used when none is named: beside the database, `<database>.keys.json`.
    /// Production deployments should keep it elsewhere (a secrets mount), away from backups
    /// of the database.
    public static func defaultKeyFile(forDatabase path: String) -> String {
        path + ".keys.json"
    }

    /// Whether `database` names a PostgreSQL log (`postgres://…`) rather than a SQLite file.
    public static func isPostgres(_ database: String) -> Bool {
        PostgresLocation.isPostgres(database)
    }

    /// The key file of `database`: the one named, else the default beside a database file. A
    /// PostgreSQL log has no file to sit beside, so its key file must be named.
    static func keyFile(_ keyFile: String?, forDatabase database: String) throws(CareTrailError) -> String {
        if let keyFile { return keyFile }
        guard !isPostgres(database) else {
            throw CareTrailError(
                code: .invalidArgument, message: "--key-file: a PostgreSQL log needs its key file named (--key-file or CARETRAIL_KEY_FILE)")
        }
        return defaultKeyFile(forDatabase: database)
    }

    /// Creates a new log and a new key file (mode 0600). Refuses to overwrite either.
    ///
    /// `database` is a file path (SQLite), or a `postgres://user@host:port/dbname` URL with
    /// the owner's credentials: the schema, roles and triggers are installed there (see
    /// ``postgresGrants``), and the database must not hold a log yet.
    ///
    /// `postingBlockShift` sets how many entries (2^shift) make a block of posting lists, and
    /// `postingSpanShift` how many blocks (2^shift) are merged into a span; the defaults suit
    /// production, tests use small blocks and spans.
    public static func create(
        database path: String, keyFile: String? = nil, policy: SanitizerPolicy? = nil,
        clock: @escaping @Sendable () -> Timestamp = SystemClock.now, postingBlockShift: Int = 12,
        postingSpanShift: Int = 4
    ) throws(CareTrailError) -> AuditLog {
        try make(
            database: path, keyPath: try Self.keyFile(keyFile, forDatabase: path), ring: KeyRing.generate(), savingKeys: true,
            policy: policy,
            clock: clock, postingBlockShift: postingBlockShift, postingSpanShift: postingSpanShift)
    }

    /// Creates a new, empty log with the key ring `ring`, saved to `keyPath` when `savingKeys`.
    static func make(
        database path: String, keyPath: String, ring: KeyRing, savingKeys: Bool, policy: SanitizerPolicy?,
        clock: @escaping @Sendable () -> Timestamp, postingBlockShift: Int = 12, postingSpanShift: Int = 4
    ) throws(CareTrailError) -> AuditLog {
        let postgres = isPostgres(path)
        if !postgres, FileManager.default.fileExists(atPath: path) {
            throw CareTrailError(code: .store, message: "a file already exists at \(path)")
        }
        do {
            let inForce = ConfigurationInForce()
            let monitor = AlertMonitor(publishingTo: inForce)
            let store: any AuditStore
            if postgres {
                let postgresStore = try PostgresStore.connect(try PostgresLocation(url: path), clock: clock, observer: monitor)
                _ = try postgresStore.install()
                guard try postgresStore.head() == nil else {
                    throw CareTrailError(
                        code: .store, message: "\(postgresStore.location) already holds a log (its schema is now up to date)")
                }
                store = postgresStore
            } else {
                store = try SQLiteStore.create(
                    at: path, clock: clock, observer: monitor, postingBlockShift: postingBlockShift, postingSpanShift: postingSpanShift
                )
            }
            if savingKeys {
                do {
                    try ring.save(to: URL(fileURLWithPath: keyPath), overwrite: false)
                } catch {
                    throw CareTrailError(code: .keyFile, message: error.message)
                }
            }
            let log = AuditLog(
                store: store, keyRing: ring, monitor: monitor, configurationInForce: inForce, sidecarBase: postgres ? keyPath : path,
                keyRingPath: keyPath)
            if let policy, policy != .default {
                // A new log with its own policy: the policy is the chain's first configuration.
                try log.setConfiguration(LogConfiguration(sanitizerPolicy: policy), changedBy: "caretrail init")
            }
            return log
        } catch let error as CareTrailError {
            throw error
        } catch let error as StoreError {
            throw CareTrailError(error)
        } catch {
            throw CareTrailError(code: .store, message: "the log could not be created")
        }
    }

    /// What `create` grants in a PostgreSQL database, as `caretrail init` prints it.
    public static var postgresGrants: [String] { PostgresStore.granted }

    /// Opens an existing log (a database file, or a `postgres://` URL) with its key file.
    /// `busyTimeout` is how many seconds a write to a SQLite file waits for another process's
    /// lock before it fails.
    public static func open(
        database path: String, keyFile: String? = nil, policy: SanitizerPolicy? = nil,
        clock: @escaping @Sendable () -> Timestamp = SystemClock.now, busyTimeout: Double = 30
    ) throws(CareTrailError) -> AuditLog {
        let keyPath = try Self.keyFile(keyFile, forDatabase: path)
        let store: any AuditStore
        let inForce = ConfigurationInForce()
        let monitor = AlertMonitor(publishingTo: inForce)
        do {
            if isPostgres(path) {
                store = try PostgresStore.open(try PostgresLocation(url: path), clock: clock, observer: monitor)
            } else {
                store = try SQLiteStore.open(at: path, clock: clock, observer: monitor, busyTimeout: busyTimeout)
            }
            if let entry = try store.latest(.config) {
                monitor.prime(try LogConfiguration(entry: entry), seq: entry.seq)
            }
        } catch let error as StoreError {
            throw CareTrailError(error)
        } catch {
            throw CareTrailError(code: .store, message: "the log's configuration entry is unreadable: \(error)")
        }
        let ring: KeyRing
        do {
            ring = try KeyRing.load(from: URL(fileURLWithPath: keyPath))
        } catch {
            throw CareTrailError(code: .keyFile, message: error.message)
        }
        let log = AuditLog(
            store: store, keyRing: ring, monitor: monitor, configurationInForce: inForce, sidecarBase: isPostgres(path) ? keyPath : path,
            keyRingPath: keyPath)
        try log.requirePolicy(policy)
        return log
    }

    /// Sanitises and encodes one record; a late record carries `"late": true` in its body, and
    /// every record its retention category (``RetentionPolicy/bodyMember``), which replaces any
    /// member of that name the agent sent.
    func encode(_ record: IngestRecord, late: Bool, retention: RetentionPolicy) -> EncodedEntry {
        var content = sanitizer.sanitize(record)
        if late { content.body["late"] = .bool(true) }
        content.body[RetentionPolicy.bodyMember] = .string(retention.category(forTool: content.toolName).name)
        return EncodedEntry(content)
    }

    /// Records one record durably; returns its place in the chain.
    public func record(_ record: IngestRecord) async throws(CareTrailError) -> ChainHead {
        let receipt = try await self.record([record])
        guard let head = receipt.entries.first else {
            throw CareTrailError(code: .store, message: "the store acknowledged no entry")
        }
        return head
    }

    /// Records a batch durably and atomically (all of it or none), sharing the commit with
    /// concurrent callers: the same stages as every other way in, after decoding.
    public func record(_ records: [IngestRecord]) async throws(CareTrailError) -> AppendReceipt {
        guard !records.isEmpty else { throw CareTrailError.noRecords }
        let rules = IngestRules(configuration: configuration, now: store.clock())
        let prepared = records.enumerated().map { index, record in
            prepare(record, line: records.count > 1 ? index + 1 : nil, rules: rules)
        }
        return try await append(try Self.allPrepared(prepared))
    }

    /// The pseudonym of `value` under the current key, or under the key `keyID`.
    public func pseudonym(for value: String, keyID: String? = nil) -> String? {
        guard let keyID else { return keyRing.current.pseudonym(for: value) }
        return keyRing.pseudonymizer(keyID: keyID)?.pseudonym(for: value)
    }
}
