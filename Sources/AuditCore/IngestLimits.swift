/// The bounds the ingest contract enforces on every value from outside.
///
/// Each bound is chosen so that every renderer can write every accepted value exactly: FHIR's
/// `integer` is a signed 32-bit value, an `instant` has a four-digit year, and a period's end
/// (`timestamp + duration_ms`) must itself be a valid instant. A value outside its bound is
/// refused at the door with `out_of_range`, naming the field, never the value; nothing that
/// the contract accepts can trap a renderer later. The "Limits and bad input" page of the docs
/// lists the same bounds.
public enum IngestLimits {
    /// Bytes of an identifier field (`tenant_id`, `user_id`, `patient_id`, `tool_name`…).
    public static let identifierBytes = 256
    /// Largest `turn_number` and token count: FHIR's `integer` (signed 32-bit).
    public static let maximumCount = Int(Int32.max)
    /// Largest `duration_ms`: seven days. A tool call or agent turn that ran longer is a
    /// clock error, and the bound keeps `timestamp + duration_ms` a valid instant.
    public static let maximumDurationMS: Double = 604_800_000
    /// Largest `cost_usd`, per call or per request.
    public static let maximumCostUSD: Double = 1_000_000
    /// Most patients one query (action `E`) may name.
    public static let maximumPatientIDs = 10_000
    /// Earliest and latest `timestamp`, after normalisation to UTC.
    public static let timestamps = Timestamp.minimum...Timestamp.maximum
    /// Largest body of one `POST /v1/tool-calls` (64 MiB); a larger body gets 413.
    public static let maximumBatchBytes = 64 * 1024 * 1024
    /// Default of how far an agent's `timestamp` may run ahead of the log's clock
    /// (`recorded_at`) before the record is refused as `timestamp_skew`: five minutes.
    public static let defaultMaximumSkewMS: Int64 = 5 * 60_000
    /// Default of how far behind the log's clock a record may be dated before it is marked
    /// late: twenty-four hours.
    public static let defaultLatenessMS: Int64 = 24 * 3_600_000
}
