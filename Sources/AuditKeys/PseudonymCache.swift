import Synchronization

/// The pseudonyms a key made recently, by the value given: patients' identifiers and names
/// recur from call to call, and an HMAC through swift-crypto costs about a microsecond and a
/// half here, most of it outside SHA-256 itself (`perf record` of `caretrail serve` under
/// NDJSON load: 8% of the server's CPU, of which SHA-256 was 1%).
///
/// It holds values of up to ``maximumValueBytes`` bytes only (identifiers, not free text), in
/// memory only, for the life of the key's pseudonymiser; a shard that fills up starts again.
/// The values are what the process already holds while it sanitises; nothing is written.
final class PseudonymCache: Sendable {
    /// Longer values (search terms, notes) are not kept.
    static let maximumValueBytes = 64
    /// Values kept per shard before it starts again.
    static let shardCapacity = 4_096

    private final class Shard: Sendable {
        let pseudonyms = Mutex<[String: String]>([:])
    }

    /// Shards by value, so that preparing threads seldom wait for each other.
    private let shards: [Shard] = (0..<16).map { _ in Shard() }

    /// The pseudonym of `value`: kept, or made by `make` and kept.
    func pseudonym(for value: String, make: (String) -> String) -> String {
        let length = value.utf8.count
        guard length <= Self.maximumValueBytes else { return make(value) }
        // The shard by the value's length and last byte: no hashing to pick it.
        let shard = shards[(length &+ Int(value.utf8.last ?? 0)) & 15]
        if let kept = shard.pseudonyms.withLock({ $0[value] }) { return kept }
        let made = make(value)
        shard.pseudonyms.withLock { pseudonyms in
            if pseudonyms.count >= Self.shardCapacity { pseudonyms.removeAll(keepingCapacity: true) }
            pseudonyms[value] = made
        }
        return made
    }
}
