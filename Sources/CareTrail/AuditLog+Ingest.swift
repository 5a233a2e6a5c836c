import AuditAnalysis
public import AuditChain
public import AuditCore
public import AuditStorage
public import Foundation

/// What an ingest appended.
public struct IngestSummary: Sendable, Hashable {
    /// How many records were appended.
    public var appended: Int64
    /// How many alerts they raised (appended with them).
    public var alertsRaised: Int64 = 0
    /// The head after the ingest.
    public var head: ChainHead?
}

extension AuditLog {
    /// The most record errors an ingest reports before it stops looking.
    public static let maximumReportedErrors = 100

    /// Ingests JSON lines from a file (`path`) or standard input (`"-"`), all or nothing: when
    /// any line is bad, nothing is appended and every bad line (up to
    /// ``maximumReportedErrors``) is reported with its line number and field.
    ///
    /// Lines are parsed and sanitised in parallel, in chunks, inside one write transaction, so
    /// memory stays flat in the size of the input.
    public func ingest(path: String, chunkSize: Int = 4096) throws(CareTrailError) -> IngestSummary {
        let handle: FileHandle
        if path == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let file = FileHandle(forReadingAtPath: path) else {
                throw CareTrailError(code: .input, message: "cannot read \(path)")
            }
            handle = file
        }
        defer { if path != "-" { try? handle.close() } }
        return try ingest(handle: handle, chunkSize: chunkSize)
    }

    /// Ingests JSON lines from an open file handle; see ``ingest(path:chunkSize:)``.
    public func ingest(handle: FileHandle, chunkSize: Int = 4096) throws(CareTrailError) -> IngestSummary {
        let source = PreparedChunks(reader: JSONLinesReader(handle: handle), chunkSize: chunkSize, log: self)
        var errors: [IngestError] = []
        do {
            let (count, derived, head) = try store.appendAll { append in
                var current = try source.next()
                while let prepared = current {
                    // Read and prepare the next chunk on other threads while this one is inserted.
                    let prefetching = ThreadJob.start { source.prefetch() }
                    for case .failure(let error) in prepared where errors.count < Self.maximumReportedErrors {
                        errors.append(error)
                    }
                    // After the first bad line, keep reading only to report the others.
                    if errors.isEmpty {
                        try append(prepared.compactMap { try? $0.get() })
                    }
                    prefetching.wait()
                    if errors.count >= Self.maximumReportedErrors { break }
                    current = try source.takePrefetched()
                }
                if !errors.isEmpty { throw RollBack() }
            }
            if count == 0 { throw CareTrailError.noRecords }
            return IngestSummary(appended: count, alertsRaised: derived, head: head)
        } catch is RollBack {
            throw CareTrailError.invalidRecords(errors)
        } catch let error as CareTrailError {
            throw error
        } catch let error as StoreError {
            throw CareTrailError(error)
        } catch {
            throw CareTrailError(code: .input, message: "cannot read the input; nothing was appended")
        }
    }

    /// Parses, validates, sanitises and encodes a batch of JSON lines on every core, skipping
    /// bad lines. For benchmarks and callers that have validated their input already.
    public func encodeBatch(_ lines: [ArraySlice<UInt8>]) -> [EncodedEntry] {
        prepare(lines.enumerated().map { ($0.offset + 1, $0.element) }).compactMap { try? $0.get() }
    }

    /// Ingests a body of JSON lines (the HTTP API): the same pipeline as a file, all or
    /// nothing, appended through the group commit so concurrent requests share commits.
    ///
    /// When `tenant` is given, every record must be of that tenant (an API key appends only
    /// its own tenant's records); otherwise nothing is appended (``CareTrailError/Code/forbidden``).
    public func ingest(body: [UInt8], tenant: String? = nil) async throws(CareTrailError) -> AppendReceipt {
        let lines = JSONLinesReader.lines(in: body)
        guard !lines.isEmpty else { throw CareTrailError.noRecords }
        let entries = try Self.allPrepared(prepare(lines))
        if let tenant, entries.contains(where: { $0.tenantID != tenant }) {
            throw CareTrailError(code: .forbidden, message: "this key may only append records of tenant \(tenant); nothing was appended")
        }
        return try await append(entries)
    }

    /// Every entry of a batch, when every record of it was prepared; otherwise its bad records
    /// (at most ``maximumReportedErrors``), each with its line, as one error.
    static func allPrepared(_ results: [Result<EncodedEntry, IngestError>]) throws(CareTrailError) -> [EncodedEntry] {
        var entries: [EncodedEntry] = []
        entries.reserveCapacity(results.count)
        var errors: [IngestError] = []
        for result in results {
            switch result {
            case .success(let entry): entries.append(entry)
            case .failure(let error): if errors.count < maximumReportedErrors { errors.append(error) }
            }
        }
        guard errors.isEmpty else { throw CareTrailError.invalidRecords(errors) }
        return entries
    }

    /// Parses, validates, sanitises and encodes lines, on every core for large batches.
    func prepare(_ lines: [(line: Int, bytes: ArraySlice<UInt8>)]) -> [Result<EncodedEntry, IngestError>] {
        let workers = min(Processors.active, max(1, lines.count / 256))
        let rules = IngestRules(configuration: configuration, now: store.clock())
        @Sendable func prepareLine(_ number: Int, _ bytes: ArraySlice<UInt8>) -> Result<EncodedEntry, IngestError> {
            bytes.withUnsafeBufferPointer { buffer in
                // The common shape in one pass over the bytes; every other line, and every line
                // with an error to report, through the tree.
                if let entry = preparedInOnePass(buffer, rules: rules) { return .success(entry) }
                do throws(IngestError) {
                    return prepare(try IngestContract.decode(bytes: buffer, lineNumber: number), line: number, rules: rules)
                } catch {
                    return .failure(error)
                }
            }
        }
        // A small batch (an HTTP request, one agent's call) is prepared on the caller's thread.
        if workers == 1 { return lines.map { prepareLine($0.line, $0.bytes) } }
        // Each worker prepares every `workers`-th line into its own array, handed over once:
        // one lock per line made the workers queue on it.
        let shares = ResultShares(count: workers)
        @Sendable func work(_ worker: Int) {
            var share: [Result<EncodedEntry, IngestError>] = []
            share.reserveCapacity(lines.count / workers + 1)
            for index in stride(from: worker, to: lines.count, by: workers) {
                share.append(prepareLine(lines[index].line, lines[index].bytes))
            }
            shares.set(worker, share)
        }
        // The other workers get threads of their own, and this thread takes the first share:
        // called from a dispatch worker (a file's next chunk, prepared while the current one is
        // inserted), `concurrentPerform` ran nearly every share on the calling thread.
        let others = (1..<workers).map { worker in ThreadJob.start { work(worker) } }
        work(0)
        others.forEach { $0.wait() }
        let prepared = shares.values
        return lines.indices.map { index in prepared[index % workers][index / workers] }
    }

    /// A line prepared in one pass (``OnePassToolCall``), through the same rules as every
    /// other record; `nil` when the line or the rules need the tree path.
    func preparedInOnePass(_ bytes: UnsafeBufferPointer<UInt8>, rules: IngestRules) -> EncodedEntry? {
        guard let read = OnePassToolCall(bytes: bytes) else { return nil }
        let record = IngestRecord.toolCall(read.call)
        guard (try? rules.restrictions.check(record)) != nil, (try? rules.recordTime.check(record, now: rules.now)) != nil else {
            return nil
        }
        return sanitizer.encode(
            read, late: rules.recordTime.isLate(record, now: rules.now),
            retentionCategory: rules.retention.category(forTool: read.call.toolName).name
        )
    }

    /// The stages after decoding, the same for every way in (file, HTTP body, Swift
    /// records): the log's rules, then the sanitizer and the canonical encoding.
    func prepare(_ record: IngestRecord, line: Int?, rules: IngestRules) -> Result<EncodedEntry, IngestError> {
        do throws(IngestError) {
            try rules.restrictions.check(record)
            try rules.recordTime.check(record, now: rules.now)
            return .success(encode(record, late: rules.recordTime.isLate(record, now: rules.now), retention: rules.retention))
        } catch {
            return .failure(line.map { error.at(line: $0) } ?? error)
        }
    }

    /// Appends prepared entries through the group commit.
    func append(_ entries: [EncodedEntry]) async throws(CareTrailError) -> AppendReceipt {
        do {
            return try await store.append(entries)
        } catch let error as StoreError {
            throw CareTrailError(error)
        } catch {
            throw CareTrailError(code: .store, message: "the append failed")
        }
    }
}

/// The log's rules for one batch, read once from the configuration in force: the tenant's
/// purpose restrictions, the record-time policy judged at the log's clock, and the retention
/// policy that classes each record.
struct IngestRules {
    var restrictions: PurposeRestrictions
    var recordTime: RecordTimePolicy
    var retention: RetentionPolicy
    var now: Timestamp

    init(configuration: LogConfiguration, now: Timestamp) {
        restrictions = configuration.purposeRestrictions
        recordTime = configuration.recordTime
        retention = configuration.retention
        self.now = now
    }
}

extension CareTrailError {
    /// The input held no record.
    static let noRecords = CareTrailError(code: .noRecords, message: "the input holds no record; nothing was appended")

    /// Bad records, each with its line and field; nothing was appended.
    static func invalidRecords(_ errors: [IngestError]) -> CareTrailError {
        let more = errors.count >= AuditLog.maximumReportedErrors ? " or more" : ""
        return CareTrailError(
            code: .invalidRecords,
            message: "\(errors.count)\(more) bad record\(errors.count == 1 ? "" : "s"); nothing was appended",
            recordErrors: errors
        )
    }
}

/// The chunks of an input, read and prepared one ahead of the insert.
///
/// Its state is used by one thread at a time: `prefetch` runs on a worker while the ingest
/// thread inserts, and the ingest thread waits for it before `takePrefetched`.
private final class PreparedChunks: @unchecked Sendable {
    private var reader: JSONLinesReader
    private let chunkSize: Int
    private let log: AuditLog
    private var prefetched: Result<[Result<EncodedEntry, IngestError>]?, any Error> = .success(nil)

    init(reader: JSONLinesReader, chunkSize: Int, log: AuditLog) {
        self.reader = reader
        self.chunkSize = chunkSize
        self.log = log
    }

    /// The next chunk, prepared; `nil` at the end of the input.
    func next() throws -> [Result<EncodedEntry, IngestError>]? {
        let lines = try reader.next(maximum: chunkSize)
        return lines.isEmpty ? nil : log.prepare(lines)
    }

    func prefetch() {
        prefetched = Result { try next() }
    }

    func takePrefetched() throws -> [Result<EncodedEntry, IngestError>]? {
        try prefetched.get()
    }
}

/// Thrown inside the ingest transaction to roll it back after bad lines were collected.
private struct RollBack: Error {}

/// Each worker's prepared lines, handed over once per worker.
private final class ResultShares: @unchecked Sendable {
    private var storage: [[Result<EncodedEntry, IngestError>]]
    private let lock = NSLock()

    init(count: Int) { storage = Array(repeating: [], count: count) }

    func set(_ worker: Int, _ share: [Result<EncodedEntry, IngestError>]) {
        lock.lock()
        storage[worker] = share
        lock.unlock()
    }

    var values: [[Result<EncodedEntry, IngestError>]] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
