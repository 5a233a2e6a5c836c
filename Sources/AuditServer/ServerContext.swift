public import AuditStorage
public import Hummingbird

/// The request context of CareTrail's server: Hummingbird's core storage and the API key the
/// request authenticated with.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The caller's key, set by ``APIKeyAuthenticator``.
    public var key: APIKeyRecord?

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }

    /// NDJSON batches may be large.
    public var maxUploadSize: Int { 64 * 1024 * 1024 }
}
