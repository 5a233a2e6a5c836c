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
/// end. The TCP connection must then end with a FIN: a collector that closes while some of
/// our bytes sit unread in its kernel makes the kernel answer with a reset instead, even when
/// it sent a TLS `close_notify` first (rsyslog does so when it is stopped). A reset, an early
/// close or no answer within ``confirmationTimeout`` means the session's messages are not
/// confirmed, and they are sent again. The next ``send(_:)`` opens a new connection.
public final class SyslogDestination: SIEMDestination {
    public let name: String
    /// How long ``confirm()`` waits for the collector to close its side.
    public var confirmationTimeout: Double = 10
    private let host: String
    private let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let sslContext: NIOSSLContext?
    private var session: Session?
    /// The last write, still in flight: a send returns once its bytes are handed to the event
    /// loop, and the next send (or the confirmation) waits for them first, so the next chunk is
    /// rendered while this one is encrypted and written.
    private var inFlight: EventLoopFuture<Void>?

    /// One connection: its channel and the watcher that sees how it ends.
    private struct Session {
        let channel: any Channel
        let end: SessionEnd
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
        let end = SessionEnd(promise: loop.makePromise())
        let sslContext = self.sslContext
        let host = self.host
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            // The collector's FIN arrives as an event instead of closing the channel, so that
            // it can be told apart from a reset.
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(TransportWatcher(end: end))
                    if let sslContext {
                        let handler = try NIOSSLClientHandler(
                            context: sslContext, serverHostname: host.first?.isNumber == true ? nil : host)
                        try operations.addHandler(handler)
                    }
                    try operations.addHandler(SessionWatcher(end: end))
                }
            }
        let channel: any Channel
        do {
            channel = try bootstrap.connect(host: host, port: port).wait()
        } catch {
            end.fail(error)  // no channel will complete it
            throw SIEMError(code: .unreachable, message: "cannot connect to \(name): \(error)")
        }
        return Session(channel: channel, end: end)
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
        try awaitInFlight()
        inFlight = session.channel.writeAndFlush(buffer)
    }

    /// Waits for the write in flight; a failed one ends the session.
    private func awaitInFlight() throws(SIEMError) {
        guard let write = inFlight else { return }
        inFlight = nil
        do {
            try write.wait()
        } catch {
            abandon()
            let code: SIEMError.Code = error is NIOSSLError ? .tls : .notAccepted
            throw SIEMError(code: code, message: "\(name) did not take the messages: \(error)")
        }
    }

    public func confirm() throws(SIEMError) {
        try awaitInFlight()
        guard let session else { return }
        self.session = nil
        let channel = session.channel
        let end = session.end
        end.ourEndSent.store(true, ordering: .sequentiallyConsistent)
        let name = self.name
        let timeout = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(confirmationTimeout * 1000))) {
            end.fail(SIEMError(code: .notAccepted, message: "\(name) did not close the session in time"))
            channel.close(promise: nil)
        }
        channel.close(mode: .output, promise: nil)
        do {
            try end.promise.futureResult.wait()
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
        inFlight = nil
    }

    public func close() {
        abandon()
        try? group.syncShutdownGracefully()
    }
}

/// How one session ends, seen by the two watchers of its pipeline.
private final class SessionEnd: Sendable {
    let promise: EventLoopPromise<Void>
    /// Set once our side is closed: from then on the collector's close is the confirmation.
    let ourEndSent = Atomic<Bool>(false)
    /// Set when the socket failed: a reset, or any other error below TLS.
    let transportFailed = Atomic<Bool>(false)
    /// Set once the outcome is decided.
    let settled = Atomic<Bool>(false)

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    func succeed() {
        if !settled.exchange(true, ordering: .sequentiallyConsistent) { promise.succeed(()) }
    }

    func fail(_ error: any Error) {
        if !settled.exchange(true, ordering: .sequentiallyConsistent) { promise.fail(error) }
    }

    /// Whether our end was sent and the collector's close is still awaited.
    var awaitingCollectorClose: Bool {
        ourEndSent.load(ordering: .sequentiallyConsistent) && !settled.load(ordering: .sequentiallyConsistent)
    }
}

/// Sits next to the socket, below TLS, and sees how the TCP connection ends. After our
/// half-close, the collector's FIN closes the channel with no error; a reset arrives as an
/// error first. TLS closes the connection as soon as the collector's `close_notify` arrives;
/// while the collector's close is awaited, that close is held back until the FIN or the reset
/// behind it shows whether the collector read everything.
private final class TransportWatcher: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let end: SessionEnd
    private var heldClose: EventLoopPromise<Void>?

    init(end: SessionEnd) { self.end = end }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // The collector's FIN before our end was sent: it stopped early. Nothing more can
        // come, so the connection closes here, whatever TLS would make of it.
        let promise = heldClose
        heldClose = nil
        context.close(promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset, or any other failure of the socket: nothing is confirmed.
        end.transportFailed.store(true, ordering: .sequentiallyConsistent)
        end.fail(error)
        context.fireErrorCaught(error)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, end.awaitingCollectorClose else {
            context.close(mode: mode, promise: promise)
            return
        }
        if let heldClose {
            heldClose.futureResult.cascade(to: promise)
        } else {
            heldClose = promise ?? context.eventLoop.makePromise()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        heldClose?.succeed(())
        heldClose = nil
        context.fireChannelInactive()
    }
}

/// Sees how a session ends above TLS: the connection ending without a socket error after our
/// end was sent (the collector's FIN) confirms it; an error (a failed handshake, a reset) or a
/// close before that does not. Collectors do not send data; anything read is dropped.
private final class SessionWatcher: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let end: SessionEnd

    init(end: SessionEnd) { self.end = end }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A TCP close without TLS close_notify after our end: whether the collector read to the
        // end is decided below TLS, by a FIN or a reset.
        if let tlsError = error as? NIOSSLError, case .uncleanShutdown = tlsError, end.ourEndSent.load(ordering: .sequentiallyConsistent) {
            return
        }
        end.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if end.ourEndSent.load(ordering: .sequentiallyConsistent) && !end.transportFailed.load(ordering: .sequentiallyConsistent) {
            end.succeed()
        } else {
            end.fail(SIEMError(code: .notAccepted, message: "the collector closed the connection before reading to the end"))
        }
        context.fireChannelInactive()
    }
}
