import Foundation
import HTTPTypes
import Hummingbird

/// What every console request goes through: the security headers, the session from its
/// cookie (or a redirect to the sign-in page), the form of a POST read once and its CSRF
/// token checked, errors rendered as a page rather than as problem+json, and the server's
/// time in a `Server-Timing` header.
struct ConsoleMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let pages: ConsolePages

    /// No script, no inline style, nothing from elsewhere, no framing.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// Pages anyone may open: the sign-in page and the stylesheet.
    static let openPaths: Set<String> = ["/ui/login", "/ui/style.css"]

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await handleSecured(request, context: context, next: next)
        } catch {
            response = pages.errorPage(error, session: context.session)
        }
        // The server's time for the page, which browsers' developer tools show and the
        // console's benchmark reads (`scripts/bench-console`).
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
        response.headers[.serverTiming] = "app;dur=" + String(format: "%.2f", milliseconds)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "no-referrer"
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func handleSecured(
        _ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        var request = request
        let path = request.uri.path
        if let token = request.cookies[ConsolePages.sessionCookie]?.value {
            context.session = pages.sessions.session(token)
        }
        let open = Self.openPaths.contains(path)
        if !open, context.session == nil {
            return .redirect(to: "/ui/login", type: .normal)
        }
        if request.method == .post {
            let body = try await request.collectBody(upTo: 1 << 16)
            context.form = ConsoleForm(String(buffer: body))
            // Signed in, the token is the session's; at sign-in, the one the login page set.
            let expected = context.session?.formToken ?? request.cookies[ConsolePages.loginCookie]?.value
            guard let expected, let sent = context.form["csrf"], Self.constantTimeEqual(sent, expected) else {
                throw ConsoleProblem(.forbidden, "The form has expired or did not come from this console. Reload the page and try again.")
            }
        }
        return try await next(request, context)
    }

    /// Compares two tokens in time that depends on their length only.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// An application/x-www-form-urlencoded form's fields (the last of a repeated name wins).
struct ConsoleForm: Sendable {
    private var fields: [String: String] = [:]

    init(_ body: String = "") {
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
    }

    subscript(_ name: String) -> String? { fields[name] }
}

/// A console error shown to the officer as a page with `status`; its message holds no PHI.
struct ConsoleProblem: Error {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

extension HTTPField.Name {
    // Names HTTPTypes does not define. Each literal is a valid field name, so the initializer
    // never fails; the fallback only avoids a force unwrap.
    static let xContentTypeOptions = Self("X-Content-Type-Options") ?? .cacheControl
    static let xFrameOptions = Self("X-Frame-Options") ?? .cacheControl
    static let referrerPolicy = Self("Referrer-Policy") ?? .cacheControl
    static let serverTiming = Self("Server-Timing") ?? .cacheControl
}
