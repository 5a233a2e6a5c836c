import AuditAnalysis
import AuditChain
import AuditCore
public import AuditStorage
public import CareTrail
import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import Prometheus

/// CareTrail's HTTP API: agents append tool calls; privacy officers read entries, traces,
/// timelines, reports and alerts of their tenant and review alerts. Every route but
/// `/health` needs a bearer API key (`caretrail keys create`); the roles:
///
/// - `agent`: `POST /v1/tool-calls` for its own tenant only;
/// - `privacy_officer`: reads and reviews within its tenant;
/// - `siem`: reads entries of its tenant (exports come with the SIEM issue);
/// - `admin`: everything, any tenant.
public enum CareTrailServer {
    /// The application serving `log` on `host:port`; HTTPS (TLS 1.2 or later) when given a
    /// PEM certificate chain and private key. `streams` names the SIEM destinations whose lag
    /// `/metrics` reports; `metricsNeedKey` puts `/metrics` behind a siem or admin key.
    public static func application(
        log: AuditLog, host: String = "127.0.0.1", port: Int = 8080, tls: (certificate: String, key: String)? = nil,
        streams: [String] = [], metricsNeedKey: Bool = false, checkpoints: CheckpointSchedule? = nil,
        retention: RetentionSchedule? = nil, consoleIdleTimeout: Double = 900
    ) throws -> some ApplicationProtocol {
        // A connection that sends or reads nothing for `idleTimeout` is closed, so slow or
        // stalled clients cannot hold connections open.
        let http1 = HTTP1Channel.Configuration(idleTimeout: .seconds(Int64(Self.idleTimeoutSeconds)))
        var server = HTTPServerBuilder.http1(configuration: http1)
        if let tls {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.key, format: .pem))
            )
            configuration.minimumTLSVersion = .tlsv12
            server = try .tls(.http1(configuration: http1), tlsConfiguration: configuration)
        }
        return Application(
            router: router(
                log: log, metrics: ServerMetrics(streams: streams, retention: retention), metricsNeedKey: metricsNeedKey,
                checkpoints: checkpoints, consoleSessions: ConsoleSessions(idleTimeout: consoleIdleTimeout), secureCookies: tls != nil),
            server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "CareTrail"),
            logger: Logger(label: "CareTrail") { ServerLogHandler(label: $0) }
        )
    }

    /// The server of ``application(log:host:port:tls:streams:metricsNeedKey:)``, ready to run:
    /// what `caretrail serve` starts, without its caller naming a Hummingbird type.
    public static func prepare(
        log: AuditLog, host: String, port: Int, tls: (certificate: String, key: String)?, streams: [String], metricsNeedKey: Bool,
        checkpoints: CheckpointSchedule? = nil, retention: RetentionSchedule? = nil, consoleIdleTimeout: Double = 900
    ) throws -> PreparedServer {
        PreparedServer(
            application: try application(
                log: log, host: host, port: port, tls: tls, streams: streams, metricsNeedKey: metricsNeedKey, checkpoints: checkpoints,
                retention: retention, consoleIdleTimeout: consoleIdleTimeout)
        )
    }

    /// Seconds a connection may stay idle (nothing read, nothing written) before it is closed.
    public static let idleTimeoutSeconds = 30
    /// Seconds a client has to send a request body in full.
    public static let bodyTimeoutSeconds = 60

    /// The routes, for the application and for tests without sockets.
    /// `bodyTimeoutSeconds` is how long a client has to send a request body in full;
    /// `checkpoints`, when given, publishes the latest signed checkpoint.
    public static func router(
        log: AuditLog, metrics: ServerMetrics = ServerMetrics(), metricsNeedKey: Bool = false,
        bodyTimeoutSeconds: Int = CareTrailServer.bodyTimeoutSeconds, checkpoints: CheckpointSchedule? = nil,
        consoleSessions: ConsoleSessions = ConsoleSessions(), secureCookies: Bool = false
    ) -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: APIKeyAuthenticator(log: log, metricsNeedKey: metricsNeedKey))
        let api = API(log: log, metrics: metrics, bodyTimeoutSeconds: bodyTimeoutSeconds)
        router.get("/metrics") { _, context in
            if metricsNeedKey { _ = try api.require(context, [.siem, .admin]) }
            return JSONResponse.text(metrics.render(log: log), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/health") { _, _ in try await api.health() }
        router.post("/v1/tool-calls") { request, context in try await api.appendToolCalls(request, context) }
        router.get("/v1/head") { _, context in try api.head(context) }
        router.get("/v1/verify") { _, context in try await api.verify(context) }
        router.get("/v1/entries/:seq") { _, context in try api.entry(context) }
        router.get("/v1/traces/:id") { _, context in try api.trace(context) }
        router.get("/v1/conversations/:id/timeline") { _, context in try api.timeline(context) }
        router.get("/v1/reports/patients/:id") { request, context in try api.patientReport(request, context) }
        router.get("/v1/alerts") { request, context in try api.alerts(request, context) }
        router.post("/v1/alerts/:id/review") { request, context in try await api.review(request, context) }
        let export = ExportStream(log: log, api: api)
        router.get("/v1/export/fhir") { request, context in try export.export(request, context) }
        let fhir = FHIRAPI(log: log, api: api)
        router.get("/fhir/metadata") { request, context in try fhir.metadata(request, context) }
        router.get("/fhir/AuditEvent") { request, context in try fhir.search(request, context) }
        router.get("/fhir/AuditEvent/:id") { request, context in try fhir.read(request, context) }
        // The privacy officers' console. Its templates are constants, parsed here; the console
        // tests render every page, so a template that does not parse fails them.
        if let console = try? ConsolePages(log: log, sessions: consoleSessions, checkpoints: checkpoints, secureCookies: secureCookies) {
            console.addRoutes(to: router)
        }
        let transparency = TransparencyAPI(log: log, api: api, checkpoints: checkpoints)
        router.get("/v1/checkpoint") { _, _ in try transparency.checkpoint() }
        router.get("/v1/checkpoint/key") { _, _ in try transparency.key() }
        router.get("/v1/proof/inclusion") { request, context in try transparency.inclusion(request, context) }
        router.get("/v1/proof/consistency") { request, context in try transparency.consistency(request, context) }
        return router
    }
}

/// The handlers.
struct API: Sendable {
    let log: AuditLog
    let metrics: ServerMetrics
    let healthState: HealthState
    /// Full verifications read the whole log: one at a time.
    let verifications = ConcurrencyLimit(maximum: 1, code: "verify_in_progress", what: "a full verification is")
    /// Each export holds a thread while it streams.
    let exports = ConcurrencyLimit(maximum: 4, code: "too_many_exports", what: "exports are")

    /// Seconds a client has to send a request body.
    let bodyTimeoutSeconds: Int

    init(log: AuditLog, metrics: ServerMetrics, bodyTimeoutSeconds: Int = CareTrailServer.bodyTimeoutSeconds) {
        self.log = log
        self.metrics = metrics
        self.bodyTimeoutSeconds = bodyTimeoutSeconds
        self.healthState = HealthState(store: log.reader)
    }

    /// The caller's key, if its role is one of `roles`.
    func require(_ context: ServerContext, _ roles: Set<APIRole>) throws -> APIKeyRecord {
        guard let key = context.key else { throw APIError.unauthorized }
        guard roles.contains(key.role) else {
            throw APIError.forbidden("a key with role \(key.role.rawValue) may not do this")
        }
        return key
    }

    /// Whether `key` may see or touch data of `tenant`.
    func allows(_ key: APIKeyRecord, tenant: String) -> Bool {
        key.role == .admin || key.tenantID == tenant
    }

    static let readers: Set<APIRole> = [.privacyOfficer, .admin]

    /// Chains the caller's read (see ``AuditAccess``) before the answer is sent.
    func recordRead(_ key: APIKeyRecord, _ query: String, _ parameters: [String: String] = [:], results: Int) throws {
        try log.recordRead(by: key, channel: "api", query, parameters, results: results)
    }

    /// A time from the query string: RFC 3339, or a UTC day (`to` runs to the day's last millisecond).
    static func queryTime(_ request: Request, _ name: String, endOfDay: Bool) throws -> Timestamp? {
        try QueryValue.time(request, name, endOfDay: endOfDay)
    }

    /// Liveness and readiness. Ready means the head can be read and the last append over
    /// HTTP succeeded; it never takes the write lock, so anonymous callers cannot stall
    /// appends. A 503 carries `Retry-After`.
    func health() async throws -> Response {
        let reading = await healthState.read()
        let ready = reading.readable && !healthState.appendsFailing
        var response = JSONResponse.make(
            .object([
                "status": .string(ready ? "ok" : "unavailable"), "live": .bool(true), "ready": .bool(ready),
                "head": reading.head.map(\.jsonValue) ?? .null,
            ]),
            status: ready ? .ok : .serviceUnavailable
        )
        if !ready { response.headers[.retryAfter] = String(APIError.defaultRetryAfter) }
        return response
    }

    func appendToolCalls(_ request: Request, _ context: ServerContext) async throws -> Response {
        let key = try require(context, [.agent, .admin])
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize, within: bodyTimeoutSeconds)
        let tenant = key.role == .admin ? nil : key.tenantID
        do {
            let receipt = try await log.ingest(body: Array(body.readableBytesView), tenant: tenant)
            healthState.appendFinished(succeeded: true)
            metrics.appended.increment(by: Int64(receipt.entries.count))
            return JSONResponse.make(
                .object([
                    "entries": .array(receipt.entries.map(\.jsonValue)), "head": receipt.head.map(\.jsonValue) ?? .null,
                ]),
                status: .created
            )
        } catch {
            switch error.code {
            case .invalidRecords, .noRecords, .forbidden: throw error
            default:
                metrics.appendFailures.increment()
                healthState.appendFinished(succeeded: false)
                throw APIError(.serviceUnavailable, code: "append_failed", message: "the records were not appended; retry")
            }
        }
    }

    func head(_ context: ServerContext) throws -> Response {
        _ = try require(context, Set(APIRole.allCases))
        return JSONResponse.make((try log.head())?.jsonValue ?? .object(["seq": 0, "hash": .string(String(repeating: "0", count: 64))]))
    }

    /// A full verification, one at a time per server (another caller meanwhile gets 429 with
    /// `Retry-After`), run on a thread of its own so request threads stay free.
    func verify(_ context: ServerContext) async throws -> Response {
        _ = try require(context, Self.readers)
        try verifications.acquire()
        defer { verifications.release() }
        let log = self.log
        let report = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<VerificationReport, any Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result { try log.verify() })
            }
        }
        return JSONResponse.make(report.jsonValue)
    }

    func entry(_ context: ServerContext) throws -> Response {
        let key = try require(context, Self.readers.union([.siem]))
        guard let seq = context.parameters.get("seq").flatMap({ Int64($0) }), let entry = try log.entry(seq: seq) else {
            throw APIError.notFound("no such entry")
        }
        guard allows(key, tenant: entry.content.tenantID) else { throw APIError.forbidden("the entry belongs to another tenant") }
        return JSONResponse.make(entry.jsonValue)
    }

    func trace(_ context: ServerContext) throws -> Response {
        let key = try require(context, Self.readers)
        let id = context.parameters.get("id") ?? ""
        let entries = try log.entries(trace: id)
        return try visible(entries, key: key) { count in try recordRead(key, "trace", ["trace": id], results: count) }
    }

    func timeline(_ context: ServerContext) throws -> Response {
        let key = try require(context, Self.readers)
        let id = context.parameters.get("id") ?? ""
        let entries = try log.entries(.conversation(id))
        return try visible(entries, key: key) { count in try recordRead(key, "conversation_timeline", ["conversation": id], results: count)
        }
    }

    /// The entries of the caller's tenant: 404 when there are none, 403 when all are another tenant's.
    /// `record` chains the read of the entries shown, given their count.
    private func visible(_ entries: [StoredEntry], key: APIKeyRecord, record: (Int) throws -> Void) throws -> Response {
        guard !entries.isEmpty else { throw APIError.notFound("nothing found") }
        let mine = entries.filter { allows(key, tenant: $0.content.tenantID) }
        guard !mine.isEmpty else { throw APIError.forbidden("these entries belong to another tenant") }
        try record(mine.count)
        return JSONResponse.make(.object(["entries": .array(mine.map(\.jsonValue))]))
    }

    func patientReport(_ request: Request, _ context: ServerContext) throws -> Response {
        let key = try require(context, Self.readers)
        let query = request.uri.queryParameters
        func time(_ name: String, endOfDay: Bool) throws -> Timestamp? {
            try API.queryTime(request, name, endOfDay: endOfDay)
        }
        var report = try log.patientReport(
            .patientID(context.parameters.get("id") ?? ""), from: try time("from", endOfDay: false), to: try time("to", endOfDay: true)
        )
        if key.role != .admin { report = report.restricted(toTenant: key.tenantID) }
        let format = query["format"].map(String.init) ?? "json"
        try recordRead(
            key, "patient_report",
            [
                "patient": context.parameters.get("id") ?? "", "from": query["from"].map(String.init) ?? "",
                "to": query["to"].map(String.init) ?? "", "format": format,
            ], results: report.totalAccesses)
        switch format {
        case "json": return JSONResponse.make(canonical: report.canonicalJSON)
        case "csv": return JSONResponse.text(report.csv, contentType: "text/csv; charset=utf-8")
        case "html": return JSONResponse.text(report.html, contentType: "text/html; charset=utf-8")
        default: throw APIError.badRequest("format: json, csv or html")
        }
    }

    func alerts(_ request: Request, _ context: ServerContext) throws -> Response {
        let key = try require(context, Self.readers)
        let onlyOpen = request.uri.queryParameters["open"] == "true"
        let alerts = try log.alerts().filter { allows(key, tenant: $0.alert.tenantID) && (!onlyOpen || $0.state == AlertStatus.open) }
        try recordRead(key, "alerts", onlyOpen ? ["open": "true"] : [:], results: alerts.count)
        return JSONResponse.make(.array(alerts.map(\.jsonValue)))
    }

    func review(_ request: Request, _ context: ServerContext) async throws -> Response {
        let key = try require(context, Self.readers)
        let id = context.parameters.get("id") ?? ""
        let alert = try log.alert(id: id)
        guard allows(key, tenant: alert.tenantID) else { throw APIError.forbidden("the alert belongs to another tenant") }
        var request = request
        let body = try await request.collectBody(upTo: 1 << 16, within: bodyTimeoutSeconds)
        guard case .object(let members)? = try? JSONParser.parse(String(buffer: body)),
            let decision = members["decision"]?.stringValue.flatMap(ReviewDecision.init(rawValue:)),
            let note = members["note"]?.stringValue
        else { throw APIError.badRequest("expected {\"decision\": \"justified|unjustified|needs-follow-up\", \"note\": \"...\"}") }
        let head = try log.review(
            alertID: id, by: key.name ?? key.id, otherIdentities: [key.id] + (key.name.map { [$0] } ?? []), decision: decision, note: note
        )
        let status = try log.alerts().first { $0.alert.seq == alert.seq }
        return JSONResponse.make(.object(["review_seq": .number(Double(head.seq)), "alert": status?.jsonValue ?? .null]), status: .created)
    }
}

extension CareTrailError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch code {
        case .invalidRecords: .unprocessableContent
        case .invalidArgument, .noRecords: .badRequest
        case .forbidden: .forbidden
        case .notFound: .notFound
        default: .serviceUnavailable
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(status, code: code.rawValue, message: message, recordErrors: recordErrors).response(from: request, context: context)
    }
}

extension StoreError: HTTPResponseError {
    public var status: HTTPResponse.Status { code == .notFound ? .notFound : .serviceUnavailable }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(status, code: code.rawValue, message: message).response(from: request, context: context)
    }
}

/// A configured HTTP server: ``run()`` serves until SIGINT or SIGTERM.
public struct PreparedServer {
    let application: any ApplicationProtocol

    /// Serves requests until the process is asked to stop, then finishes the requests in flight.
    public func run() async throws {
        try await application.runService()
    }
}
