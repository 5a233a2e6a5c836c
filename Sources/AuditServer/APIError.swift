import AuditChain
public import AuditCore
import CareTrail
public import Hummingbird

/// An error answered as RFC 9457 problem details (`application/problem+json`):
///
/// ```json
/// {"type": "urn:caretrail:problem:invalid_records", "title": "Invalid records", "status": 422,
///  "detail": "2 bad record(s); nothing was appended", "code": "invalid_records",
///  "errors": [{"line": 3, "field": "purpose_of_use", "code": "unknown_purpose", "message": "..."}]}
/// ```
///
/// `type` names the problem by its stable `code` (also given as an extension member), and
/// `errors` lists a batch's bad records by line and field. Messages never contain PHI: record
/// errors name the field and line, never the value.
public struct APIError: HTTPResponseError {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var recordErrors: [IngestError] = []
    /// Seconds a client should wait before retrying (`Retry-After`), for 503 and 429 answers.
    public var retryAfter: Int?

    public init(
        _ status: HTTPResponse.Status, code: String, message: String, recordErrors: [IngestError] = [], retryAfter: Int? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.recordErrors = recordErrors
        self.retryAfter = retryAfter ?? (status == .serviceUnavailable ? Self.defaultRetryAfter : nil)
    }

    /// What a 503 asks clients to wait, in seconds, unless the error says otherwise.
    static let defaultRetryAfter = 1

    /// The media type of every error answer.
    static let problemContentType = "application/problem+json"

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var problem: [String: JSONValue] = [
            "type": .string("urn:caretrail:problem:\(code)"), "title": .string(Self.title(status)),
            "status": .number(Double(status.code)), "detail": .string(message), "code": .string(code),
        ]
        if !recordErrors.isEmpty {
            problem["errors"] = .array(
                recordErrors.map { record in
                    .object([
                        "code": .string(record.code.rawValue), "field": record.field.map(JSONValue.string) ?? .null,
                        "line": record.line.map { .number(Double($0)) } ?? .null, "message": .string(record.message),
                    ])
                })
        }
        var response = JSONResponse.make(.object(problem), status: status)
        response.headers[.contentType] = Self.problemContentType
        if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }

    /// The status's reason phrase, the problem's `title`.
    static func title(_ status: HTTPResponse.Status) -> String {
        status.reasonPhrase.isEmpty ? "Error \(status.code)" : status.reasonPhrase
    }

    static let unauthorized = APIError(
        .unauthorized, code: "unauthorized", message: "a valid API key is required: Authorization: Bearer <secret>")
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, code: "forbidden", message: message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message: message) }
    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, code: "bad_request", message: message) }
    /// Records that break the ingest contract: 422, each bad record named by line and field.
    static func invalidRecords(_ message: String, _ errors: [IngestError]) -> APIError {
        APIError(.unprocessableContent, code: "invalid_records", message: message, recordErrors: errors)
    }

    /// Any error as the problem it is answered with: Hummingbird's own (an unknown route, a
    /// body over the limit) keep their status with a code of their own; an error nobody
    /// expected is a 500 whose detail says nothing of its cause.
    static func from(_ error: any Error) -> APIError {
        if let error = error as? APIError { return error }
        // The library's errors keep their code and their PHI-free message.
        if let error = error as? CareTrailError {
            return APIError(error.status, code: error.code.rawValue, message: error.message, recordErrors: error.recordErrors)
        }
        if let error = error as? any HTTPResponseError {
            let status = error.status
            let code: String
            switch status {
            case .notFound: code = "not_found"
            case .contentTooLarge: code = "body_too_large"
            case .methodNotAllowed: code = "method_not_allowed"
            case .badRequest: code = "bad_request"
            case .unsupportedMediaType: code = "unsupported_media_type"
            case .serviceUnavailable: code = "unavailable"
            default: code = status.code < 500 ? "bad_request" : "internal"
            }
            let message: String
            switch status {
            case .contentTooLarge: message = "the request body is over the limit of this route"
            case .notFound: message = "no such route or resource"
            case .methodNotAllowed: message = "this route does not take that method"
            default: message = status.code < 500 ? "the request was refused" : "the request failed"
            }
            return APIError(status, code: code, message: message)
        }
        return APIError(.internalServerError, code: "internal", message: "the request failed")
    }
}

/// Answers every error as problem details (``APIError``), whatever threw it: the handlers,
/// the authenticator, Hummingbird's router and body collection.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws
        -> Response
    {
        do {
            let response = try await next(request, context)
            // The router answers an unknown route with an empty 404 rather than throwing.
            if response.status == .notFound, response.headers[.contentType] == nil {
                return try APIError.from(HTTPError(.notFound)).response(from: request, context: context)
            }
            return response
        } catch {
            return try APIError.from(error).response(from: request, context: context)
        }
    }
}

/// JSON responses.
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var bytes: [UInt8] = []
        CanonicalJSON.write(value, into: &bytes)
        return make(canonical: bytes, status: status)
    }

    /// JSON already in canonical form, as bytes.
    static func make(canonical bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(bytes.count + 1)
        buffer.writeBytes(bytes)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }

    static func text(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
