/// A destination as the command line and the server configuration name it:
/// `syslog+tls://HOST:PORT`, `syslog+tcp://HOST:PORT` or `file:PATH`, with the TLS files.
/// Parsing checks everything that can be checked without connecting.
public struct SIEMTarget: Sendable, Hashable {
    public enum Transport: Sendable, Hashable {
        case file(path: String)
        case syslogTCP(host: String, port: Int)
        case syslogTLS(host: String, port: Int, ca: String, certificate: String?, key: String?)
    }

    public var transport: Transport

    /// Parses `to`; `ca` is required for `syslog+tls`, `certificate` and `key` go together.
    public init(_ to: String, ca: String? = nil, certificate: String? = nil, key: String? = nil) throws(SIEMError) {
        if to.hasPrefix("file:"), to.count > 5 {
            transport = .file(path: String(to.dropFirst(5)))
            return
        }
        for scheme in ["syslog+tls://", "syslog+tcp://"] where to.hasPrefix(scheme) {
            let address = to.dropFirst(scheme.count)
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                (1...65_535).contains(port),
                colon > address.startIndex
            else {
                throw SIEMError(code: .invalidTarget, message: "--to: expected \(scheme)HOST:PORT")
            }
            var host = String(address[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard scheme == "syslog+tls://" else {
                transport = .syslogTCP(host: host, port: port)
                return
            }
            guard let ca else { throw SIEMError(code: .invalidTarget, message: "--ca is required for syslog+tls") }
            guard (certificate == nil) == (key == nil) else {
                throw SIEMError(code: .invalidTarget, message: "--cert and --key go together")
            }
            transport = .syslogTLS(host: host, port: port, ca: ca, certificate: certificate, key: key)
            return
        }
        throw SIEMError(code: .invalidTarget, message: "--to: expected syslog+tls://HOST:PORT, syslog+tcp://HOST:PORT or file:PATH")
    }

    /// The destination's name, which keys its cursor: `file:PATH`, `syslog+tcp://HOST:PORT`
    /// or `syslog+tls://HOST:PORT`.
    public var name: String {
        switch transport {
        case .file(let path): "file:" + path
        case .syslogTCP(let host, let port): "syslog+tcp://\(host):\(port)"
        case .syslogTLS(let host, let port, _, _, _): "syslog+tls://\(host):\(port)"
        }
    }

    /// Opens the destination (connecting, for syslog).
    public func open() throws(SIEMError) -> any SIEMDestination {
        switch transport {
        case .file(let path):
            return try FileDestination(path: path)
        case .syslogTCP(let host, let port):
            return try SyslogDestination(host: host, port: port, tls: nil)
        case .syslogTLS(let host, let port, let ca, let certificate, let key):
            let tls = try SyslogDestination.tlsConfiguration(ca: ca, certificate: certificate, key: key)
            return try SyslogDestination(host: host, port: port, tls: tls)
        }
    }
}
