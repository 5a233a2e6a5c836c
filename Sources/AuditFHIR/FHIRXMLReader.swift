public import AuditCore
public import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Reads FHIR XML (an AuditEvent, or a Bundle of them) into FHIR JSON, using the schema to know
/// which elements repeat (JSON arrays) and which primitives are numbers or booleans.
public enum FHIRXMLReader {
    /// Why a document could not be read; names the element, never a value.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// A parsed XML element.
    final class Element {
        let name: String
        let attributes: [String: String]
        var children: [Element] = []
        /// For the narrative `div`: its markup.
        var markup: String?

        init(name: String, attributes: [String: String]) {
            self.name = name
            self.attributes = attributes
        }
    }

    public static func read(_ data: Data) throws(Problem) -> JSONValue {
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            throw Problem(message: "not well-formed XML (line \(parser.lineNumber))")
        }
        return try resource(root)
    }

    private static func resource(_ element: Element) throws(Problem) -> JSONValue {
        var members = try object(element, context: element.name)
        members["resourceType"] = .string(element.name)
        return .object(members)
    }

    private static func object(_ element: Element, context: String) throws(Problem) -> [String: JSONValue] {
        var members: [String: JSONValue] = [:]
        if let url = element.attributes["url"] { members["url"] = .string(url) }
        for child in element.children {
            guard let (definition, type) = FHIRSchema.element(child.name, in: context) else {
                throw Problem(message: "unknown element '\(child.name)' in \(context)")
            }
            let value: JSONValue
            if type == "Resource" {
                guard let inner = child.children.first else { throw Problem(message: "empty resource in \(context)") }
                value = try resource(inner)
            } else if type == "xhtml" {
                value = .string(child.markup ?? "")
            } else if FHIRSchema.isPrimitive(type) {
                guard let text = child.attributes["value"] else { throw Problem(message: "'\(child.name)' in \(context) has no value") }
                if type == "boolean" {
                    value = .bool(text == "true")
                } else if FHIRSchema.numberTypes.contains(type), let number = Double(text) {
                    value = .number(number)
                } else {
                    value = .string(text)
                }
            } else {
                value = .object(try object(child, context: FHIRSchema.childContext(type: type, path: context + "." + definition.name)))
            }
            if definition.repeats {
                if case .array(let items)? = members[child.name] {
                    members[child.name] = .array(items + [value])
                } else {
                    members[child.name] = .array([value])
                }
            } else {
                members[child.name] = value
            }
        }
        return members
    }

    /// Builds the element tree; keeps a narrative div's markup as text.
    final class Builder: NSObject, XMLParserDelegate {
        var root: Element?
        var stack: [Element] = []
        /// Inside a div: its depth and the markup so far.
        var divDepth = 0
        var markup = ""

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if divDepth > 0 || (name == "div" && stack.last?.name == "text") {
                divDepth += 1
                markup += "<" + name
                for key in attributes.keys.sorted() { markup += " \(key)=\"\(escape(attributes[key] ?? ""))\"" }
                markup += ">"
                return
            }
            let element = Element(name: name, attributes: attributes)
            if let parent = stack.last { parent.children.append(element) } else { root = element }
            stack.append(element)
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if divDepth > 0 { markup += escape(string) }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if divDepth > 0 {
                markup += "</\(name)>"
                divDepth -= 1
                if divDepth == 0 {
                    let div = Element(name: "div", attributes: [:])
                    div.markup = markup
                    stack.last?.children.append(div)
                    markup = ""
                }
                return
            }
            stack.removeLast()
        }

        private func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
    }
}
