import AuditChain
import AuditCore
public import AuditStore
import Foundation

/// Where messages go. `send` returns only once the destination has taken the bytes (a file:
/// written and synced; a socket: written), so the cursor can advance.
public protocol SIEMDestination: AnyObject {
    /// A stable name for the cursor, e.g. `syslog+tls://siem.example:6514`.
    var name: String { get }
    func send(_ messages: [[UInt8]]) throws
    func close()
}

/// Slots for messages rendered on every core: each worker writes only its own indices, through
/// a buffer allocated once (no array accessor is shared between threads).
private final class MessageSlots: @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<[UInt8]>

    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: [])
    }

    deinit {
        buffer.deinitialize()
        buffer.deallocate()
    }

    func set(_ index: Int, _ message: [UInt8]) { buffer[index] = message }

    var messages: [[UInt8]] { Array(buffer) }
}

/// Appends messages to a file, one per line, syncing before it returns.
public final class FileDestination: SIEMDestination {
    public let name: String
    private let handle: FileHandle

    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw SIEMError(message: "cannot open \(path) for writing")
        }
        handle.seekToEndOfFile()
        self.handle = handle
        self.name = "file:" + path
    }

    public func send(_ messages: [[UInt8]]) throws {
        var bytes: [UInt8] = []
        for message in messages {
            bytes += message
            if message.last != 0x0A { bytes.append(0x0A) }
        }
        try handle.write(contentsOf: bytes)
        try handle.synchronize()
    }

    public func close() { try? handle.close() }
}

/// Why streaming stopped.
public struct SIEMError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Delivers the log to a destination in sequence order, at least once: the durable cursor
/// (per destination, in the log) advances only after the destination took the bytes, so a
/// restart resumes after the last accepted entry, and the sequence number in every message
/// lets the receiver drop duplicates and see gaps.
public struct SIEMStreamer {
    public let store: AuditStore
    public let renderer: SIEMRenderer
    public let destination: any SIEMDestination
    /// Entries per send.
    public var chunk = 1000

    public init(store: AuditStore, renderer: SIEMRenderer, destination: any SIEMDestination) {
        self.store = store
        self.renderer = renderer
        self.destination = destination
    }

    /// Delivers everything after the cursor (or after `fromSeq - 1`) up to the current head,
    /// then a checkpoint with that head. Returns how many entries were delivered.
    @discardableResult
    public func deliverBacklog(fromSeq: Int64? = nil, checkpoint: Bool = true, stop: () -> Bool = { false }) throws -> Int64 {
        let cursor = try store.streamCursor(destination.name)
        var next = (fromSeq.map { $0 - 1 } ?? cursor) + 1
        guard let head = try store.head() else { return 0 }
        var delivered: Int64 = 0
        while next <= head.seq, !stop() {
            let last = min(head.seq, next + Int64(chunk) - 1)
            let entries = try store.entries(from: next, through: last, limit: chunk)
            try destination.send(render(entries))
            try store.setStreamCursor(destination.name, to: last)
            delivered += Int64(entries.count)
            next = last + 1
        }
        if checkpoint, next > head.seq {
            try destination.send([renderer.checkpoint(head, at: store.clock())])
        }
        return delivered
    }

    /// The entries' messages, rendered on every core (each worker writes its own indices).
    private func render(_ entries: [StoredEntry]) -> [[UInt8]] {
        let slots = MessageSlots(count: entries.count)
        let workers = min(ProcessInfo.processInfo.activeProcessorCount, max(1, entries.count / 128))
        let renderer = self.renderer
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < entries.count {
                let message = renderer.render(entries[index])
                slots.set(index, message)
                index += workers
            }
        }
        return slots.messages
    }
}
