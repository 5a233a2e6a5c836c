import AuditChain
import AuditCore
public import AuditStorage
import Foundation

/// A segment's own small index: which entries each key names, under the keys a backend files
/// entries by (``EntryQuery``: patients, users, conversations, traces, tools, failures, and
/// the pseudonyms in bodies). A reader looks a key up here, then inflates only the frames of
/// those entries, without unpacking the other segments.
public struct SegmentIndex: Sendable, Codable, Equatable {
    public var patients: [String: [Int64]] = [:]
    public var users: [String: [Int64]] = [:]
    public var conversations: [String: [Int64]] = [:]
    public var traces: [String: [Int64]] = [:]
    public var tools: [String: [Int64]] = [:]
    /// Pseudonyms found in the bodies of tool calls and agent requests.
    public var tokens: [String: [Int64]] = [:]
    public var failures: [Int64] = []

    public init() {}

    /// Adds the entry at `seq` under every key its canonical bytes give it.
    mutating func add(seq: Int64, canonical: UnsafeBufferPointer<UInt8>) {
        let entry = CanonicalEntry.decode(canonical, seq: seq, entryHash: .genesis)
        for (kind, key) in EntryKeys(entry).keys {
            switch kind {
            case .patient: patients[key, default: []].append(seq)
            case .user: users[key, default: []].append(seq)
            case .conversation: conversations[key, default: []].append(seq)
            case .trace: traces[key, default: []].append(seq)
            case .tool: tools[key, default: []].append(seq)
            case .token: tokens[key, default: []].append(seq)
            case .failure: failures.append(seq)
            }
        }
    }

    /// Adds the keys of `later`, an index of entries that all follow this one's.
    mutating func append(_ later: SegmentIndex) {
        func join(_ mine: inout [String: [Int64]], _ theirs: [String: [Int64]]) {
            mine.merge(theirs) { $0 + $1 }
        }
        join(&patients, later.patients)
        join(&users, later.users)
        join(&conversations, later.conversations)
        join(&traces, later.traces)
        join(&tools, later.tools)
        join(&tokens, later.tokens)
        failures += later.failures
    }

    /// The entries that answer `query`, in order.
    public func seqs(_ query: EntryQuery) -> [Int64] {
        switch query {
        case .patient(let patient): patients[patient] ?? []
        case .user(let user): users[user] ?? []
        case .conversation(let conversation): conversations[conversation] ?? []
        case .trace(let trace): traces[trace] ?? []
        case .tool(let tool): tools[tool] ?? []
        case .failures: failures
        }
    }

    /// The entries whose bodies hold one of `tokens`, in order.
    public func seqs(tokens wanted: [String]) -> [Int64] {
        Array(Set(wanted.flatMap { tokens[$0] ?? [] })).sorted()
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
