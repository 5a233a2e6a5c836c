import AuditStore
import Foundation
public import CareTrail
public import Hummingbird
import HTTPTypes

/// Authenticates every request but `/health` by its bearer API key: a missing, unknown or
/// revoked key is answered 401 before any handler runs.
public struct APIKeyAuthenticator: RouterMiddleware {
    public typealias Context = ServerContext
    let log: AuditLog

    public init(log: AuditLog) {
        self.log = log
    }

    public func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health" { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            let key = log.authenticate(secret: String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces))
        else { throw APIError.unauthorized }
        var context = context
        context.key = key
        return try await next(request, context)
    }
}
