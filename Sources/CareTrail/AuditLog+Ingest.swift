public import AuditChain
import AuditCore
import AuditStore
public import Foundation

/// What an ingest appended.
public struct IngestSummary: Sendable, Hashable {
    /// How many records were appended.
    public var appended: Int64
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
        var reader = JSONLinesReader(handle: handle)
        var errors: [IngestError] = []
        do {
            let (count, head) = try store.appendAll { sink in
                while true {
                    let lines = try reader.next(maximum: chunkSize)
                    if lines.isEmpty { break }
                    let prepared = prepare(lines)
                    for case .failure(let error) in prepared where errors.count < Self.maximumReportedErrors {
                        errors.append(error)
                    }
                    if errors.count >= Self.maximumReportedErrors { break }
                    // After the first bad line, keep reading only to report the others.
                    if errors.isEmpty {
                        try sink.append(prepared.compactMap { try? $0.get() })
                    }
                }
                if !errors.isEmpty { throw RollBack() }
            }
            return IngestSummary(appended: count, head: head)
        } catch is RollBack {
            throw CareTrailError(
                code: .invalidRecords,
                message: "\(errors.count)\(errors.count >= Self.maximumReportedErrors ? " or more" : "") bad record\(errors.count == 1 ? "" : "s"); nothing was appended",
                recordErrors: errors
            )
        } catch let error as CareTrailError {
            throw error
        } catch let error as StoreError {
            throw CareTrailError(code: .store, message: error.message)
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
        let slots = ResultSlots(count: lines.count)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < lines.count {
                let (number, bytes) = lines[index]
                let result: Result<EncodedEntry, IngestError> = bytes.withUnsafeBufferPointer { buffer in
                    do throws(IngestError) {
                        return .success(encode(try IngestContract.decode(bytes: buffer, lineNumber: number)))
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
