import AuditAnalysis
import AuditChain
import AuditCore
import PropertyBased
import Testing

/// The retention policy: the source designs' defaults, first-match glob patterns, and a
/// configuration member read strictly.
@Suite("Retention policy")
struct RetentionPolicyTests {
    @Test func theDefaultsAreTheSourceDesignsTable() {
        let policy = RetentionPolicy.standard
        #expect(policy.hotDays == 90)
        #expect(policy.category(forTool: "get_patient_record").name == "healthcare")
        #expect(policy.category(forTool: "search_patients").name == "healthcare")
        #expect(policy.category(forTool: "charge_payment").name == "financial")
        #expect(policy.category(forTool: "monthly_billing_run").name == "financial")
        #expect(policy.category(forTool: "get_lab_results").name == "general")
        #expect(policy.category(forTool: nil).name == "general")
        #expect(policy.category(named: "healthcare")?.retentionDays == 2190)
        #expect(policy.category(named: "financial")?.retentionDays == 2555)
        #expect(policy.category(named: "general")?.retentionDays == 365)
    }

    @Test func theFirstCategoryWhosePatternMatchesWins() {
        let policy = RetentionPolicy(
            categories: [
                .init(name: "a", retentionDays: 10, tools: ["get_*"]), .init(name: "b", retentionDays: 20, tools: ["*patient*"]),
            ])
        #expect(policy.category(forTool: "get_patient").name == "a")
        #expect(policy.category(forTool: "find_patient").name == "b")
        #expect(policy.category(forTool: "x").name == "general")
    }

    @Test func globMatchingAgreesWithARecursiveDefinition() async {
        func reference(_ pattern: Substring, _ name: Substring) -> Bool {
            guard let first = pattern.first else { return name.isEmpty }
            if first == "*" { return reference(pattern.dropFirst(), name) || (!name.isEmpty && reference(pattern, name.dropFirst())) }
            guard let head = name.first, first == "?" || first == head else { return false }
            return reference(pattern.dropFirst(), name.dropFirst())
        }
        let symbols = ["a", "b", "*", "?"]
        let alphabet = Gen.int(in: 0...3).array(of: 0...7).map { $0.map { symbols[$0] }.joined() }
        let names = Gen.int(in: 0...1).array(of: 0...8).map { $0.map { symbols[$0] }.joined() }
        await propertyCheck(count: 2000, input: alphabet, names) { pattern, name in
            let policy = RetentionPolicy(categories: [.init(name: "hit", retentionDays: 1, tools: [pattern])])
            #expect((policy.category(forTool: name).name == "hit") == reference(Substring(pattern), Substring(name)))
        }
    }

    @Test func theRetentionMemberIsReadStrictlyAndWrittenBack() throws {
        let json = """
            {"retention": {"hot_days": 30, "categories": [{"name": "healthcare", "retention_days": 2190, "tools": ["*patient*"]}],
             "default": {"name": "general", "retention_days": 400}}}
            """
        let configuration = try LogConfiguration(json: json)
        #expect(configuration.retention.hotDays == 30)
        #expect(configuration.retention.default.retentionDays == 400)
        #expect(try LogConfiguration(configuration.jsonValue) == configuration)
        let refused: [(String, String)] = [
            (#"{"retention": {"categories": [], "default": {"name": "g", "retention_days": 0}}}"#, "retention.default.retention_days"),
            (
                #"{"retention": {"categories": [{"name": "A b", "retention_days": 5}], "default": {"name": "g", "retention_days": 5}}}"#,
                "retention.categories[0].name"
            ),
            (#"{"retention": {"hot_days": 90, "default": {"name": "g", "retention_days": 5}}}"#, "retention.categories"),
            (
                #"{"retention": {"categories": [], "default": {"name": "g", "retention_days": 5, "tools": ["x"]}}}"#,
                "retention.default.tools"
            ),
            (
                #"{"retention": {"categories": [{"name": "g", "retention_days": 5}], "default": {"name": "g", "retention_days": 5}}}"#,
                "named twice"
            ),
        ]
        for (text, named) in refused {
            #expect(throws: LogConfiguration.Problem.self) { try LogConfiguration(json: text) }
            do {
                _ = try LogConfiguration(json: text)
            } catch {
                #expect(error.message.contains(named), "\(error.message)")
            }
        }
    }

    @Test func aRangeRootIsTheRootOfATreeOfJustThoseEntries() {
        for count in 1...70 {
            let hashes = (0..<count).map { index in ChainHash(unchecked: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }) }
            var source = InMemoryMerkleLeaves(leaves: hashes.map(MerkleTree.leafHash))
            #expect(MerkleTree.root(ofEntries: hashes) == MerkleTree.root(size: Int64(count), from: &source))
        }
    }
}
