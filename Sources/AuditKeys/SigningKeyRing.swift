import Crypto
public import Foundation

/// The Ed25519 keys that sign the log's checkpoints, apart from the pseudonymisation keys: a
/// signing key proves the log's state to outsiders, and rotating or revoking one must not
/// touch the other.
///
/// It lives in its own file (JSON, mode 0600, beside the database by default as
/// `<database>.signing-keys.json`). Every key stays in the file with its id, so that
/// checkpoints signed before a rotation still name a key the operator can publish; the current
/// one signs new checkpoints.
public struct SigningKeyRing: Sendable, Equatable {
    public typealias FileError = KeyRing.FileError

    /// One key: its 32-byte Ed25519 seed (base64 in the file).
    public struct Key: Sendable, Equatable, Codable {
        public var id: String
        public var seed: Data
        public var createdAt: String

        enum CodingKeys: String, CodingKey {
            case id, seed
            case createdAt = "created_at"
        }
    }

    /// The log's name in checkpoints (their origin line) and the keys' name in signatures.
    public private(set) var origin: String
    /// Every key, oldest first.
    public private(set) var keys: [Key]
    public private(set) var currentID: String

    /// A ring with one new random key, `s1`, for the log named `origin`.
    public static func generate(origin: String, now: Date = Date()) -> SigningKeyRing {
        SigningKeyRing(origin: origin, keys: [newKey(id: "s1", now: now)], currentID: "s1")
    }

    init(origin: String, keys: [Key], currentID: String) {
        self.origin = origin
        self.keys = keys
        self.currentID = currentID
    }

    /// The current key.
    public var current: Key {
        // The ring always holds its current key: `rotate` and `load` keep that true.
        keys.first { $0.id == currentID } ?? keys[keys.count - 1]
    }

    /// Adds a new random key and makes it current. Returns its id.
    @discardableResult
    public mutating func rotate(now: Date = Date()) -> String {
        let next = (keys.compactMap { Int($0.id.dropFirst()) }.max() ?? 0) + 1
        let id = "s\(next)"
        keys.append(Self.newKey(id: id, now: now))
        currentID = id
        return id
    }

    private static func newKey(id: String, now: Date) -> Key {
        let seed = Curve25519.Signing.PrivateKey().rawRepresentation
        return Key(id: id, seed: seed, createdAt: ISO8601DateFormatter().string(from: now))
    }

    /// The file used when none is named.
    public static func defaultFile(forDatabase path: String) -> String {
        path + ".signing-keys.json"
    }

    private struct File: Codable {
        var format: String
        var origin: String
        var current: String
        var keys: [Key]
    }

    static let fileFormat = "caretrail-signing-keys/1"

    /// Loads a signing key file; refuses one that others than its owner may read.
    public static func load(from url: URL) throws(FileError) -> SigningKeyRing {
        let data = try KeyRing.readSecretFile(at: url, creator: "caretrail checkpoint key")
        guard let file = try? JSONDecoder().decode(File.self, from: data), file.format == fileFormat, !file.origin.isEmpty,
            file.keys.contains(where: { $0.id == file.current }), file.keys.allSatisfy({ $0.seed.count == 32 })
        else {
            throw FileError(code: .invalid, message: "key file \(url.path) is not a valid CareTrail signing key file")
        }
        return SigningKeyRing(origin: file.origin, keys: file.keys, currentID: file.current)
    }

    /// Writes the file with mode 0600, atomically; with `overwrite: false`, refuses to replace
    /// an existing one.
    public func save(to url: URL, overwrite: Bool) throws(FileError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(File(format: Self.fileFormat, origin: origin, current: currentID, keys: keys)) else {
            throw FileError(code: .unwritable, message: "cannot encode the signing key file")
        }
        try KeyRing.writeSecretFile(data, to: url, overwrite: overwrite)
    }
}
