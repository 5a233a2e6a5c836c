import AuditChain
public import AuditCore
public import Hummingbird

/// An error answered as JSON: `{"error": {"code", "message", "errors"?}}`. Messages never
/// contain PHI: record errors name the field and line, never the value.
public struct APIError: HTTPResponseError {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var recordErrors: [IngestError] = []

    public init(_ status: HTTPResponse.Status, code: String, message: String, recordErrors: [IngestError] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.recordErrors = recordErrors
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if !recordErrors.isEmpty {
            error["errors"] = .array(recordErrors.map { record in
                .object([
                    "code": .string(record.code.rawValue), "field": record.field.map(JSONValue.string) ?? .null,
                    "line": record.line.map { .number(Double($0)) } ?? .null, "message": .string(record.message),
                ])
            })
        }
        return JSONResponse.make(.object(["error": .object(error)]), status: status)
    }

    static let unauthorized = APIError(.unauthorized, code: "unauthorized", message: "a valid API key is required: Authorization: Bearer <secret>")
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, code: "forbidden", message: message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message: message) }
    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, code: "bad_request", message: message) }
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
