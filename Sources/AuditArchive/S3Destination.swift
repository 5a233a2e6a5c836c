import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// An archive in an S3-compatible bucket, `s3://bucket/prefix`, spoken to over HTTP with
/// AWS Signature Version 4 and path-style addresses, which every S3-compatible server accepts.
///
/// Settings come from the standard AWS environment variables: `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (optional), `AWS_REGION` or
/// `AWS_DEFAULT_REGION` (default `us-east-1`), and `AWS_ENDPOINT_URL_S3` or
/// `AWS_ENDPOINT_URL` for a server other than AWS's. An object is written in one `PUT`,
/// which S3 applies whole or not at all.
public struct S3Destination: ArchiveDestination {
    public let bucket: String
    /// The key prefix, empty or ending in `/`.
    public let prefix: String
    let endpoint: URL
    let region: String
    let accessKey: String
    let secretKey: String
    let sessionToken: String?
    /// How long one request may take.
    let timeout: TimeAmount = .seconds(60)

    public init(url text: String, environment: [String: String]) throws(ArchiveError) {
        let rest = text.dropFirst("s3://".count)
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let bucket = String(parts.first ?? "")
        guard (3...63).contains(bucket.count),
            bucket.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") })
        else {
            throw ArchiveError(
                code: .invalidDestination,
                message: "s3://BUCKET/prefix: a bucket name of 3 to 63 lower-case letters, digits, dots and hyphens")
        }
        var prefix = parts.count > 1 ? String(parts[1]) : ""
        if !prefix.isEmpty, !prefix.hasSuffix("/") { prefix += "/" }
        guard prefix.utf8.count <= 512, !prefix.hasPrefix("/") else {
            throw ArchiveError(code: .invalidDestination, message: "s3://bucket/PREFIX: a prefix of at most 512 bytes, not starting with /")
        }
        func setting(_ names: String...) -> String? {
            names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        guard let accessKey = setting("AWS_ACCESS_KEY_ID"), let secretKey = setting("AWS_SECRET_ACCESS_KEY") else {
            throw ArchiveError(
                code: .invalidDestination,
                message: "an s3:// destination needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
        }
        let region = setting("AWS_REGION", "AWS_DEFAULT_REGION") ?? "us-east-1"
        let endpointText = setting("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL") ?? "https://s3.\(region).amazonaws.com"
        guard let endpoint = URL(string: endpointText), let scheme = endpoint.scheme, ["http", "https"].contains(scheme),
            endpoint.host != nil
        else {
            throw ArchiveError(code: .invalidDestination, message: "AWS_ENDPOINT_URL: an http or https URL")
        }
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = setting("AWS_SESSION_TOKEN")
    }

    public var address: String { "s3://\(bucket)/\(prefix)" }

    public func put(_ name: String, _ bytes: [UInt8]) async throws(ArchiveError) {
        try DirectoryDestination.checkName(name)
        let response = try await send(.PUT, key: prefix + name, body: bytes)
        guard response.status == .ok else { throw failure("cannot write \(name)", response) }
    }

    public func get(_ name: String) async throws(ArchiveError) -> [UInt8]? {
        try DirectoryDestination.checkName(name)
        let response = try await send(.GET, key: prefix + name)
        if response.status == .notFound { return nil }
        guard response.status == .ok else { throw failure("cannot read \(name)", response) }
        return response.body
    }

    public func list() async throws(ArchiveError) -> [String] {
        var names: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send(.GET, key: nil, query: query)
            guard response.status == .ok else { throw failure("cannot list", response) }
            let xml = String(decoding: response.body, as: UTF8.self)
            for key in Self.elements("Key", in: xml) where key.hasPrefix(prefix) {
                let name = String(key.dropFirst(prefix.count))
                if !name.contains("/"), !name.isEmpty { names.append(name) }
            }
            token = Self.elements("IsTruncated", in: xml).first == "true" ? Self.elements("NextContinuationToken", in: xml).first : nil
        } while token != nil
        return names
    }

    public func delete(_ name: String) async throws(ArchiveError) {
        try DirectoryDestination.checkName(name)
        let response = try await send(.DELETE, key: prefix + name)
        guard response.status == .noContent || response.status == .ok || response.status == .notFound else {
            throw failure("cannot delete \(name)", response)
        }
    }

    private struct Response {
        var status: HTTPResponseStatus
        var body: [UInt8]
    }

    private func failure(_ what: String, _ response: Response) -> ArchiveError {
        let code = Self.elements("Code", in: String(decoding: response.body.prefix(4096), as: UTF8.self)).first
        return ArchiveError(
            code: .destination, message: "\(address): \(what)", cause: "HTTP \(response.status.code)\(code.map { " \($0)" } ?? "")")
    }

    /// Sends one signed request; `key` nil addresses the bucket itself.
    private func send(_ method: HTTPMethod, key: String?, query: [(String, String)] = [], body: [UInt8] = []) async throws(ArchiveError)
        -> Response
    {
        let basePath = endpoint.path.hasSuffix("/") ? String(endpoint.path.dropLast()) : endpoint.path
        let path =
            basePath + "/" + Self.encode(bucket)
            + (key.map {
                "/" + $0.split(separator: "/", omittingEmptySubsequences: false).map { Self.encode(String($0)) }.joined(separator: "/")
            } ?? "/")
        let canonicalQuery = query.map { (Self.encode($0.0), Self.encode($0.1)) }.sorted { $0 < $1 }.map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
        var host = endpoint.host ?? ""
        if let port = endpoint.port { host += ":\(port)" }
        let now = Date()
        let amzDate = Self.format(now, "yyyyMMdd'T'HHmmss'Z'")
        let day = String(amzDate.prefix(8))
        let payloadHash = Self.hex(SHA256.hash(data: body))
        var headers: [(String, String)] = [("host", host), ("x-amz-content-sha256", payloadHash), ("x-amz-date", amzDate)]
        if let sessionToken { headers.append(("x-amz-security-token", sessionToken)) }
        headers.sort { $0.0 < $1.0 }
        let signedHeaders = headers.map(\.0).joined(separator: ";")
        let canonicalRequest = [
            method.rawValue, path, canonicalQuery, headers.map { "\($0.0):\($0.1)\n" }.joined(), signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/s3/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        var signingKey = SymmetricKey(data: Array("AWS4\(secretKey)".utf8))
        for part in [day, region, "s3", "aws4_request"] {
            signingKey = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: signingKey)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey))
        var request = HTTPClientRequest(
            url: "\(endpoint.scheme ?? "https")://\(host)\(path)\(canonicalQuery.isEmpty ? "" : "?" + canonicalQuery)")
        request.method = method
        for (name, value) in headers where name != "host" { request.headers.add(name: name, value: value) }
        request.headers.add(
            name: "Authorization",
            value: "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)")
        if method == .PUT {
            request.headers.add(name: "Content-Length", value: "\(body.count)")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            var collected = try await response.body.collect(upTo: 1 << 30)
            return Response(status: response.status, body: collected.readBytes(length: collected.readableBytes) ?? [])
        } catch {
            throw ArchiveError(code: .destination, message: "\(address): the server did not answer", cause: "\(error)")
        }
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4 asks.
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// The texts of every `<name>` element of a small S3 XML answer, entities decoded.
    static func elements(_ name: String, in xml: String) -> [String] {
        var values: [String] = []
        var rest = xml[...]
        while let open = rest.range(of: "<\(name)>"), let close = rest.range(of: "</\(name)>", range: open.upperBound..<rest.endIndex) {
            let raw = rest[open.upperBound..<close.lowerBound]
            values.append(
                raw.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                    .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
                    .replacingOccurrences(of: "&amp;", with: "&"))
            rest = rest[close.upperBound...]
        }
        return values
    }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    private static func format(_ date: Date, _ pattern: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = pattern
        return formatter.string(from: date)
    }
}
