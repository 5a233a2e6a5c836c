import Crypto
public import Foundation

/// The pseudonymisation keys: every key ever used, by id, and which one new entries use.
///
/// It lives in a key file outside the database (JSON, mode 0600), so that a copy of the
/// database alone cannot be dictionary-attacked. Rotating adds a key and makes it current; old
/// keys stay, so old entries remain searchable under the key id their tokens name.
public struct KeyRing: Sendable, Equatable {
    /// One key.
    public struct Key: Sendable, Equatable, Codable {
        public var id: String
        /// 32 random bytes, base64 in the file.
        public var secret: Data
        public var createdAt: String

        enum CodingKeys: String, CodingKey {
            case id, secret
            case createdAt = "created_at"
        }
    }

    /// Every key, oldest first.
    public private(set) var keys: [Key]
    /// The id of the key new entries use.
    public private(set) var currentID: String

    /// A ring with one new random key, `k1`.
    public static func generate(now: Date = Date()) -> KeyRing {
        KeyRing(keys: [Self.newKey(id: "k1", now: now)], currentID: "k1")
    }

    init(keys: [Key], currentID: String) {
        self.keys = keys
        self.currentID = currentID
    }

    /// Adds a new random key and makes it current. Returns its id.
    @discardableResult
    public mutating func rotate(now: Date = Date()) -> String {
        let next = (keys.compactMap { Int($0.id.dropFirst()) }.max() ?? 0) + 1
        let id = "k\(next)"
        keys.append(Self.newKey(id: id, now: now))
        currentID = id
        return id
    }

    /// The pseudonymiser of the current key.
    public var current: HMACPseudonymizer {
        // The ring always holds its current key: `rotate` and `load` keep that true.
        pseudonymizer(keyID: currentID) ?? HMACPseudonymizer(keyID: currentID, secret: [])
    }

    /// The pseudonymiser of a key by id, for searching old entries.
    public func pseudonymizer(keyID: String) -> HMACPseudonymizer? {
        keys.first { $0.id == keyID }.map { HMACPseudonymizer(keyID: $0.id, secret: Array($0.secret)) }
    }

    private static func newKey(id: String, now: Date) -> Key {
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return Key(id: id, secret: secret, createdAt: ISO8601DateFormatter().string(from: now))
    }
}

/// Reading and writing the key file.
extension KeyRing {
    private struct File: Codable {
        var format: String
        var current: String
        var keys: [Key]
    }

    static let fileFormat = "caretrail-pseudonym-keys/1"

    /// Why a key file could not be used. Messages name the file's path, never a key.
    public struct FileError: Error, Sendable, CustomStringConvertible {
        public enum Code: String, Sendable {
            case missing, unreadable, invalid
            case tooOpen = "too_open"
            case exists, unwritable
        }
        public var code: Code
        public var message: String
        public var description: String { message }
    }

    /// Loads a key file. Refuses a file that others than its owner may read.
    public static func load(from url: URL) throws(FileError) -> KeyRing {
        let path = url.path
        let data = try readSecretFile(at: url, creator: "caretrail init")
        guard let file = try? JSONDecoder().decode(File.self, from: data), file.format == fileFormat,
            !file.keys.isEmpty, file.keys.contains(where: { $0.id == file.current }),
            file.keys.allSatisfy({ $0.secret.count >= 16 })
        else {
            throw FileError(code: .invalid, message: "key file \(path) is not a valid CareTrail key file")
        }
        return KeyRing(keys: file.keys, currentID: file.current)
    }

    /// Writes the key file with mode 0600, atomically (a temporary file renamed over it).
    /// With `overwrite: false`, refuses to replace an existing file.
    public func save(to url: URL, overwrite: Bool) throws(FileError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(File(format: Self.fileFormat, current: currentID, keys: keys)) else {
            throw FileError(code: .unwritable, message: "cannot encode the key file")
        }
        try Self.writeSecretFile(data, to: url, overwrite: overwrite)
    }

    /// The bytes of a file of secrets; refuses a file that others than its owner may read.
    /// `creator` is the command that makes the file, named when it is missing.
    static func readSecretFile(at url: URL, creator: String) throws(FileError) -> Data {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw FileError(code: .missing, message: "no key file at \(path) (run '\(creator)' first)")
        }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let mode = attributes[.posixPermissions] as? NSNumber, mode.intValue & 0o077 != 0
        {
            throw FileError(
                code: .tooOpen,
                message: "key file \(path) is readable by others (mode \(String(mode.intValue, radix: 8))); run chmod 600"
            )
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError(code: .unreadable, message: "cannot read key file \(path)")
        }
        return data
    }

    /// Writes a file of secrets with mode 0600, atomically (a temporary file renamed over it).
    static func writeSecretFile(_ data: Data, to url: URL, overwrite: Bool) throws(FileError) {
        let path = url.path
        if !overwrite, FileManager.default.fileExists(atPath: path) {
            throw FileError(code: .exists, message: "a key file already exists at \(path); refusing to overwrite it")
        }
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: temporary.path)
        else {
            throw FileError(code: .unwritable, message: "cannot write the key file next to \(path)")
        }
        do {
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
            // rename(2) replaces the old file atomically: a reader sees the old ring or the new one.
            guard rename(temporary.path, path) == 0 else {
                throw FileError(code: .unwritable, message: "cannot replace the key file at \(path)")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw FileError(code: .unwritable, message: "cannot write the key file at \(path)")
        }
    }
}
