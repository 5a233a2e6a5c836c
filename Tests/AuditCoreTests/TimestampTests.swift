import AuditCore
import Testing

@Suite("RFC 3339 timestamps")
struct TimestampTests {
    @Test(arguments: [
        ("2026-01-05T08:00:01.376Z", "2026-01-05T08:00:01.376Z"),
        ("2026-01-05T08:00:01Z", "2026-01-05T08:00:01.000Z"),
        ("2026-01-05T09:30:01.5+01:30", "2026-01-05T08:00:01.500Z"),
        ("2026-01-04T23:00:00-09:00", "2026-01-05T08:00:00.000Z"),
        ("2024-02-29T00:00:00.123456Z", "2024-02-29T00:00:00.123Z"),
        ("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"),
        ("2026-01-05t08:00:00z", "2026-01-05T08:00:00.000Z"),
    ])
    func normalisesToUTCMilliseconds(input: String, expected: String) {
        #expect(Timestamp(rfc3339: input)?.description == expected)
    }

    @Test(arguments: [
        "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-05T08:00Z", "2026-01-05T08:00:00.Z", "2026-01-05T08:00:00+24:00", "",
    ])
    func rejectsInvalidText(input: String) {
        #expect(Timestamp(rfc3339: input) == nil)
    }

    @Test func normalisedFormSortsInTimeOrder() {
        let a = Timestamp(rfc3339: "2026-01-05T08:00:00+05:00")
        let b = Timestamp(rfc3339: "2026-01-05T04:00:00Z")
        #expect(a! < b!)
        #expect(a!.description < b!.description)
    }
}
