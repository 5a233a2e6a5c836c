import AuditChain
import AuditCore
public import AuditStorage

/// A segment's own small index: which entries each key names, under the keys a backend files
/// entries by (``EntryQuery``: patients, users, conversations, traces, tools, failures, and
/// the pseudonyms in bodies). A reader looks a key up here, then inflates only the frames of
/// those entries, without unpacking the other segments.
public struct SegmentIndex: Sendable, Equatable {
    public var patients: [String: [Int64]] = [:]
    public var users: [String: [Int64]] = [:]
    public var conversations: [String: [Int64]] = [:]
    public var traces: [String: [Int64]] = [:]
    public var tools: [String: [Int64]] = [:]
    /// Pseudonyms found in the bodies of tool calls and agent requests.
    public var tokens: [String: [Int64]] = [:]
    public var failures: [Int64] = []

    public init() {}

    /// Adds the entry at `seq` under every key its canonical bytes give it; returns its
    /// `recorded_at`, which the decoding read anyway.
    @discardableResult
    mutating func add(seq: Int64, canonical: UnsafeBufferPointer<UInt8>) -> String? {
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
        return entry.recordedAt.isEmpty ? nil : entry.recordedAt
    }

    /// Adds the keys of `later`, an index of entries that all follow this one's.
    mutating func append(_ later: SegmentIndex) {
        // In place: merging with `+` copied a busy key's whole list once per frame.
        func join(_ mine: inout [String: [Int64]], _ theirs: [String: [Int64]]) {
            for (key, seqs) in theirs { mine[key, default: []].append(contentsOf: seqs) }
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

    /// The lists of keys, in the order they are stored.
    private var keyed: [[String: [Int64]]] { [patients, users, conversations, traces, tools, tokens] }

    /// The index as stored, deflated: a format line, then for each kind of key (patients,
    /// users, conversations, traces, tools, tokens) the number of keys and, for each key in
    /// byte order, its UTF-8 length and bytes, the number of entries and their sequence
    /// numbers as gaps from the previous one (the first from 0), every number an unsigned
    /// LEB128; then the failures' count and gaps the same way. Sequence numbers written as
    /// gaps take a byte or two each, where JSON took seven digits and a comma.
    func encoded() throws(ArchiveError) -> [UInt8] {
        var out = Array(Self.format.utf8)
        func number(_ value: Int64) {
            var rest = UInt64(bitPattern: value)
            while rest >= 0x80 {
                out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
                rest >>= 7
            }
            out.append(UInt8(rest))
        }
        func seqs(_ list: [Int64]) {
            number(Int64(list.count))
            var previous: Int64 = 0
            for seq in list {
                number(seq - previous)
                previous = seq
            }
        }
        for lists in keyed {
            number(Int64(lists.count))
            for key in lists.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                number(Int64(key.utf8.count))
                out.append(contentsOf: key.utf8)
                seqs(lists[key] ?? [])
            }
        }
        seqs(failures)
        return try FrameCodec.deflate(out)
    }

    static let format = "caretrail-segment-index/1\n"

    /// Reads a stored index. Counts, lengths and sequence numbers are bounded by what a
    /// segment can hold, so that a hostile index is refused as malformed, never a trap.
    public static func decode(_ bytes: [UInt8]) throws(ArchiveError) -> SegmentIndex {
        let raw = try FrameCodec.inflate(bytes[...], limit: 1 << 30)
        let malformed = ArchiveError(code: .malformed, message: "a segment index is not readable")
        let header = Array(format.utf8)
        guard raw.starts(with: header) else { throw malformed }
        var offset = header.count
        func number(upTo limit: Int64) throws(ArchiveError) -> Int64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while offset < raw.count, shift < 63 {
                let byte = raw[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 {
                    guard value <= UInt64(limit) else { throw malformed }
                    return Int64(value)
                }
                shift += 7
            }
            throw malformed
        }
        func seqs() throws(ArchiveError) -> [Int64] {
            let count = try number(upTo: SegmentName.maximumEntries)
            var list: [Int64] = []
            list.reserveCapacity(Int(count))
            var previous: Int64 = 0
            for _ in 0..<count {
                let gap = try number(upTo: Int64(Int32.max) * 4096)
                guard gap > 0, previous <= Int64.max - gap else { throw malformed }
                previous += gap
                list.append(previous)
            }
            return list
        }
        var lists: [[String: [Int64]]] = []
        for _ in 0..<6 {
            let keys = try number(upTo: SegmentName.maximumEntries * 64)
            var list: [String: [Int64]] = [:]
            for _ in 0..<keys {
                let length = Int(try number(upTo: 1 << 20))
                guard length <= raw.count - offset else { throw malformed }
                let key = String(decoding: raw[offset..<(offset + length)], as: UTF8.self)
                offset += length
                list[key] = try seqs()
            }
            lists.append(list)
        }
        var index = SegmentIndex()
        (index.patients, index.users, index.conversations, index.traces, index.tools, index.tokens) =
            (lists[0], lists[1], lists[2], lists[3], lists[4], lists[5])
        index.failures = try seqs()
        guard offset == raw.count else { throw malformed }
        return index
    }
}
