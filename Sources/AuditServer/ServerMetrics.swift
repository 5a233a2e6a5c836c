import AuditAnalysis
import AuditChain
import AuditCore
import AuditStorage
public import CareTrail
import Hummingbird
import Prometheus
import Synchronization

/// What `/metrics` exposes, in Prometheus text format: requests by method and status, their
/// latencies, appended entries, failed appends, and at scrape time the head and open alerts.
/// Each server has its own registry (no global state), so tests run side by side.
public final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let appended: Counter
    let appendFailures: Counter
    let latency: DurationHistogram
    let headSeq: Gauge
    let openAlerts: Gauge
    /// The SIEM destinations this server streams to (their cursor names).
    let streams: [String]
    /// The retention runs this server makes, whose counts `/metrics` reports.
    let retention: RetentionSchedule?

    /// `streams`: the names of the destinations `caretrail serve` streams to, whose lag
    /// `/metrics` reports; `retention`: the schedule of its retention runs.
    public init(streams: [String] = [], retention: RetentionSchedule? = nil) {
        self.streams = streams
        self.retention = retention
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "caretrail", metricName: metric, unitName: unit, helpText: help)
        }
        appended = registry.makeCounter(descriptor: name("entries_appended", "total", "Records appended through the API."))
        appendFailures = registry.makeCounter(descriptor: name("append_failures", "total", "Appends that failed (nothing was stored)."))
        latency = registry.makeDurationHistogram(
            descriptor: name("http_request_duration", "seconds", "Time to answer a request."),
            buckets: [
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
            ]
        )
        headSeq = registry.makeGauge(descriptor: name("log_head", "seq", "Sequence number of the log's head."))
        openAlerts = registry.makeGauge(descriptor: name("open_alerts", "", "Alerts awaiting a closing review."))
    }

    /// The request counters by method and status, made once each: the registry's lookup
    /// builds the metric's name and sorts its labels every time it is asked.
    private let requestCounters = Mutex<[RequestKey: Counter]>([:])

    private struct RequestKey: Hashable {
        var method: String
        var status: Int
    }

    func countRequest(method: String, status: Int) {
        let key = RequestKey(method: method, status: status)
        let counter = requestCounters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "caretrail", metricName: "http_requests", unitName: "total", helpText: "Requests answered."),
                labels: [("method", method), ("status", String(status))]
            )
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// The metrics as Prometheus text, with the gauges read now.
    func render(log: AuditLog) -> String {
        headSeq.record(Double((try? log.head())?.seq ?? 0))
        openAlerts.record(Double((try? log.alerts())?.filter { $0.state == "open" }.count ?? 0))
        recordStreamLag(log: log)
        recordRetention()
        return registry.emitToString()
    }

    /// The retention runs so far: how many, how many failed, entries deleted and held, and
    /// when the last one ended.
    private func recordRetention() {
        guard let status = retention?.status else { return }
        func gauge(_ metric: String, _ unit: String, _ help: String, _ value: Double) {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(namespace: "caretrail", metricName: metric, unitName: unit, helpText: help)
            ).record(value)
        }
        gauge("retention_runs", "", "Retention runs since the server started.", Double(status.runs))
        gauge("retention_failures", "", "Retention runs that failed since the server started.", Double(status.failures))
        gauge(
            "retention_deleted", "entries", "Entries whose content retention runs deleted since the server started.", Double(status.deleted)
        )
        gauge(
            "retention_archived", "entries", "Entries whose content runs moved to the archive since the server started.",
            Double(status.archived))
        gauge("retention_held", "entries", "Entries past their period that legal holds kept at the last run.", Double(status.held))
        gauge(
            "retention_last_run", "timestamp_seconds", "When the last retention run ended (seconds since the epoch).",
            Double(status.lastRun?.millisecondsSinceEpoch ?? 0) / 1000)
    }

    /// Per destination: entries appended but not yet confirmed by it, and the age of the
    /// oldest of them (0 when it has everything).
    private func recordStreamLag(log: AuditLog) {
        guard !streams.isEmpty, let head = try? log.head() else { return }
        let now = log.now().millisecondsSinceEpoch
        for destination in streams {
            let cursor = (try? log.streamCursor(destination)) ?? 0
            let labels = [("destination", destination)]
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "caretrail", metricName: "stream_lag", unitName: "entries",
                    helpText: "Entries appended that the SIEM destination has not confirmed yet."),
                labels: labels
            ).record(Double(max(0, head.seq - cursor)))
            var seconds = 0.0
            if cursor < head.seq, let oldest = try? log.entry(seq: cursor + 1),
                let recorded = Timestamp(rfc3339: oldest.recordedAt)
            {
                seconds = max(0, Double(now - recorded.millisecondsSinceEpoch) / 1000)
            }
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "caretrail", metricName: "stream_lag", unitName: "seconds",
                    helpText: "Age of the oldest entry the SIEM destination has not confirmed yet."),
                labels: labels
            ).record(seconds)
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "caretrail", metricName: "stream_cursor", unitName: "seq",
                    helpText: "The last sequence number the SIEM destination confirmed."),
                labels: labels
            ).record(Double(cursor))
        }
    }
}

/// Counts and times every request.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.countRequest(method: request.method.rawValue, status: response.status.code)
            metrics.latency.record(ContinuousClock.now - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.countRequest(method: request.method.rawValue, status: status)
            metrics.latency.record(ContinuousClock.now - start)
            throw error
        }
    }
}
