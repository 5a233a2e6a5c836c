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
}
