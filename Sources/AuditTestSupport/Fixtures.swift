public import Foundation

/// The project's `fixtures/` folder, found from this source file, so every test target and the
/// CLI share one tree. Linked by test targets only.
public enum FixturePath {
    /// `fixtures/`.
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")

    /// A file under `fixtures/`.
    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}

/// A fresh temporary folder for one test's files, inside this test process's own folder,
/// which is removed when the process exits (set `CARETRAIL_KEEP_TEST_FILES=1` to keep it).
public func temporaryFolder() -> URL {
    let url = TestFiles.root.appendingPathComponent(UUID().uuidString)
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The folder that holds every temporary folder of this test process.
enum TestFiles {
    static let root: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("caretrail-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        if ProcessInfo.processInfo.environment["CARETRAIL_KEEP_TEST_FILES"] == nil {
            atexit { try? FileManager.default.removeItem(at: TestFiles.root) }
        }
        return url
    }()
}

/// The first `count` lines of the sample workload, as a file of their own in `folder`.
public func sampleWorkload(lines count: Int, in folder: URL) throws -> String {
    let text = try String(contentsOf: FixturePath.url("workload/sample.jsonl"), encoding: .utf8)
    let lines = text.split(separator: "\n").prefix(count)
    let path = folder.appendingPathComponent("workload-\(count).jsonl").path
    try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Runs a program found on `PATH` (xmllint, curl, openssl, python3) and returns its exit status
/// and what it wrote, standard output and standard error together.
public func runProgram(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
