import AuditChain
import AuditCore
import Foundation

/// A segment's own small index: which entries name each patient, user and trace, by the
/// pseudonyms and ids stored in the entries. A report reads it, then inflates only the frames
/// of those entries, without unpacking the other segments.
public struct SegmentIndex: Sendable, Codable, Equatable {
    public var patients: [String: [Int64]] = [:]
    public var users: [String: [Int64]] = [:]
    public var traces: [String: [Int64]] = [:]

    public init() {}

    /// Adds the entry at `seq` under the patients, user and trace its canonical bytes name.
    mutating func add(seq: Int64, canonical: UnsafeBufferPointer<UInt8>) {
        let entry = CanonicalEntry.decode(canonical, seq: seq, entryHash: .genesis).content
        var patients = entry.patientIDList
        if let patient = entry.patientID, !patients.contains(patient) { patients.append(patient) }
        for patient in patients { self.patients[patient, default: []].append(seq) }
        if !entry.userID.isEmpty { users[entry.userID, default: []].append(seq) }
        if let trace = entry.traceID { traces[trace, default: []].append(seq) }
    }

    /// The index as stored: JSON with sorted keys, deflated.
    func encoded() throws(ArchiveError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let json = try? encoder.encode(self) else {
            throw ArchiveError(code: .malformed, message: "the segment index cannot be encoded")
        }
        return try FrameCodec.deflate([UInt8](json))
    }

    /// Reads a stored index.
    public static func decode(_ bytes: [UInt8]) throws(ArchiveError) -> SegmentIndex {
        let json = try FrameCodec.inflate(bytes[...], limit: 1 << 30)
        guard let index = try? JSONDecoder().decode(SegmentIndex.self, from: Data(json)) else {
            throw ArchiveError(code: .malformed, message: "a segment index is not readable")
        }
        return index
    }
}
