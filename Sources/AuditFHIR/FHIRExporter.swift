import AuditChain
public import AuditCore
public import AuditStorage
import Foundation

/// Streams the log's entries out as FHIR AuditEvents: a Bundle (type `collection`) in JSON or
/// XML, or NDJSON (one resource per line). Entries are read in chunks and written as they are
/// mapped, so memory stays flat however large the export.
public struct FHIRExporter: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case json
        case xml
        case ndjson
    }

    public var mapper: AuditEventMapper
    public var format: Format
    /// How many sequence numbers each core reads and renders at a time.
    public var entriesPerSlice: Int64 = 2048

    public init(version: FHIRVersion = .r4, format: Format = .json, deployment: String = "caretrail") {
        self.mapper = AuditEventMapper(version: version, deployment: deployment)
        self.format = format
    }

    /// Which entries to export.
    public struct Selection: Sendable {
        public var patient: String?
        public var from: Timestamp?
        public var to: Timestamp?
        /// Only entries of this tenant (the HTTP API's SIEM keys see their own tenant).
        public var tenant: String?
        /// Exactly the entries with these sequence numbers, in this order, instead of a search:
        /// the accesses a report lists, whichever index found them (a patient id, or the
        /// pseudonyms of a name under every key). With `patient`, only events about that patient.
        public var seqs: [Int64]?

        public init(
            patient: String? = nil, from: Timestamp? = nil, to: Timestamp? = nil, tenant: String? = nil, seqs: [Int64]? = nil
        ) {
            self.patient = patient
            self.from = from
            self.to = to
            self.tenant = tenant
            self.seqs = seqs
        }
    }

    /// Writes the export through `write`, a chunk of bytes at a time; returns how many
    /// AuditEvents were written. `bundleID` and `timestamp` name the Bundle.
    public func export(
        store: any EntryReading, selection: Selection, bundleID: String, timestamp: Timestamp,
        write: (inout [UInt8]) throws -> Void
    ) throws -> Int {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        var count = 0
        func flushIfFull() throws {
            if out.count >= 1 << 20 {
                try write(&out)
                out.removeAll(keepingCapacity: true)
            }
        }
        /// Maps and renders a chunk of entries on every core, then appends the bytes in order.
        func emit(_ entries: [StoredEntry], only patient: String? = nil) throws {
            guard !entries.isEmpty else { return }
            let workers = min(Processors.active, max(1, entries.count / 256))
            let size = (entries.count + workers - 1) / workers
            try emit(
                slices: (0..<workers).map { worker in
                    { Array(entries[min(entries.count, worker * size)..<min(entries.count, (worker + 1) * size)]) }
                }, only: patient)
        }
        /// Each slice is loaded and rendered by a core of its own.
        func emit(slices: [@Sendable () throws -> [StoredEntry]], only patient: String? = nil) throws {
            let rendered = try render(slices, patient: patient)
            for var piece in rendered where !piece.bytes.isEmpty {
                // A JSON Bundle separates entries by commas: a piece after an entry starts with one.
                if format == .json, count > 0, piece.events > 0 { out.append(UInt8(ascii: ",")) }
                count += piece.events
                // Large pieces go out as they are, small ones are gathered.
                if piece.bytes.count >= 1 << 18 {
                    if !out.isEmpty {
                        try write(&out)
                        out.removeAll(keepingCapacity: true)
                    }
                    try write(&piece.bytes)
                } else {
                    out.append(contentsOf: piece.bytes)
                }
            }
            try flushIfFull()
        }
        switch format {
        case .ndjson: break
        case .json:
            out.append(contentsOf: "{\"resourceType\":\"Bundle\",\"id\":".utf8)
            CanonicalJSON.writeString(bundleID, into: &out)
            out.append(contentsOf: ",\"type\":\"collection\",\"timestamp\":".utf8)
            CanonicalJSON.writeString(timestamp.description, into: &out)
            out.append(contentsOf: ",\"entry\":[".utf8)
        case .xml:
            out.append(contentsOf: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Bundle xmlns=\"http://hl7.org/fhir\"><id value=\"".utf8)
            FHIRXMLWriter.escape(bundleID, into: &out)
            out.append(contentsOf: "\"/><type value=\"collection\"/><timestamp value=\"\(timestamp.description)\"/>\n".utf8)
        }
        let lower = selection.from?.description
        let upper = selection.to?.description
        let tenant = selection.tenant
        @Sendable func inPeriod(_ entry: StoredEntry) -> Bool {
            let time = entry.content.timestamp ?? entry.recordedAt
            return (lower.map { time >= $0 } ?? true) && (upper.map { time <= $0 } ?? true)
                && (tenant.map { entry.content.tenantID == $0 } ?? true)
        }
        if let seqs = selection.seqs {
            var pending: [StoredEntry] = []
            for seq in seqs {
                guard let entry = try store.entry(seq: seq), tenant.map({ entry.content.tenantID == $0 }) ?? true else { continue }
                pending.append(entry)
                if pending.count == 4096 {
                    try emit(pending, only: selection.patient)
                    pending = []
                }
            }
            try emit(pending, only: selection.patient)
        } else if let patient = selection.patient {
            var pending: [StoredEntry] = []
            try store.forEachEntry(.patient(patient), from: selection.from, to: selection.to) { entry in
                guard tenant.map({ entry.content.tenantID == $0 }) ?? true else { return }
                pending.append(entry)
                if pending.count == 4096 {
                    try emit(pending, only: patient)
                    pending = []
                }
            }
            try emit(pending, only: patient)
        } else {
            // Each core reads its own range of the log (the pool reads concurrently) and renders it.
            let last = try store.head()?.seq ?? 0
            let workers = Int64(Processors.active)
            let step = max(1, entriesPerSlice)
            var low: Int64 = 1
            while low <= last {
                let slices: [@Sendable () throws -> [StoredEntry]] = (0..<workers).compactMap { worker in
                    let first = low + worker * step
                    let through = min(last, first + step - 1)
                    guard first <= through else { return nil }
                    return { try store.entries(from: first, through: through, limit: Int(step)).filter(inPeriod) }
                }
                try emit(slices: slices)
                low += workers * step
            }
        }
        switch format {
        case .ndjson: break
        case .json: out.append(contentsOf: (count == 0 ? "]}\n" : "\n]}\n").utf8)
        case .xml: out.append(contentsOf: "</Bundle>\n".utf8)
        }
        try write(&out)
        return count
    }

    /// The rendered bytes of each slice (in order) and how many AuditEvents each holds.
    private func render(_ slices: [@Sendable () throws -> [StoredEntry]], patient: String?) throws -> [(bytes: [UInt8], events: Int)] {
        guard !slices.isEmpty else { return [] }
        let slots = RenderSlots(count: slices.count)
        DispatchQueue.concurrentPerform(iterations: slices.count) { worker in
            let entries: [StoredEntry]
            do {
                entries = try slices[worker]()
            } catch {
                slots.fail(error)
                return
            }
            // The sink owns its buffer from the start: reserved there, it is never copied.
            let capacity = entries.count * (format == .xml ? 6144 : 4608)
            let bytes: [UInt8]
            var events = 0
            switch format {
            case .ndjson, .json:
                var sink = FHIRJSONSink(framing: format == .ndjson ? .line : .bundleEntry)
                sink.out.reserveCapacity(capacity)
                for index in entries.indices { events += mapper.write(entries[index], onlyPatient: patient, into: &sink) }
                bytes = sink.out
            case .xml:
                var sink = FHIRXMLSink(framing: .bundleEntry)
                sink.out.reserveCapacity(capacity)
                for index in entries.indices { events += mapper.write(entries[index], onlyPatient: patient, into: &sink) }
                bytes = sink.out
            }
            slots.set(worker, (bytes, events))
        }
        if let error = slots.error { throw error }
        let pieces = slots.values
        return pieces
    }
}

/// Results of parallel renderers, written at distinct indices.
private final class RenderSlots: @unchecked Sendable {
    private var storage: [(bytes: [UInt8], events: Int)]
    private let lock = NSLock()

    private var failure: (any Error)?

    init(count: Int) { storage = Array(repeating: ([], 0), count: count) }

    func fail(_ error: any Error) {
        lock.lock()
        failure = failure ?? error
        lock.unlock()
    }

    var error: (any Error)? {
        lock.lock()
        defer { lock.unlock() }
        return failure
    }

    func set(_ index: Int, _ value: (bytes: [UInt8], events: Int)) {
        lock.lock()
        storage[index] = value
        lock.unlock()
    }

    var values: [(bytes: [UInt8], events: Int)] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
