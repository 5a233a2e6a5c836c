import AuditCore
import Foundation
import Testing

@Suite("Bounds at the door")
struct BoundsTests {
    /// Instants that leave 0001–9999 once normalised to UTC do not parse; the edges do.
    @Test(arguments: [
        "0000-01-01T00:00:00+01:00", "0000-12-31T23:59:59Z", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00",
    ])
    func instantsOutsideTheYearsOneToNineThousandNineHundredNinetyNineAreRefused(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func theEdgesParseAndPrint() throws {
        #expect(try #require(Timestamp(rfc3339: "0001-01-01T00:00:00Z")) == .minimum)
        #expect(try #require(Timestamp(rfc3339: "9999-12-31T23:59:59.999Z")) == .maximum)
        #expect(Timestamp.minimum.description == "0001-01-01T00:00:00.000Z")
        #expect(Timestamp.maximum.description == "9999-12-31T23:59:59.999Z")
        // Arithmetic never traps and never leaves the range.
        #expect(Timestamp(millisecondsSinceEpoch: .max) == .maximum)
        #expect(Timestamp(millisecondsSinceEpoch: .min) == .minimum)
        #expect(Timestamp.maximum.adding(milliseconds: 1) == nil)
        #expect(Timestamp.minimum.adding(milliseconds: .min) == nil)
    }

    static let outOfRange: [(String, JSONValue)] = [
        ("duration_ms", 1e19), ("duration_ms", 604_800_001), ("turn_number", 2_147_483_648), ("turn_number", 1e19),
        ("duration_ms", -1),
    ]

    @Test(arguments: outOfRange)
    func numbersBeyondWhatTheRenderersCanWriteAreRefused(field: String, value: JSONValue) {
        let error = decodeError(with([field: value]))
        #expect(error?.code == .outOfRange, "\(field)")
        #expect(error?.field == field)
    }

    @Test func costsBeyondTheBoundAreRefused() {
        let error = decodeError(with(["usage": .object(["cost_usd": 1e7])]))
        #expect(error?.code == .outOfRange)
        #expect(error?.field == "usage.cost_usd")
    }

    @Test(arguments: [1e19, 2_147_483_648.0, -1.0])
    func tokenCountsBeyondFHIRsIntegerAreRefused(value: Double) {
        let error = decodeError(with(["usage": .object(["input_tokens": .number(value)])]))
        #expect(error?.code == .outOfRange)
        #expect(error?.field == "usage.input_tokens")
    }

    @Test func theLargestAcceptedValuesAreAccepted() throws {
        _ = try decode(
            with([
                "duration_ms": .number(IngestLimits.maximumDurationMS), "turn_number": .number(Double(IngestLimits.maximumCount)),
                "timestamp": "9999-12-31T23:59:59.999Z",
            ]))
    }

    @Test(arguments: ["tool_name", "user_id", "conversation_id", "trace_id", "user_role", "model", "tenant_id"])
    func identifiersWithLineBreaksOrControlCharactersAreRefused(field: String) {
        for value in ["a\nb", "a\rb", "a\u{0}b", "a\u{2028}b", "a\u{85}b", "a\u{1B}b"] {
            let error = decodeError(with([field: .string(value)]))
            #expect(error?.field == field, "\(field)")
            #expect(error?.code == .invalidValue)
            #expect(!(error?.description.contains(value) ?? true))
        }
    }

    /// Agents may not report the future: more than the allowed skew ahead of the log's clock
    /// is `timestamp_skew`; records far behind it are late, not refused.
    @Test func aRecordDatedAheadOfTheLogsClockIsRefusedAndAnOldOneIsLate() throws {
        let now = try #require(Timestamp(rfc3339: "2026-06-01T12:00:00Z"))
        let policy = RecordTimePolicy.standard
        let future = try decode(with(["timestamp": "2999-01-01T00:00:00Z"]))
        #expect(throws: IngestError.self) { try policy.check(future, now: now) }
        do {
            try policy.check(future, now: now)
        } catch {
            #expect(error.code == .timestampSkew)
            #expect(error.field == "timestamp")
        }
        try policy.check(try decode(with(["timestamp": "2026-06-01T12:04:59Z"])), now: now)
        let old = try decode(with(["timestamp": "2026-05-30T12:00:00Z"]))
        try policy.check(old, now: now)
        #expect(policy.isLate(old, now: now))
        #expect(!policy.isLate(try decode(with(["timestamp": "2026-06-01T11:00:00Z"])), now: now))
    }
}
