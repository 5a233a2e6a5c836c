import AuditChain
public import AuditCore
public import AuditStore
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

    public init(version: FHIRVersion = .r4, format: Format = .json, deployment: String = "caretrail") {
        self.mapper = AuditEventMapper(version: version, deployment: deployment)
        self.format = format
    }

    /// Which entries to export.
    public struct Selection: Sendable {
        public var patient: String?
        public var from: Timestamp?
        public var to: Timestamp?

        public init(patient: String? = nil, from: Timestamp? = nil, to: Timestamp? = nil) {
            self.patient = patient
            self.from = from
            self.to = to
        }
    }

    /// Writes the export through `write`, a chunk of bytes at a time; returns how many
    /// AuditEvents were written. `bundleID` and `timestamp` name the Bundle.
    public func export(
        store: AuditStore, selection: Selection, bundleID: String, timestamp: Timestamp,
        write: (inout [UInt8]) throws -> Void
    ) throws -> Int {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        var count = 0
        func emit(_ event: FHIRNode) throws {
            switch format {
            case .ndjson:
                FHIRJSONWriter.write(event, into: &out)
                out.append(0x0A)
            case .json:
                out.append(contentsOf: (count == 0 ? "\n" : ",\n").utf8)
                out.append(contentsOf: "{\"fullUrl\":".utf8)
                CanonicalJSON.writeString(fullURL(event), into: &out)
                out.append(contentsOf: ",\"resource\":".utf8)
                FHIRJSONWriter.write(event, into: &out)
                out.append(UInt8(ascii: "}"))
            case .xml:
                out.append(contentsOf: "<entry><fullUrl value=\"".utf8)
                FHIRXMLWriter.escape(fullURL(event), into: &out)
                out.append(contentsOf: "\"/><resource>".utf8)
                if case .resource(let type, let members) = event { FHIRXMLWriter.writeResource(type, members, into: &out) }
                out.append(contentsOf: "</resource></entry>\n".utf8)
            }
            count += 1
            if out.count >= 1 << 20 {
                try write(&out)
                out.removeAll(keepingCapacity: true)
            }
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
        func inPeriod(_ entry: StoredEntry) -> Bool {
            let time = entry.content.timestamp ?? entry.recordedAt
            return (lower.map { time >= $0 } ?? true) && (upper.map { time <= $0 } ?? true)
        }
        if let patient = selection.patient {
            try store.forEachEntry(.patient(patient), from: selection.from, to: selection.to) { entry in
                for event in mapper.events(for: entry) where Self.concerns(event, patient: patient) { try emit(event) }
            }
        } else {
            let last = try store.head()?.seq ?? 0
            var low: Int64 = 1
            while low <= last {
                let high = min(last, low + 4095)
                for entry in try store.entries(from: low, through: high, limit: 4096) where inPeriod(entry) {
                    for event in mapper.events(for: entry) { try emit(event) }
                }
                low = high + 1
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

    /// For a patient export: a query's AuditEvents for its other patients are left out.
    static func concerns(_ event: FHIRNode, patient: String) -> Bool {
        let reference = FHIRNode.string("Patient/\(patient)")
        guard case .array(let entities)? = event["entity"] else { return true }
        let patients = entities.compactMap { $0["what"]?["reference"] }
        return patients.isEmpty || patients.contains(reference)
    }

    private func fullURL(_ event: FHIRNode) -> String {
        if case .string(let id)? = event["id"] { return "\(FHIRVocabulary.base)/AuditEvent/\(id)" }
        return FHIRVocabulary.base
    }
}
