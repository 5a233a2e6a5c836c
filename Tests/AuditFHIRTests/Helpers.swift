import AuditCore
import AuditFHIR
import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A read of `patient` at `minute` minutes after 08:00 on 2026-01-05.
func read(_ patient: String, minute: Double, user: String = "usr-0007") -> IngestRecord {
    .toolCall(
        ToolCall(
            tenantID: "hospital-0", conversationID: "conv-burst", userID: user, model: "claude-sonnet-4", toolName: "get_patient_record",
            purposeOfUse: .treatment, patientID: patient,
            timestamp: Timestamp(millisecondsSinceEpoch: 1_767_600_000_000 + Int64(minute * 60_000))
        ))
}

/// Every primitive of a FHIR document as `path=value`, with array positions dropped, so the
/// JSON and XML forms of one export can be compared as multisets.
enum FHIRLeaves {
    static func fromJSON(_ value: JSONValue, path: String = "") -> [String] {
        switch value {
        case .object(let members):
            var leaves: [String] = []
            var base = path
            if let type = members["resourceType"]?.stringValue { base = path.isEmpty ? type : path + "/" + type }
            for (key, member) in members where key != "resourceType" {
                leaves += fromJSON(member, path: base + "/" + key)
            }
            return leaves
        case .array(let items): return items.flatMap { fromJSON($0, path: path) }
        case .string(let text): return ["\(path)=\(text)"]
        case .number(let number):
            return ["\(path)=\(number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : "\(number)")"]
        case .bool(let flag): return ["\(path)=\(flag)"]
        case .null: return []
        }
    }

    static func fromXML(_ text: String) throws -> [String] {
        let collector = Collector()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = collector
        guard parser.parse() else { throw CocoaError(.fileReadCorruptFile) }
        return collector.leaves
    }

    final class Collector: NSObject, XMLParserDelegate {
        var stack: [String] = []
        var leaves: [String] = []

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            // <resource><AuditEvent> is one level in JSON: the resource's type joins the path.
            stack.append(name)
            let path = stack.joined(separator: "/").replacingOccurrences(of: "Bundle/entry/resource/", with: "Bundle/entry/resource/")
            if let value = attributes["value"] { leaves.append("\(path)=\(value)") }
            if let url = attributes["url"] { leaves.append("\(path)/url=\(url)") }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
        }
    }
}

/// The codes of the CodeSystem files in a folder, by system URL.
enum CodeSystems {
    static func load(_ folder: URL) throws -> [String: [String: String]] {
        var systems: [String: [String: String]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasPrefix("CodeSystem-") {
            let json = try JSONParser.parse(try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
            guard let url = json["url"]?.stringValue else { continue }
            var codes: [String: String] = [:]
            func walk(_ concepts: [JSONValue]) {
                for concept in concepts {
                    if let code = concept["code"]?.stringValue { codes[code] = concept["display"]?.stringValue ?? "" }
                    walk(concept["concept"]?.arrayValue ?? [])
                }
            }
            walk(json["concept"]?.arrayValue ?? [])
            systems[url] = codes
        }
        return systems
    }

    /// Every `(system, code)` of every Coding in a resource.
    static func codings(in value: JSONValue) -> [(String, String)] {
        switch value {
        case .object(let members):
            var found: [(String, String)] = []
            if let system = members["system"]?.stringValue, let code = members["code"]?.stringValue { found.append((system, code)) }
            for member in members.values { found += codings(in: member) }
            return found
        case .array(let items): return items.flatMap(codings(in:))
        default: return []
        }
    }
}

/// Checks a resource against the cardinalities of a core StructureDefinition's snapshot and
/// of a profile's differential (extension slices by url, patternCoding).
struct ProfileChecker {
    struct Rule {
        var path: [String]
        var min: Int
        var max: Int?
    }

    var rules: [Rule] = []
    var extensionSlices: [(url: String, min: Int, max: Int?)] = []
    var patterns: [(path: [String], system: String, code: String)] = []

    init(core: URL, profile: URL) throws {
        let coreJSON = try JSONParser.parse(try String(contentsOf: core, encoding: .utf8))
        for element in coreJSON["snapshot"]?["element"]?.arrayValue ?? [] {
            guard let path = element["path"]?.stringValue, path.contains(".") else { continue }
            rules.append(
                Rule(
                    path: Array(path.split(separator: ".").dropFirst().map(String.init)), min: Int(element["min"]?.numberValue ?? 0),
                    max: Self.max(element["max"])))
        }
        let profileJSON = try JSONParser.parse(try String(contentsOf: profile, encoding: .utf8))
        for element in profileJSON["differential"]?["element"]?.arrayValue ?? [] {
            guard let path = element["path"]?.stringValue, path.contains(".") else { continue }
            let parts = Array(path.split(separator: ".").dropFirst().map(String.init))
            if let slice = element["sliceName"]?.stringValue, parts == ["extension"] {
                let url = element["type"]?.arrayValue?.first?["profile"]?.arrayValue?.first?.stringValue ?? slice
                extensionSlices.append((url, Int(element["min"]?.numberValue ?? 0), Self.max(element["max"])))
                continue
            }
            if element["sliceName"] != nil { continue }
            if let pattern = element["patternCoding"], let system = pattern["system"]?.stringValue, let code = pattern["code"]?.stringValue
            {
                patterns.append((parts, system, code))
            }
            // A CodeableConcept pattern: the element's `coding` must hold the pattern's coding.
            if let coding = element["patternCodeableConcept"]?["coding"]?.arrayValue?.first,
                let system = coding["system"]?.stringValue, let code = coding["code"]?.stringValue
            {
                patterns.append((parts + ["coding"], system, code))
            }
            if let min = element["min"]?.numberValue, min > 0 {
                rules.append(Rule(path: parts, min: Int(min), max: Self.max(element["max"])))
            } else if let max = Self.max(element["max"]) {
                rules.append(Rule(path: parts, min: 0, max: max))
            }
        }
    }

    static func max(_ value: JSONValue?) -> Int? {
        guard let text = value?.stringValue, text != "*" else { return nil }
        return Int(text)
    }

    /// The nodes at `path` under `node` (arrays flattened).
    static func nodes(_ node: JSONValue, _ path: ArraySlice<String>) -> [JSONValue] {
        guard let first = path.first else { return [node] }
        var children: [JSONValue] = []
        if case .object(let members) = node {
            if first.hasSuffix("[x]") {
                let prefix = String(first.dropLast(3))
                for (key, value) in members
                where key.hasPrefix(prefix) && key.count > prefix.count
                    && key[key.index(key.startIndex, offsetBy: prefix.count)].isUppercase
                {
                    children.append(value)
                }
            } else if let value = members[first] {
                children.append(value)
            }
        }
        let flat = children.flatMap { child -> [JSONValue] in if case .array(let items) = child { return items } else { return [child] } }
        return flat.flatMap { nodes($0, path.dropFirst()) }
    }

    func problems(_ resource: JSONValue) -> [String] {
        var problems: [String] = []
        for rule in rules {
            for parent in Self.nodes(resource, rule.path.dropLast()[...]) {
                let count = Self.nodes(parent, [rule.path.last ?? ""][...]).count
                if count < rule.min { problems.append("\(rule.path.joined(separator: ".")): \(count) < min \(rule.min)") }
                if let max = rule.max, count > max { problems.append("\(rule.path.joined(separator: ".")): \(count) > max \(max)") }
            }
        }
        let extensions = resource["extension"]?.arrayValue ?? []
        for slice in extensionSlices {
            let count = extensions.filter { $0["url"]?.stringValue == slice.url }.count
            if count < slice.min { problems.append("extension \(slice.url): missing") }
            if let max = slice.max, count > max { problems.append("extension \(slice.url): \(count) > \(max)") }
        }
        for pattern in patterns {
            for node in Self.nodes(resource, pattern.path[...])
            where !(node["system"]?.stringValue == pattern.system && node["code"]?.stringValue == pattern.code) {
                problems.append("\(pattern.path.joined(separator: ".")): not \(pattern.system)#\(pattern.code)")
            }
        }
        return problems
    }
}
