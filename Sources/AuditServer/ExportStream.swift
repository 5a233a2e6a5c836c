import AuditChain
import AuditCore
import AuditFHIR
import AuditStorage
import CareTrail
import Foundation
import Hummingbird
import Logging
import Synchronization

/// `GET /v1/export/fhir?format=ndjson|json|xml&fhir_version=r4|r5&patient=&from=&to=`: the
/// export of `caretrail export fhir`, streamed to the client and limited to the key's tenant.
/// The exporter runs on its own thread and hands chunks over through a small bounded queue,
/// so memory stays flat however slow the client.
struct ExportStream: Sendable {
    let log: AuditLog
    let api: API

    func export(_ request: Request, _ context: ServerContext) throws -> Response {
        let key = try api.require(context, [.siem, .admin])
        let query = request.uri.queryParameters
        let format: FHIRExporter.Format
        switch query["format"].map(String.init) ?? "ndjson" {
        case "ndjson": format = .ndjson
        case "json": format = .json
        case "xml": format = .xml
        default: throw APIError.badRequest("format: ndjson, json or xml")
        }
        let version: FHIRVersion
        switch query["fhir_version"].map(String.init) ?? "r4" {
        case "r4": version = .r4
        case "r5": version = .r5
        default: throw APIError.badRequest("fhir_version: r4 or r5")
        }
        func time(_ name: String, endOfDay: Bool) throws -> Timestamp? {
            try API.queryTime(request, name, endOfDay: endOfDay)
        }
        let selection = FHIRExporter.Selection(
            patient: query["patient"].map(String.init), from: try time("from", endOfDay: false), to: try time("to", endOfDay: true),
            tenant: key.role == .admin ? nil : key.tenantID
        )
        let exporter = FHIRExporter(version: version, format: format)
        let limit = api.exports
        try limit.acquire()
        let channel = ChunkChannel(capacity: 8)
        let store = log.reader
        let log = log
        let parameters = [
            "format": query["format"].map(String.init) ?? "ndjson", "fhir_version": query["fhir_version"].map(String.init) ?? "r4",
            "patient": selection.patient ?? "", "from": selection.from?.description ?? "", "to": selection.to?.description ?? "",
        ]
        Thread.detachNewThread {
            do {
                let count = try exporter.export(store: store, selection: selection, bundleID: "caretrail-export", timestamp: store.clock())
                {
                    bytes in
                    if !channel.put(bytes) { throw CancellationError() }
                }
                // The export is chained when it is complete, before the response ends: an
                // export that cannot be recorded is aborted, so the client never holds it whole.
                try log.recordRead(by: key, channel: "api", "fhir_export", parameters, results: count)
                channel.close(failure: nil)
            } catch is CancellationError {
                channel.close(failure: nil)
            } catch {
                channel.close(failure: "\(error)")
            }
            limit.release()
        }
        let contentType = format == .xml ? "application/fhir+xml" : (format == .json ? "application/fhir+json" : "application/fhir+ndjson")
        let logger = context.logger
        return Response(
            status: .ok, headers: [.contentType: contentType],
            body: ResponseBody { writer in
                defer { channel.cancel() }
                while let chunk = await channel.take() {
                    try await writer.write(ByteBuffer(bytes: chunk))
                }
                // The status line is sent already: a failure mid-stream can only reach the
                // client by aborting the connection, so that it never takes a truncated export
                // for a whole one.
                if let failure = channel.failure {
                    logger.error("export failed mid-stream; the connection is aborted", metadata: ["reason": .string(failure)])
                    throw ExportFailure()
                }
                try await writer.finish(nil)
            }
        )
    }
}

/// Thrown from a response body when the export behind it failed: Hummingbird then closes the
/// connection without finishing the response.
struct ExportFailure: Error {}

/// A bounded hand-over of byte chunks from a producing thread to an async consumer.
final class ChunkChannel: Sendable {
    private struct State {
        var chunks: [[UInt8]] = []
        var closed = false
        var cancelled = false
        /// Why the producer stopped early, when it failed.
        var failure: String?
        var waiter: CheckedContinuation<[UInt8]?, Never>?
    }

    private let state = Mutex(State())
    private let space: DispatchSemaphore

    init(capacity: Int) {
        space = DispatchSemaphore(value: capacity)
    }

    /// Blocks while the queue is full; `false` once the consumer went away.
    func put(_ chunk: [UInt8]) -> Bool {
        space.wait()
        let waiter: CheckedContinuation<[UInt8]?, Never>? = state.withLock { state in
            if state.cancelled { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.chunks.append(chunk)
            return nil
        }
        if state.withLock({ $0.cancelled }) { return false }
        if let waiter {
            space.signal()
            waiter.resume(returning: chunk)
        }
        return true
    }

    /// Why the producer failed, once it has closed the channel after a failure.
    var failure: String? { state.withLock { $0.failure } }

    /// The producer is done: `failure` says why it stopped early, `nil` when it finished.
    func close(failure: String?) {
        let waiter = state.withLock { state -> CheckedContinuation<[UInt8]?, Never>? in
            state.closed = true
            state.failure = failure
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    func cancel() {
        state.withLock { $0.cancelled = true }
        space.signal()
    }

    func take() async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            let ready: [UInt8]?? = state.withLock { state in
                if !state.chunks.isEmpty { return .some(state.chunks.removeFirst()) }
                if state.closed { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if case .some(let chunk) = ready {
                if chunk != nil { space.signal() }
                continuation.resume(returning: chunk)
            }
        }
    }
}
