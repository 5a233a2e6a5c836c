public import AuditStorage
public import Hummingbird

/// The request context of CareTrail's server: Hummingbird's core storage and the API key the
/// request authenticated with.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller's key, set by ``APIKeyAuthenticator``.
    public var key: APIKeyRecord?
    /// The console session of a request to `/ui/`, set by the console's middleware.
    public var session: ConsoleSession?
    /// The form a console POST sent, read once by the console's middleware.
    var form = ConsoleForm()

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    /// NDJSON batches may be large.
    public var maxUploadSize: Int { 64 * 1024 * 1024 }
}
