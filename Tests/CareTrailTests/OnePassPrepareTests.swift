import AuditChain
import AuditCore
import AuditKeys
import AuditTestSupport
import Foundation
import PropertyBased
import Testing

/// The one pass over a line's bytes stores exactly what the tree path stores, and never
/// accepts a line the contract refuses: it only declines (`nil`), and the tree reports.
@Suite("Prepared in one pass")
struct OnePassPrepareTests {
    let sanitizer = Sanitizer(pseudonymizer: KeyRing.generate().current)

    /// What the tree path stores for `line`, or `nil` when the contract refuses it.
    func byTree(_ line: String, late: Bool) -> EncodedEntry? {
        guard let record = try? IngestContract.decode(line: line) else { return nil }
        var content = sanitizer.sanitize(record)
        if late { content.body["late"] = .bool(true) }
        content.body[RetentionPolicy.bodyMember] = .string(RetentionPolicy.standard.category(forTool: content.toolName).name)
        return EncodedEntry(content)
    }

    /// What the one pass stores for `line`: `.none` when it declines, `.some(nil)` when it
    /// reads the line but leaves the body to the tree.
    func byOnePass(_ line: String, late: Bool) -> EncodedEntry?? {
        var line = line
        return line.withUTF8 { bytes in
            OnePassToolCall(bytes: bytes).map {
                sanitizer.encode($0, late: late, retentionCategory: RetentionPolicy.standard.category(forTool: $0.call.toolName).name)
            }
        }
    }

    @Test func everyCallOfTheSampleWorkloadTakesTheOnePassAndIsStoredAsTheTreeStoresIt() throws {
        let path = try sampleWorkload(lines: 300, in: temporaryFolder())
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        var onePass = 0
        for (index, line) in lines.enumerated() {
            let late = index % 2 == 0
            let tree = byTree(line, late: late)
            #expect(tree != nil, "line \(index + 1) is refused by the contract")
            guard case .some(.some(let entry)) = byOnePass(line, late: late) else { continue }
            onePass += 1
            #expect(entry == tree, "line \(index + 1) is stored differently in one pass")
        }
        #expect(onePass * 100 >= lines.count * 95, "only \(onePass) of \(lines.count) lines took the one pass")
    }

    /// Generated lines: good ones, and ones with each kind of defect the contract refuses.
    @Test func generatedLinesAreStoredAsTheTreeStoresThemOrLeftToIt() async {
        let taken = Counter()
        await propertyCheck(count: 3_000, input: Gen.int(in: 0...Int(Int32.max))) { seed in
            var random = SplitMix(seed: UInt64(seed))
            let line = GeneratedLine.make(&random)
            let late = random.next() % 2 == 0
            let tree = byTree(line, late: late)
            switch byOnePass(line, late: late) {
            case .none: break
            case .some(.none): #expect(tree != nil, "the one pass read a line the contract refuses")
            case .some(.some(let entry)):
                taken.add(to: "one pass")
                #expect(tree != nil, "the one pass accepted a line the contract refuses")
                #expect(entry == tree, "the one pass stored a line differently")
            }
        }
        #expect(taken["one pass"] >= 300, "only \(taken["one pass"]) generated lines took the one pass")
    }
}

/// Lines of tool calls made from a seed: mostly of the shape the one pass reads, with defects,
/// identifiers in names and values, secrets, free text, nulls, escapes and other text mixed in.
enum GeneratedLine {
    static let names = [
        "patient_name", "patient_id", "date_of_birth", "ssn", "password", "api_key", "query", "notes", "status", "count",
        "success", "error", "client_ip", "user_agent", "Maria Garcia", "mrn", "email", "phone", "address", "first name",
        "token_count", "input_tokens", "note", "search_term", "diagnosis", "maria.garcia@example.org", "dob", "id",
    ]
    static let strings = [
        "Maria Garcia", "Olga Silva", "572-55-3753", "1994-04-10", "maria.garcia@example.org", "+1 555 123 4567", "ok", "xx",
        "Mrs Garcia was seen on 2026-01-05", "PAT-000123", "10.0.0.1", "ClinicalAgent/1.4", "", " spaced  out ", "a",
        "call Maria Garcia at 555-123-4567", "Garcia", String(repeating: "x", count: 1_200), "café", "tab\\there",
        "quote \\\" inside",
    ]
    static let numbers = ["0", "-0", "16", "3.25", "1e3", "12345678901234567", "-7", "1.5e-7", "01", "1e999", "2."]

    /// Strings and numbers that the one pass leaves to the tree (text with escapes or beyond
    /// ASCII, numbers JSON refuses or cannot hold).
    static let unread: Set<String> = ["café", "tab\\there", "quote \\\" inside", "01", "1e999", "2."]

    static func make(_ random: inout SplitMix) -> String {
        var fields: [(String, String)] = []
        // Half the lines are of the shape the one pass reads, without defects.
        let defects = random.next() % 2 == 0
        func maybe(_ percent: UInt64) -> Bool { random.next() % 100 < percent }
        func defect(_ percent: UInt64) -> Bool { defects && maybe(percent) }
        func pick(_ options: [String]) -> String {
            let usable = defects ? options : options.filter { !unread.contains($0) }
            return usable[Int(random.next() % UInt64(usable.count))]
        }
        func quoted(_ text: String) -> String { "\"\(text)\"" }
        func scalar() -> String {
            switch random.next() % 10 {
            case 0...5: quoted(pick(strings))
            case 6, 7: pick(numbers)
            case 8: pick(["true", "false"])
            default: "null"
            }
        }
        func object() -> String {
            var members: [String] = []
            for _ in 0..<(random.next() % 6) {
                let value = defect(5) ? "{\"nested\": \(scalar())}" : defect(3) ? "[\(scalar())]" : scalar()
                members.append("\(quoted(pick(names))): \(value)")
            }
            if defect(3), let first = members.first { members.append(first) }
            return "{" + members.joined(separator: ", ") + "}"
        }
        let identifiers = ["hospital-1", "usr-0001", "Maria Garcia", "572-55-3753", "", "conv-1", "m", String(repeating: "i", count: 300)]
        for name in ["tenant_id", "conversation_id", "user_id", "model", "tool_name"] where !defect(2) {
            fields.append(
                (
                    name,
                    !defect(10)
                        ? quoted(pick(Array(identifiers.prefix(4)) + ["get_patient_record"]))
                        : pick([quoted(pick(identifiers)), "7", "null"])
                ))
        }
        if !defect(3) {
            fields.append(
                ("purpose_of_use", quoted(defect(30) ? pick(["BTG", "treat"]) : pick(["TREAT", "HOPERAT", "ETREAT", "HPAYMT"]))))
        }
        let action = maybe(80) ? nil : defect(30) ? pick(["E", "X"]) : pick(["R", "C", "U", "D"])
        if let action { fields.append(("action", quoted(action))) }
        if !defect(3) {
            fields.append(("patient_id", !defect(5) ? quoted(pick(["PAT-000123", "PAT-7", "Maria Garcia"])) : pick(["3", "\"\""])))
        }
        if action == "E" || defect(2) {
            fields.append(
                (
                    "patient_ids",
                    defect(20) ? pick(["[\"\"]", "[1]", "\"PAT-1\""]) : pick(["[\"PAT-1\", \"PAT-2\"]", "[]", "[\"Maria Garcia\"]"])
                ))
        }
        if maybe(70) {
            fields.append(
                (
                    "timestamp",
                    quoted(
                        defect(20)
                            ? pick(["yesterday", "2026-13-05T08:00:01Z"]) : pick(["2026-01-05T08:00:01.376Z", "2026-01-05T08:00:01+02:00"]))
                ))
        }
        if maybe(60) { fields.append(("trace_id", quoted(pick(["tr-1", "Maria Garcia", "572-55-3753"])))) }
        if maybe(60) { fields.append(("turn_number", defect(30) ? pick(["-1", "2.5", "4294967296", "\"3\""]) : pick(["1", "2"]))) }
        if maybe(60) { fields.append(("user_role", quoted(pick(["nurse", "physician for Maria Garcia", "pharmacist"])))) }
        if maybe(40) { fields.append(("trigger", quoted(defect(20) ? "bogus" : pick(["user_request", "proactive", "retry"])))) }
        if maybe(80) { fields.append(("arguments", !defect(5) ? object() : "[]")) }
        if maybe(70) { fields.append(("result", object())) }
        if maybe(15) { fields.append(("error", maybe(50) ? quoted(pick(strings)) : !defect(20) ? object() : "42")) }
        if maybe(60) { fields.append(("duration_ms", defect(30) ? pick(["-1", "1e12"]) : pick(["331.61", "0", "79.21"]))) }
        if maybe(50) { fields.append(("session_metadata", object())) }
        if maybe(50) {
            fields.append(
                (
                    "usage",
                    defect(30)
                        ? pick(["{\"input_tokens\": -1}", "{\"tokens\": 3}"])
                        : pick(["{\"input_tokens\": 707, \"output_tokens\": 248}", "{\"cost_usd\": 0.25}", "{}"])
                ))
        }
        if maybe(8) {
            let reason =
                defect(40)
                ? pick(["\"x\"", "null", "7"])
                : quoted(pick(["Unconscious patient in ED, no consent possible", "Maria Garcia arrived unconscious"]))
            fields.append(("break_glass", defect(5) ? "{\"why\": \(reason)}" : "{\"reason\": \(reason)}"))
        }
        if maybe(3) { fields.append(("kind", quoted(defect(60) ? pick(["agent_request", "other"]) : "tool_call"))) }
        if defect(2) { fields.append(("purpose", quoted("TREAT"))) }
        if defect(2), let first = fields.first { fields.append(first) }
        // Any order: the contract does not care, and neither may the one pass.
        for index in fields.indices.reversed() where index > 0 {
            fields.swapAt(index, Int(random.next() % UInt64(index + 1)))
        }
        var line = "{" + fields.map { "\(quoted($0.0)):\($0.1)" }.joined(separator: pick([",", ", "])) + "}"
        if defect(2) { line += " x" }
        return line
    }
}
