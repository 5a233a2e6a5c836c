import AuditCore
import Foundation
import Testing

/// A deterministic stand-in for the HMAC pseudonymiser: FNV-1a of the normalised value.
struct TestPseudonymizer: Pseudonymizer {
    var keyID = "t1"
    var salt: UInt64 = 0

    func pseudonym(for value: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ salt
        let normalized = value.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for byte in normalized.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return "hmac-sha256:\(keyID):\(String(hash, radix: 16))"
    }
}

let sanitizer = Sanitizer(pseudonymizer: TestPseudonymizer())

func sanitizedBody(_ changes: [String: JSONValue?]) throws -> [String: JSONValue] {
    sanitizer.sanitize(try decode(with(changes))).body
}

/// Every string anywhere in a value.
func strings(in value: JSONValue) -> [String] {
    switch value {
    case .string(let s): [s]
    case .array(let elements): elements.flatMap(strings)
    case .object(let members): members.keys.map { $0 } + members.values.flatMap(strings)
    default: []
    }
}

@Suite("Sanitizer")
struct SanitizerTests {
    let token = { (value: String) in TestPseudonymizer().pseudonym(for: value) }

    @Test func secretsAreRedactedAtAnyDepthAndCase() throws {
        let body = try sanitizedBody([
            "arguments": [
                "API_Key": "sk-123", "nested": ["Password": "hunter2", "list": [["access_token": "abc"]]],
                "authorization": "Bearer x", "db_password": "pw", "max_tokens": 100,
            ],
            "session_metadata": ["Cookie": "session=1", "client_ip": "10.0.0.1"],
            "error": ["secret": "s3"],
        ])
        let arguments = body["arguments"]
        #expect(arguments?["API_Key"] == .string(Sanitizer.redacted))
        #expect(arguments?["nested"]?["Password"] == .string(Sanitizer.redacted))
        #expect(arguments?["nested"]?["list"] == [["access_token": .string(Sanitizer.redacted)]])
        #expect(arguments?["authorization"] == .string(Sanitizer.redacted))
        #expect(arguments?["db_password"] == .string(Sanitizer.redacted))
        #expect(arguments?["max_tokens"] == 100)
        #expect(body["session_metadata"]?["Cookie"] == .string(Sanitizer.redacted))
        #expect(body["session_metadata"]?["client_ip"] == "10.0.0.1")
        #expect(body["error"]?["secret"] == .string(Sanitizer.redacted))
        let all = strings(in: .object(body))
        for secret in ["sk-123", "hunter2", "abc", "Bearer x", "session=1", "s3"] {
            #expect(!all.contains(secret))
        }
    }

    @Test func identifiersBecomeKeyedPseudonyms() throws {
        let body = try sanitizedBody([
            "arguments": [
                "patient_name": "Maria Garcia", "SSN": "123-45-6789", "dob": "1961-03-04",
                "address": ["street": "1 Main St", "zip": 12345], "phones": ["555-123-4567"], "Email": "m@x.org",
            ]
        ])
        let arguments = body["arguments"]
        #expect(arguments?["patient_name"] == .string(token("Maria Garcia")))
        #expect(arguments?["SSN"] == .string(token("123-45-6789")))
        #expect(arguments?["dob"] == .string(token("1961-03-04")))
        #expect(arguments?["address"]?["zip"] == .string(token("12345")))
        #expect(arguments?["phones"] == [.string(token("555-123-4567"))])
        #expect(arguments?["Email"] == .string(token("m@x.org")))
    }

    @Test func sameValueAndKeyGiveSameTokenOtherKeyDiffers() {
        let a = TestPseudonymizer().pseudonym(for: "Maria Garcia")
        #expect(a == TestPseudonymizer().pseudonym(for: "  maria   GARCIA "))
        #expect(a != TestPseudonymizer(salt: 1).pseudonym(for: "Maria Garcia"))
    }

    @Test(arguments: [
        ("call 555-123-4567 now", "555-123-4567"), ("ssn 123-45-6789.", "123-45-6789"),
        ("mail maria.garcia@example.org today", "maria.garcia@example.org"), ("seen 2025-11-02", "2025-11-02"),
        ("seen 11/02/2025", "11/02/2025"), ("ring (555) 123-4567", "(555) 123-4567"), ("+44 20 7946 0958", "+44 20 7946 0958"),
    ])
    func patternsInFreeTextArePseudonymisedInPlace(text: String, found: String) throws {
        let body = try sanitizedBody(["arguments": ["comment_code": .string(text)]])
        let stored = body["arguments"]?["comment_code"]?.stringValue ?? ""
        #expect(!stored.contains(found))
        #expect(stored.contains(token(found)))
    }

    @Test func identifiersLikeRecordNumbersAreLeftAlone() throws {
        let body = try sanitizedBody(["arguments": ["ref": "PAT-004943 order 17", "patient_id": "PAT-004943"]])
        #expect(body["arguments"]?["ref"] == "PAT-004943 order 17")
        #expect(body["arguments"]?["patient_id"] == "PAT-004943")
    }

    @Test func valueOfAnIdentifierFieldIsPseudonymisedWhereverItRecurs() throws {
        let body = try sanitizedBody([
            "arguments": ["patient_name": "Maria Garcia", "reason_code": "follow-up for maria garcia, see Garcia chart"],
            "result": ["status": "ok", "summary_line": "Maria Garcia stable"],
        ])
        let reason = body["arguments"]?["reason_code"]?.stringValue ?? ""
        #expect(!reason.lowercased().contains("garcia"))
        #expect(reason.contains(token("maria garcia")))
        let summary = body["result"]?["summary_line"]?.stringValue ?? ""
        #expect(!summary.contains("Maria"))
    }

    @Test func searchTermsAreStoredAsHashAndScrubbedPreview() throws {
        let body = try sanitizedBody(["arguments": ["query": "Maria Garcia born 1961", "limit": 20]])
        let query = body["arguments"]?["query"]
        #expect(query?["text_hmac"] == .string(token("Maria Garcia born 1961")))
        let preview = query?["preview"]?.stringValue ?? ""
        #expect(!preview.contains("Maria"))
        #expect(!preview.contains("Garcia"))
        #expect(!preview.contains("1961"))
        #expect(preview.contains("born"))
        #expect(preview.contains(token("Maria Garcia")))
        #expect(body["arguments"]?["limit"] == 20)
    }

    @Test func previewIsCutAtItsLengthButNeverInsideAToken() throws {
        let long = "Find " + String(repeating: "notes ", count: 18) + "Maria Garcia again"
        let body = try sanitizedBody(["arguments": ["message": .string(long)]])
        let preview = body["arguments"]?["message"]?["preview"]?.stringValue ?? ""
        #expect(preview.hasSuffix("…"))
        #expect(preview.unicodeScalars.count <= SanitizerPolicy.default.freeTextPreviewLength + 1)
        if let range = preview.range(of: "hmac-sha256:") {
            #expect(preview[range.lowerBound...].contains(token("Maria Garcia")))
        }
    }

    @Test func smallResultIsKeptSanitisedLargeResultIsSummarised() throws {
        let small = try sanitizedBody(["result": ["patient_id": "PAT-1", "status": "ok", "patient_name": "Wei Chen"]])
        #expect(small["result"]?["patient_name"] == .string(token("Wei Chen")))
        #expect(small["result"]?["status"] == "ok")
        let large = try sanitizedBody([
            "result": [
                "patient_id": "PAT-1", "order_id": "O-9", "status": "ok", "count": 3, "patient_name": "Wei Chen",
                "notes": .string(String(repeating: "x", count: 1200)),
            ]
        ])
        let result = large["result"]
        #expect(result?["truncated"] == true)
        #expect((result?["size_bytes"]?.numberValue ?? 0) > 1000)
        #expect(result?["patient_id"] == "PAT-1")
        #expect(result?["order_id"] == "O-9")
        #expect(result?["count"] == 3)
        #expect(result?["notes"] == nil)
        #expect(result?["patient_name"] == nil)
    }

    @Test func failureIsDerivedFromErrorOrResult() throws {
        #expect(sanitizer.sanitize(try decode(validCall)).outcome == .success)
        #expect(sanitizer.sanitize(try decode(with(["error": "timeout"]))).outcome == .failure)
        #expect(sanitizer.sanitize(try decode(with(["result": ["error": "permission denied"]]))).outcome == .failure)
        #expect(sanitizer.sanitize(try decode(with(["result": ["success": false]]))).outcome == .failure)
    }

    @Test func agentRequestKeepsOnlyHashAndPreviewOfItsTexts() throws {
        let input = "Pull up the chart for Maria Garcia, SSN 123-45-6789, born 1961-03-04, and check her labs please."
        let output = String(repeating: "Maria Garcia has normal potassium. ", count: 10)
        let record = try IngestContract.decode(
            .object([
                "kind": "agent_request", "trace_id": "tr-1", "tenant_id": "t", "user_id": "u", "model": "m",
                "input": .string(input), "output": .string(output),
            ]))
        let content = sanitizer.sanitize(record)
        #expect(content.kind == .agentRequest)
        #expect(content.body["input"]?["text_hmac"] == .string(token(input)))
        let inputPreview = content.body["input"]?["preview"]?.stringValue ?? ""
        let outputPreview = content.body["output"]?["preview"]?.stringValue ?? ""
        for phi in ["Maria", "Garcia", "123-45-6789", "1961"] {
            #expect(!inputPreview.contains(phi))
            #expect(!outputPreview.contains(phi))
        }
        #expect(inputPreview.contains("chart"))
        #expect(outputPreview.unicodeScalars.count <= 201)
        #expect(!strings(in: .object(content.body)).contains(input))
    }

    @Test func breakGlassReasonIsKeptReadableWithPatternsScrubbed() throws {
        let body = try sanitizedBody([
            "purpose_of_use": "ETREAT", "break_glass": ["reason": "Unconscious patient in ED, callback 555-123-4567"],
        ])
        #expect(body["severity"]?.stringValue == "high")
        let reason = body["break_glass"]?["reason"]?.stringValue ?? ""
        #expect(reason.hasPrefix("Unconscious patient in ED"))
        #expect(!reason.contains("555-123-4567"))
    }

    @Test func customPolicyChangesTheFieldLists() throws {
        var policy = SanitizerPolicy.default
        policy.identifierKeys.append("bed_number")
        policy.secretKeys.append("badge_pin")
        let custom = Sanitizer(policy: policy, pseudonymizer: TestPseudonymizer())
        let body = custom.sanitize(try decode(with(["arguments": ["bed_number": "12B", "badge_pin": "0000"]]))).body
        #expect(body["arguments"]?["bed_number"] == .string(token("12B")))
        #expect(body["arguments"]?["badge_pin"] == .string(Sanitizer.redacted))
    }
}
