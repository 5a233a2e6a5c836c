import Foundation
import NIOCore
import NIOPosix
public import NIOSSL
import Synchronization

/// Syslog over TCP, or over TLS (RFC 5425: TLS 1.2 or later, the server's certificate checked
/// against the given CA, optionally a client certificate for mutual TLS), framed by octet
/// counting (RFC 6587: `LENGTH SP MESSAGE`).
///
/// Plain syslog has no acknowledgement: bytes a collector's kernel took may still be lost when
/// the collector stops before reading them. So messages go in sessions: ``confirm()`` closes
/// our side of the connection (TLS `close_notify`, then a TCP half-close) and waits for the
/// collector to close its side, which it does only after it has read everything up to our
/// end. A reset, an early close or no answer within ``confirmationTimeout`` means the
/// session's messages are not confirmed, and they are sent again. The next ``send(_:)``
/// opens a new connection.
public final class SyslogDestination: SIEMDestination {
    public let name: String
    /// How long ``confirm()`` waits for the collector to close its side.
    public var confirmationTimeout: Double = 10
    private let host: String
    private let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let sslContext: NIOSSLContext?
    private var session: Session?

    /// One connection: its channel and the watcher that sees how it ends.
    private struct Session {
        let channel: any Channel
        let watcher: SessionWatcher
    }

    /// Connects at once, so an unreachable collector or a failed TLS handshake (a wrong CA)
    /// is reported before anything is sent.
    public init(host: String, port: Int, tls: TLSConfiguration?) throws(SIEMError) {
        name = "syslog+\(tls == nil ? "tcp" : "tls")://\(host):\(port)"
        self.host = host
        self.port = port
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        } catch {
            try? group.syncShutdownGracefully()
            throw SIEMError(code: .tls, message: "cannot use the TLS configuration for \(name): \(error)")
        }
        do {
            session = try connect()
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// A TLS client configuration: TLS 1.2+, the server checked against `ca`, and a client
    /// certificate when both `certificate` and `key` are given.
    public static func tlsConfiguration(ca: String, certificate: String?, key: String?) throws(SIEMError) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        do {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca))
            if let certificate, let key {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
        } catch {
            throw SIEMError(code: .tls, message: "cannot read the CA, certificate or key: \(error)")
        }
        return configuration
    }

    private func connect() throws(SIEMError) -> Session {
        let loop = group.next()
        let watcher = SessionWatcher(ended: loop.makePromise())
        let sslContext = self.sslContext
        let host = self.host
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: host.first?.isNumber == true ? nil : host)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(watcher)
                }
            }
        let channel: any Channel
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            watcher.ended.fail(error)  // no channel will complete it
            throw SIEMError(code: .unreachable, message: "cannot connect to \(name): \(error)")
        }
        return Session(channel: channel, watcher: watcher)
    }

    public func send(_ messages: [[UInt8]]) throws(SIEMError) {
        let session: Session
        if let current = self.session {
            session = current
        } else {
            session = try connect()
            self.session = session
        }
        var buffer = session.channel.allocator.buffer(capacity: messages.reduce(0) { $0 + $1.count + 8 })
        for message in messages {
            buffer.writeString("\(message.count) ")
            buffer.writeBytes(message)
        }
        do {
            try session.channel.writeAndFlush(buffer).wait()
        } catch {
            abandon()
            let code: SIEMError.Code = error is NIOSSLError ? .tls : .notAccepted
            throw SIEMError(code: code, message: "\(name) did not take the messages: \(error)")
        }
    }

    public func confirm() throws(SIEMError) {
        guard let session else { return }
        self.session = nil
        let channel = session.channel
        let watcher = session.watcher
        watcher.expectingEnd.store(true, ordering: .sequentiallyConsistent)
        let name = self.name
        let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(confirmationTimeout * 1000))) {
            watcher.ended.fail(SIEMError(code: .notAccepted, message: "\(name) did not close the session in time"))
            channel.close(promise: nil)
        }
        channel.close(mode: .output, promise: nil)
        do {
            try watcher.ended.futureResult.wait()
            timeout.cancel()
        } catch {
            timeout.cancel()
            channel.close(promise: nil)
            if let error = error as? SIEMError { throw error }
            throw SIEMError(code: .notAccepted, message: "\(name) did not confirm the session: \(error)")
        }
    }

    /// Drops the current connection without confirming it.
    private func abandon() {
        session?.channel.close(promise: nil)
        session = nil
    }

    public func close() {
        abandon()
        try? group.syncShutdownGracefully()
    }
}

/// Sees how a session ends: the collector closing after our end was sent confirms it; an error
/// or a close before that does not. Collectors do not send data; anything read is dropped.
private final class SessionWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let ended: EventLoopPromise<Void>
    /// Set once our side is closed: from then on the collector's close is the confirmation.
    let expectingEnd = Atomic<Bool>(false)

    init(ended: EventLoopPromise<Void>) { self.ended = ended }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A TCP close without TLS close_notify after our end: the collector read to the end.
        if let tlsError = error as? NIOSSLError, case .uncleanShutdown = tlsError, expectingEnd.load(ordering: .sequentiallyConsistent) {
            return
        }
        ended.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if expectingEnd.load(ordering: .sequentiallyConsistent) {
            ended.succeed(())
        } else {
            ended.fail(SIEMError(code: .notAccepted, message: "the collector closed the connection"))
        }
        context.fireChannelInactive()
    }
}
