import Crypto

/// A digest of a multiset of byte strings: each element's SHA-256, added lane by lane
/// (four 64-bit lanes, each modulo 2^64), and the number of elements.
///
/// The sum does not depend on the order in which elements are added, nor on how they are
/// grouped, so two sides that hold the same items in different layouts (entries in log order;
/// posting lists by key, split into blocks and spans) compare by digest without either side
/// being sorted or held in memory. Verification uses it to prove that derived data (the
/// patients' posting lists and report records) holds exactly what the entries say.
public struct MultisetDigest: Sendable, Hashable {
    public private(set) var lane0: UInt64 = 0
    public private(set) var lane1: UInt64 = 0
    public private(set) var lane2: UInt64 = 0
    public private(set) var lane3: UInt64 = 0
    /// How many elements were added.
    public private(set) var count: Int64 = 0

    public init() {}

    /// Adds one element.
    public mutating func add(_ element: UnsafeRawBufferPointer) {
        let digest = SHA256.hash(data: element)
        digest.withUnsafeBytes { bytes in
            lane0 &+= bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
            lane1 &+= bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            lane2 &+= bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            lane3 &+= bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        }
        count += 1
    }

    /// This digest with every element of another added.
    public func adding(_ other: MultisetDigest) -> MultisetDigest {
        var sum = self
        sum.add(other)
        return sum
    }

    /// Adds every element of another digest.
    public mutating func add(_ other: MultisetDigest) {
        lane0 &+= other.lane0
        lane1 &+= other.lane1
        lane2 &+= other.lane2
        lane3 &+= other.lane3
        count += other.count
    }
}
