import AuditAnalysis
public import AuditChain
public import AuditCore
public import AuditKeys
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
    /// The cold archive reads go through, when one is attached.
    let attachedArchive = Mutex<AttachedArchive?>(nil)

    init(store: any AuditStore, keyRing: KeyRing, monitor: AlertMonitor, configurationInForce: ConfigurationInForce) {
        self.store = store
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

    /// Creates a new database and a new key file (mode 0600). Refuses to overwrite either.
    ///
    /// `postingBlockShift` sets how many entries (2^shift) make a block of posting lists, and
    /// `postingSpanShift` how many blocks (2^shift) are merged into a span; the defaults suit
    /// production, tests use small blocks and spans.
    public static func create(
        database path: String, keyFile: String? = nil, policy: SanitizerPolicy? = nil,
        clock: @escaping @Sendable () -> Timestamp = SystemClock.now, postingBlockShift: Int = 12,
        postingSpanShift: Int = 4
    ) throws(CareTrailError) -> AuditLog {
        let keyPath = keyFile ?? defaultKeyFile(forDatabase: path)
        if FileManager.default.fileExists(atPath: path) {
            throw CareTrailError(code: .store, message: "a file already exists at \(path)")
        }
        let ring = KeyRing.generate()
        do {
            try ring.save(to: URL(fileURLWithPath: keyPath), overwrite: false)
        } catch {
            throw CareTrailError(code: .keyFile, message: error.message)
        }
        do {
            let inForce = ConfigurationInForce()
            let monitor = AlertMonitor(publishingTo: inForce)
            let store = try SQLiteStore.create(
                at: path, clock: clock, observer: monitor, postingBlockShift: postingBlockShift, postingSpanShift: postingSpanShift
            )
            let log = AuditLog(store: store, keyRing: ring, monitor: monitor, configurationInForce: inForce)
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

    /// Opens an existing database with its key file.
    /// `busyTimeout` is how many seconds a write waits for another process's lock before it
    /// fails.
    public static func open(
        database path: String, keyFile: String? = nil, policy: SanitizerPolicy? = nil,
        clock: @escaping @Sendable () -> Timestamp = SystemClock.now, busyTimeout: Double = 30
    ) throws(CareTrailError) -> AuditLog {
        let store: SQLiteStore
        let inForce = ConfigurationInForce()
        let monitor = AlertMonitor(publishingTo: inForce)
        do {
            store = try SQLiteStore.open(at: path, clock: clock, observer: monitor, busyTimeout: busyTimeout)
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
            ring = try KeyRing.load(from: URL(fileURLWithPath: keyFile ?? defaultKeyFile(forDatabase: path)))
        } catch {
            throw CareTrailError(code: .keyFile, message: error.message)
        }
        let log = AuditLog(store: store, keyRing: ring, monitor: monitor, configurationInForce: inForce)
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
