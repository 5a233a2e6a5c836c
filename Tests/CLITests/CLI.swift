import AuditCore
import AuditTestSupport
import Foundation
import Testing

/// Runs the built `caretrail` executable, as a user or script would.
enum CLI {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The executable sits beside the test bundle in the build products folder.
    static let binary: URL = {
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL,
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            FixturePath.root.deletingLastPathComponent().appendingPathComponent(".build/debug"),
        ]
        for folder in candidates {
            let url = folder.appendingPathComponent("caretrail")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return candidates[0].appendingPathComponent("caretrail")
    }()

    /// Sends `signal` to a process started through `faketime` and its group (Foundation starts
    /// each child in a group of its own; faketime runs the command in a child), waits for it,
    /// then removes the shared-memory files the wrapper keeps under its process id: killed, it
    /// leaves them, and a later faketime given the same id fails with "sem_open: File exists".
    static func stopFaketime(_ process: Process, signal: Int32) {
        kill(-process.processIdentifier, signal)
        process.waitUntilExit()
        for name in ["faketime_shm_\(process.processIdentifier)", "sem.faketime_sem_\(process.processIdentifier)"] {
            try? FileManager.default.removeItem(atPath: "/dev/shm/" + name)
        }
    }

    /// Runs the executable with `arguments`; with a `launcher` (`["/usr/bin/faketime", DATE]`),
    /// through it.
    static func run(
        _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, launcher: [String] = [], in folder: URL
    ) throws -> Output {
        let process = Process()
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.currentDirectoryURL = folder
        var env = ProcessInfo.processInfo.environment
        env["CARETRAIL_DB"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let id = UUID().uuidString
        let outURL = folder.appendingPathComponent("stdout-\(id)")
        let errURL = folder.appendingPathComponent("stderr-\(id)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        if let stdin {
            let inURL = folder.appendingPathComponent("stdin-\(id)")
            try stdin.write(to: inURL, atomically: true, encoding: .utf8)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        }
        try process.run()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        )
    }
}

/// A temporary folder with a database path, and the executable run inside it.
struct CLISession {
    let folder = temporaryFolder()
    var db: String { folder.appendingPathComponent("audit.sqlite").path }

    func caretrail(_ arguments: String...) throws -> CLI.Output {
        try CLI.run(arguments, in: folder)
    }

    /// The output's standard output, parsed as JSON.
    func json(_ output: CLI.Output) throws -> JSONValue {
        try JSONParser.parse(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Runs the executable and returns its peak resident memory, measured by the kernel.
func peakResidentKilobytes(_ arguments: [String]) throws -> Int {
    let script =
        "import resource, subprocess, sys\nstatus = subprocess.run(sys.argv[1:]).returncode\n"
        + "print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, CLI.binary.path] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let parts = output.split(separator: " ").map { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    #expect(parts.first == 0, "the command exits 0")
    return try #require(parts.last ?? nil)
}
