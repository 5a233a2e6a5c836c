import AuditStore
import Foundation
public import CareTrail
public import Hummingbird
import HTTPTypes

/// Authenticates every request by its bearer API key, but those to the public routes
/// (`/health`, `/fhir/metadata`, and `/metrics` unless it is configured to need a key): a
/// missing, unknown or revoked key is answered 401 before any handler runs.
public struct APIKeyAuthenticator: RouterMiddleware {
    public typealias Context = ServerContext
    let log: AuditLog
    let publicPaths: Set<String>

    public init(log: AuditLog, metricsNeedKey: Bool = false) {
        self.log = log
        publicPaths = metricsNeedKey ? ["/health", "/fhir/metadata"] : ["/health", "/fhir/metadata", "/metrics"]
    }

    public func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        if publicPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            let key = log.authenticate(secret: String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces))
        else { throw APIError.unauthorized }
        var context = context
        context.key = key
        return try await next(request, context)
    }
}
