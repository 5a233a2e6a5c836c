import AuditStorage
public import CareTrail
import HTTPTypes
public import Hummingbird

/// Authenticates every request by its bearer API key, but those to the public routes
/// (`/health`, `/fhir/metadata`, the signed checkpoint and its verifier key, and `/metrics`
/// unless it is configured to need a key): a
/// missing, unknown or revoked key is answered 401 before any handler runs.
public struct APIKeyAuthenticator: RouterMiddleware {
    public typealias Context = ServerContext
    let log: AuditLog
    let publicPaths: Set<String>

    public init(log: AuditLog, metricsNeedKey: Bool = false) {
        self.log = log
        let open: Set<String> = ["/health", "/fhir/metadata", "/v1/checkpoint", "/v1/checkpoint/key"]
        publicPaths = metricsNeedKey ? open : open.union(["/metrics"])
    }

    public func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws
        -> Response
    {
        // The console authenticates by its own session cookie.
        let path = request.uri.path
        if publicPaths.contains(path) || path == "/ui" || path.hasPrefix("/ui/") { return try await next(request, context) }
        guard let header = request.headers[.authorization], let secret = Self.bearerToken(header),
            let key = log.authenticate(secret: secret)
        else { throw APIError.unauthorized }
        var context = context
        context.key = key
        return try await next(request, context)
    }

    /// The token of an `Authorization: Bearer <token>` header, without the spaces or tabs
    /// around it; `nil` for any other scheme or an empty token.
    static func bearerToken(_ header: String) -> String? {
        let bytes = header.utf8
        guard bytes.starts(with: "Bearer ".utf8) else { return nil }
        let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        let rest = bytes.dropFirst(7)
        guard let first = rest.firstIndex(where: { !blank($0) }), let last = rest.lastIndex(where: { !blank($0) }) else { return nil }
        return String(header[first...last])
    }
}
