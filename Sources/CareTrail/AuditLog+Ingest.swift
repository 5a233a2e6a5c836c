import AuditAnalysis
public import AuditChain
import AuditCore
import AuditStorage
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
                    let group = DispatchGroup()
                    DispatchQueue.global().async(group: group) { source.prefetch() }
                    for case .failure(let error) in prepared where errors.count < Self.maximumReportedErrors {
                        errors.append(error)
                    }
                    // After the first bad line, keep reading only to report the others.
                    if errors.isEmpty {
                        try append(prepared.compactMap { try? $0.get() })
                    }
                    group.wait()
                    if errors.count >= Self.maximumReportedErrors { break }
                    current = try source.takePrefetched()
                }
                if !errors.isEmpty { throw RollBack() }
            }
            return IngestSummary(appended: count, alertsRaised: derived, head: head)
        } catch is RollBack {
            throw CareTrailError(
                code: .invalidRecords,
                message:
                    "\(errors.count)\(errors.count >= Self.maximumReportedErrors ? " or more" : "") bad record\(errors.count == 1 ? "" : "s"); nothing was appended",
                recordErrors: errors
            )
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

    /// Parses, validates, sanitises and encodes lines, on every core.
    func prepare(_ lines: [(line: Int, bytes: ArraySlice<UInt8>)]) -> [Result<EncodedEntry, IngestError>] {
        let workers = min(ProcessInfo.processInfo.activeProcessorCount, max(1, lines.count / 256))
        let configuration = self.configuration
        let now = store.clock()
        let slots = ResultSlots(count: lines.count)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < lines.count {
                let (number, bytes) = lines[index]
                let result: Result<EncodedEntry, IngestError> = bytes.withUnsafeBufferPointer { buffer in
                    do throws(IngestError) {
                        let record = try IngestContract.decode(bytes: buffer, lineNumber: number)
                        let late: Bool
                        do throws(IngestError) {
                            late = try admit(
                                record, restrictions: configuration.purposeRestrictions,
                                recordTime: configuration.recordTime, now: now
                            )
                        } catch {
                            throw error.at(line: number)
                        }
                        return .success(encode(record, late: late))
                    } catch {
                        return .failure(error)
                    }
                }
                slots.set(index, result)
                index += workers
            }
        }
        return slots.results
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

/// One result per line, written by parallel workers at distinct indices.
private final class ResultSlots: @unchecked Sendable {
    private var storage: [Result<EncodedEntry, IngestError>]
    private let lock = NSLock()

    init(count: Int) {
        storage = Array(repeating: .failure(IngestError(code: .invalidJSON, field: nil, message: "not processed")), count: count)
    }

    func set(_ index: Int, _ result: Result<EncodedEntry, IngestError>) {
        lock.lock()
        storage[index] = result
        lock.unlock()
    }

    var results: [Result<EncodedEntry, IngestError>] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
