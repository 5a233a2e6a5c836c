import AuditChain
import AuditCore
public import AuditStorage
import Foundation

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

/// Delivers the log to a destination in sequence order, at least once: the durable cursor
/// (per destination, in the log) advances only after the destination confirmed the bytes, so a
/// restart resumes after the last accepted entry, and the sequence number in every message
/// lets the receiver drop duplicates and see gaps.
public struct SIEMStreamer {
    public let store: any EntryReading & StreamCursors
    public let renderer: SIEMRenderer
    public let destination: any SIEMDestination
    /// Entries per send.
    public var chunk = 1000
    /// Entries per confirmation: the cursor advances in steps of at most this many, so it is
    /// also the most that is sent twice after a failure.
    public var entriesPerConfirmation = 10_000

    public init(store: any EntryReading & StreamCursors, renderer: SIEMRenderer, destination: any SIEMDestination) {
        self.store = store
        self.renderer = renderer
        self.destination = destination
    }

    /// Delivers everything after the cursor (or from `fromSeq` on) up to the current head,
    /// then, with `checkpoint`, a checkpoint with that head. The cursor advances after each
    /// confirmation. Returns how many entries were delivered; `stop` is asked between chunks.
    @discardableResult
    public func deliverBacklog(fromSeq: Int64? = nil, checkpoint: Bool = true, stop: () -> Bool = { false }) throws(SIEMError) -> Int64 {
        let cursor: Int64
        let head: ChainHead?
        do {
            cursor = try store.streamCursor(destination.name)
            head = try store.head()
        } catch {
            throw SIEMError(code: .store, message: "cannot read the log: \(error.message)")
        }
        guard let head else { return 0 }
        var next = (fromSeq.map { $0 - 1 } ?? cursor) + 1
        var delivered: Int64 = 0
        var unconfirmed: Int64 = 0
        let chunk = max(1, min(self.chunk, entriesPerConfirmation))
        while next <= head.seq, !stop() {
            let last = min(head.seq, next + Int64(chunk) - 1)
            let entries: [StoredEntry]
            do {
                entries = try store.entries(from: next, through: last, limit: chunk)
            } catch {
                throw SIEMError(code: .store, message: "cannot read the log: \(error.message)")
            }
            try destination.send(render(entries))
            unconfirmed += Int64(entries.count)
            next = last + 1
            if unconfirmed >= entriesPerConfirmation || next > head.seq || stop() {
                if checkpoint, next > head.seq {
                    try destination.send([renderer.checkpoint(head, at: store.clock())])
                }
                try confirm(through: last)
                delivered += unconfirmed
                unconfirmed = 0
            }
        }
        if delivered == 0, checkpoint, next > head.seq {
            try destination.send([renderer.checkpoint(head, at: store.clock())])
            try destination.confirm()
        }
        return delivered
    }

    private func confirm(through seq: Int64) throws(SIEMError) {
        try destination.confirm()
        do {
            try store.setStreamCursor(destination.name, to: seq)
        } catch {
            throw SIEMError(code: .store, message: "cannot record the stream cursor: \(error.message)")
        }
    }

    /// The entries' messages, rendered on every core (each worker writes its own indices).
    private func render(_ entries: [StoredEntry]) -> [[UInt8]] {
        let slots = MessageSlots(count: entries.count)
        let workers = min(Processors.active, max(1, entries.count / 128))
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
