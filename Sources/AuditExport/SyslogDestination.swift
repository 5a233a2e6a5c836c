import Foundation
import NIOCore
import NIOPosix
public import NIOSSL

/// Syslog over TCP, or over TLS (RFC 5425: TLS 1.2 or later, the server's certificate checked
/// against the given CA, optionally a client certificate for mutual TLS), framed by octet
/// counting (RFC 6587: `LENGTH SP MESSAGE`).
public final class SyslogDestination: SIEMDestination {
    public let name: String
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    /// Connects; with `tls`, every write waits for the handshake, which fails on a wrong CA.
    public init(host: String, port: Int, tls: TLSConfiguration?) throws {
        name = "syslog+\(tls == nil ? "tcp" : "tls")://\(host):\(port)"
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
            guard let sslContext else { return channel.eventLoop.makeSucceededVoidFuture() }
            return channel.eventLoop.makeCompletedFuture {
                let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: host.first?.isNumber == true ? nil : host)
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw SIEMError(message: "cannot connect to \(name): \(error)")
        }
    }

    /// A TLS client configuration: TLS 1.2+, the server checked against `ca`, and a client
    /// certificate when both `certificate` and `key` are given.
    public static func tlsConfiguration(ca: String, certificate: String?, key: String?) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
        if let certificate, let key {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return configuration
    }

    public func send(_ messages: [[UInt8]]) throws {
        var buffer = channel.allocator.buffer(capacity: messages.reduce(0) { $0 + $1.count + 8 })
        for message in messages {
            buffer.writeString("\(message.count) ")
            buffer.writeBytes(message)
        }
        do {
            try channel.writeAndFlush(buffer).wait()
        } catch {
            throw SIEMError(message: "\(name) did not take the messages: \(error)")
        }
    }

    public func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}
