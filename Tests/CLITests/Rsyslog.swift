import AuditTestSupport
import Foundation
import Testing

/// A real rsyslog collector on a loopback port, run as the test's own user with a
/// configuration written for it: octet-counted syslog over TCP, or over TLS (gtls) with the
/// test CA's server certificate, optionally requiring a client certificate. It writes every
/// message it receives, as received, one per line, to `output`. Its main queue is direct, so a
/// message is in the file before rsyslog reads further: what it read, it kept.
final class Rsyslog {
    static let executable = ["/usr/sbin/rsyslogd", "/usr/bin/rsyslogd"].first { FileManager.default.isExecutableFile(atPath: $0) }

    let folder: URL
    let port: Int
    let output: String
    private var process: Process?

    /// TLS files for the collector: its certificate and key, the CA it trusts for clients,
    /// and whether a client certificate is required (ATNA mutual TLS).
    struct TLS {
        var certificate: String
        var key: String
        var ca: String
        var requireClientCertificate = false
    }

    init(folder: URL, port: Int, tls: TLS? = nil) throws {
        self.folder = folder.appendingPathComponent("rsyslog-\(port)")
        self.port = port
        try FileManager.default.createDirectory(at: self.folder, withIntermediateDirectories: true)
        output = self.folder.appendingPathComponent("received.log").path
        var global = #"workDirectory="\#(self.folder.path)" maxMessageSize="256k""#
        var module = #"module(load="imtcp")"#
        if let tls {
            global +=
                #" defaultNetstreamDriverCAFile="\#(tls.ca)" defaultNetstreamDriverCertFile="\#(tls.certificate)" defaultNetstreamDriverKeyFile="\#(tls.key)""#
            let mode = tls.requireClientCertificate ? "x509/certvalid" : "anon"
            module = #"module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="\#(mode)")"#
        }
        let configuration = """
            global(\(global))
            \(module)
            main_queue(queue.type="Direct")
            template(name="asReceived" type="string" string="%rawmsg%\\n")
            input(type="imtcp" port="\(port)")
            action(type="omfile" file="\(output)" template="asReceived")

            """
        try configuration.write(to: self.folder.appendingPathComponent("rsyslog.conf"), atomically: true, encoding: .utf8)
        try start()
    }

    /// Starts rsyslogd in the foreground and returns once it accepts connections.
    func start() throws {
        let executable = try #require(Self.executable, "rsyslogd is not installed (.ci/run installs rsyslog and rsyslog-gnutls)")
        let process = unblockedProcess(executable)
        process.arguments! += [
            "-n", "-f", folder.appendingPathComponent("rsyslog.conf").path, "-i", folder.appendingPathComponent("rsyslog.pid").path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while !Self.accepts(port: port) {
            guard Date() < deadline, process.isRunning else {
                Issue.record("rsyslogd did not start listening on \(port)")
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Stops rsyslogd as an administrator would (SIGTERM) and waits for it to exit.
    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            Issue.record("rsyslogd did not stop on SIGTERM")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        self.process = nil
    }

    /// Freezes rsyslogd (SIGSTOP): it reads nothing and closes nothing (the kernel still
    /// completes connections and buffers what they send).
    func pause() {
        if let process, process.isRunning { kill(process.processIdentifier, SIGSTOP) }
    }

    /// Lets a frozen rsyslogd go on (SIGCONT).
    func resume() {
        if let process, process.isRunning { kill(process.processIdentifier, SIGCONT) }
    }

    deinit { stop() }

    /// The messages received so far.
    var received: [String] {
        ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The `seq` parameter of every message received, in order.
    var sequenceNumbers: [Int] { received.compactMap(Self.seq) }

    /// The `seq` of every entry message received (not checkpoints), in order, found wherever
    /// a message starts: after a crash, a message cut short may share its line with the next.
    var entrySequenceNumbers: [Int] {
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let pattern = /caretrail - ([A-Z]+) \[caretrail@32473 seq="([0-9]+)"/
        return text.matches(of: pattern).compactMap { $0.output.1 == "CHECKPOINT" ? nil : Int($0.output.2) }
    }

    static func seq(_ line: String) -> Int? {
        guard let range = line.range(of: #"seq=""#) else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// Waits until `condition` holds for what was received, up to `seconds`.
    func wait(seconds: Double = 30, until condition: ([Int]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(sequenceNumbers) { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return condition(sequenceNumbers)
    }

    /// Whether something accepts TCP connections on the loopback port (the probe sends nothing).
    static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// A test PKI made with openssl: a CA, a collector certificate for 127.0.0.1 and a client
/// certificate it signed, and a second CA that signed nothing used here.
struct TestPKI {
    let folder: String
    var ca: String { "\(folder)/ca.pem" }
    var serverCertificate: String { "\(folder)/server.pem" }
    var serverKey: String { "\(folder)/server.key" }
    var clientCertificate: String { "\(folder)/client.pem" }
    var clientKey: String { "\(folder)/client.key" }
    var otherCA: String { "\(folder)/other.pem" }

    init(in folder: URL) throws {
        self.folder = folder.path
        let f = self.folder
        try Self.openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(f)/ca.key", "-out", "\(f)/ca.pem", "-days", "1", "-subj",
            "/CN=Test CA",
        ])
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: "\(f)/san.ext", atomically: true, encoding: .utf8)
        for name in ["server", "client"] {
            try Self.openssl([
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(f)/\(name).key", "-out", "\(f)/\(name).csr", "-subj", "/CN=127.0.0.1",
            ])
            try Self.openssl([
                "x509", "-req", "-in", "\(f)/\(name).csr", "-CA", "\(f)/ca.pem", "-CAkey", "\(f)/ca.key", "-CAcreateserial",
                "-out", "\(f)/\(name).pem", "-days", "1", "-extfile", "\(f)/san.ext",
            ])
        }
        try Self.openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(f)/other.key", "-out", "\(f)/other.pem", "-days", "1", "-subj",
            "/CN=Other CA",
        ])
    }

    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "openssl \(arguments.first ?? "") failed")
    }
}

/// A process for `executable` that starts with no signal blocked. Test threads block signals,
/// and a child inherits its spawning thread's mask: rsyslogd would then never see SIGTERM.
func unblockedProcess(_ executable: String) -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
    process.arguments = ["python3", "-c", unblock, executable]
    return process
}

/// A free loopback port in `range`. Each test that listens has a range of its own, all below
/// Linux's ephemeral ports (32768 and up), so that tests running in parallel, and the
/// connections they open, never pick the same port: S3 test servers 19,000–19,999; rsyslog
/// collectors 20,000–25,999; the server that streams 26,000–26,999; the crash test's server
/// 27,000–28,999; the TLS server 29,000–29,999; the Python collectors 30,000–32,700.
func freePort(in range: ClosedRange<Int> = 20_000...25_999) -> Int {
    while true {
        let port = Int.random(in: range)
        if !Rsyslog.accepts(port: port) { return port }
    }
}
