import AuditCore
import Foundation
import PropertyBased
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(#"{"a":[1,-2.5e3,true,false,null,"x\n\u00e9\ud83d\ude00"],"b":{}}"#)
        #expect(value["a"] == [1, -2500, true, false, nil, "x\né😀"])
        #expect(value["b"] == .object([:]))
    }

    @Test(arguments: [
        "{", #"{"a":1,}"#, "[01]", #""\ud800""#, #"{"a":1,"a":2}"#, "nul", "1 2", "\"tab\tin\"", "",
    ])
    func rejectsInvalidText(text: String) {
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(deep) }
    }

    /// The member index finds each value's bytes, whatever they hold: nested objects and arrays,
    /// braces, commas and escaped quotes inside strings, an escaped name, and spaces around.
    @Test(arguments: [
        #"{"a":{"b":[1,{"c":"}]"}],"d":"x\"y,}"},"e":-1.5e3,"f\u0031":true,"g":null,"h":[],"i":"","j":{}}"#,
        #" { "a" : [ 1 , 2 ] , "b" : "x" } "#,
        "{}",
    ])
    func objectIndexFindsEveryMembersValue(text: String) throws {
        let parsed = try JSONParser.parse(text)
        guard case .object(let members) = parsed else {
            Issue.record("not an object")
            return
        }
        var copy = text
        try copy.withUTF8 { bytes in
            let index = try #require(JSONObjectIndex(bytes))
            #expect(Set(index.members.map(\.name)) == Set(members.keys))
            #expect(index.members.count == members.count)
            for (name, range) in index.members {
                #expect(try JSONParser.parse(UnsafeBufferPointer(rebasing: bytes[range])) == members[name], "member \(name)")
            }
        }
    }

    /// Strings of every mix of quotes, runs of backslashes and other bytes, as member names and
    /// values, nested or not: the index finds each value's bytes and whether a name is escaped,
    /// and a scan that stops at a member reads none after it.
    @Test func objectIndexFindsTheEndOfEveryString() async {
        let pieces = ["a", "\"", "\\", "\\\\", "\\\"", "\\\\\"", "\\n", "é", "}", "\",\"", ":", " ", "[", "\\u0022"]
        let pick = Gen.int(in: 0...10_000)
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        await propertyCheck(count: 1_000, input: pick, pick, pick, pick) { a, b, c, d in
            let name = [a, b].map { pieces[$0 % pieces.count] }.joined()
            let value = [c, d, a].map { pieces[$0 % pieces.count] }.joined()
            var text = "{\(quoted(name)):\(quoted(value)),\"k\":\(quoted(value)),\"n\":[\(quoted(value)),{\"x\":\(quoted(value))}],\"z\":1}"
            let expected = try? JSONParser.parse(text)
            #expect(expected != nil, "\(text)")
            text.withUTF8 { bytes in
                var values: [JSONValue?] = []
                var escapedNames: [Bool] = []
                let isObject = JSONObjectIndex.forEachMember(in: bytes) { name, escaped, range in
                    values.append(try? JSONParser.parse(UnsafeBufferPointer(rebasing: bytes[range])))
                    escapedNames.append(escaped)
                }
                #expect(isObject)
                let string = JSONValue.string(value)
                #expect(values == [string, string, .array([string, .object(["x": string])]), 1])
                #expect(escapedNames.first == quoted(name).contains("\\"))
                var visited = 0
                JSONObjectIndex.scanMembers(in: bytes) { _, _, _ in
                    visited += 1
                    return visited < 2
                }
                #expect(visited == 2)
            }
        }
    }

    @Test func objectIndexRefusesWhatIsNoObject() {
        var text = "[1,2]"
        text.withUTF8 { #expect(JSONObjectIndex($0) == nil) }
    }
}
