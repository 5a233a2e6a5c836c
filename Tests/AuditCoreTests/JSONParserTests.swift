import AuditCore
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

    @Test func objectIndexRefusesWhatIsNoObject() {
        var text = "[1,2]"
        text.withUTF8 { #expect(JSONObjectIndex($0) == nil) }
    }
}
