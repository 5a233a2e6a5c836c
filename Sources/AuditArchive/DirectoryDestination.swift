public import Foundation

/// An archive in a local directory (or a mounted volume). Each object is written to a
/// temporary file, flushed to disk and renamed into place, so a crash leaves the old object
/// or the new one.
public struct DirectoryDestination: ArchiveDestination {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public var address: String { directory.path }

    public func put(_ name: String, _ bytes: [UInt8]) async throws(ArchiveError) {
        try Self.checkName(name)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let target = directory.appendingPathComponent(name)
            let temporary = directory.appendingPathComponent(".\(name).\(UInt32.random(in: 0...UInt32.max)).tmp")
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
                throw ArchiveError(code: .destination, message: "cannot create \(temporary.lastPathComponent) in \(address)")
            }
            let handle = try FileHandle(forWritingTo: temporary)
            do {
                try handle.write(contentsOf: bytes)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                try? FileManager.default.removeItem(at: temporary)
                throw error
            }
            guard rename(temporary.path, target.path) == 0 else {
                try? FileManager.default.removeItem(at: temporary)
                throw ArchiveError(
                    code: .destination, message: "cannot write \(name) in \(address)", cause: String(cString: strerror(errno)))
            }
            syncDirectory()
        } catch let error as ArchiveError {
            throw error
        } catch {
            throw ArchiveError(code: .destination, message: "cannot write \(name) in \(address)", cause: "\(error)")
        }
    }

    public func get(_ name: String) async throws(ArchiveError) -> [UInt8]? {
        try read(name)
    }

    /// The object `name`, read synchronously, or `nil` when there is none: how
    /// ``ArchivedEntries`` reads data files from inside the synchronous store protocols.
    public func read(_ name: String) throws(ArchiveError) -> [UInt8]? {
        try Self.checkName(name)
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw ArchiveError(code: .destination, message: "cannot read \(name) in \(address)", cause: "\(error)")
        }
    }

    /// Whether the object `name` exists with `bytes` bytes.
    func holds(_ name: String, bytes: Int) throws(ArchiveError) -> Bool {
        try Self.checkName(name)
        let path = directory.appendingPathComponent(name).path
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
        return size == bytes
    }

    public func list() async throws(ArchiveError) -> [String] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".") }
        } catch {
            throw ArchiveError(code: .destination, message: "cannot list \(address)", cause: "\(error)")
        }
    }

    public func delete(_ name: String) async throws(ArchiveError) {
        try Self.checkName(name)
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        do {
            try FileManager.default.removeItem(at: url)
            syncDirectory()
        } catch {
            throw ArchiveError(code: .destination, message: "cannot delete \(name) in \(address)", cause: "\(error)")
        }
    }

    /// Flushes the directory itself, so that a rename or a removal survives a power cut.
    private func syncDirectory() {
        let descriptor = open(directory.path, O_RDONLY)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    static func checkName(_ name: String) throws(ArchiveError) {
        guard !name.isEmpty, !name.hasPrefix("."), !name.contains("/"), name.utf8.count <= 200 else {
            throw ArchiveError(code: .invalidDestination, message: "not an archive object name")
        }
    }
}
