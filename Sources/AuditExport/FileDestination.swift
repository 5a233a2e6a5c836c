import Foundation

/// Appends messages to a file, one per line; ``confirm()`` syncs the file to disk.
public final class FileDestination: SIEMDestination {
    public let name: String
    private let handle: FileHandle

    public init(path: String) throws(SIEMError) {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw SIEMError(code: .unreachable, message: "cannot open \(path) for writing")
        }
        handle.seekToEndOfFile()
        self.handle = handle
        self.name = "file:" + path
    }

    public func send(_ messages: [[UInt8]]) throws(SIEMError) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(messages.reduce(0) { $0 + $1.count + 1 })
        for message in messages {
            bytes += message
            if message.last != 0x0A { bytes.append(0x0A) }
        }
        do {
            try handle.write(contentsOf: bytes)
        } catch {
            throw SIEMError(code: .notAccepted, message: "cannot write to \(name): \(error.localizedDescription)")
        }
    }

    public func confirm() throws(SIEMError) {
        do {
            try handle.synchronize()
        } catch {
            throw SIEMError(code: .notAccepted, message: "cannot sync \(name): \(error.localizedDescription)")
        }
    }

    public func close() { try? handle.close() }
}
