public import AuditCore
import Foundation

/// Proves a negative: that none of the clear-text identifiers and secrets of an input reached
/// a file (the database, its WAL).
///
/// The identifiers are gathered from the input the way the sanitizer sees them: values under
/// identifier and secret keys, and the names, SSNs, phones, e-mail addresses and dates inside
/// search terms and messages. The files are then scanned byte by byte for every one of them.
public struct ClearTextScan: Sendable {
    /// The distinct clear-text values looked for.
    public let needles: Set<String>

    /// A scan for the given values (a workload's documented list of its synthetic identifiers).
    public init(needles: Set<String>) {
        self.needles = needles.filter { $0.utf8.count >= 5 }
    }

    /// A scan for the needles of both.
    public func merged(with other: ClearTextScan) -> ClearTextScan {
        ClearTextScan(needles: needles.union(other.needles))
    }

    /// Gathers the identifiers of a JSON-lines input.
    public init(jsonLines path: String, sanitizer: Sanitizer) throws(CareTrailError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CareTrailError(code: .input, message: "cannot read \(path)")
        }
        var needles: Set<String> = []
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            guard let value = try? JSONParser.parse(Array(line)) else { continue }
            Self.collect(value, sensitive: false, freeText: false, sanitizer: sanitizer, into: &needles)
        }
        // Very short values (a 2-letter code) would match by chance; they are not identifying alone.
        self.needles = needles.filter { $0.utf8.count >= 5 }
    }

    private static func collect(_ value: JSONValue, sensitive: Bool, freeText: Bool, sanitizer: Sanitizer, into needles: inout Set<String>)
    {
        switch value {
        case .object(let members):
            for (key, member) in members {
                let isAgentText = key == "input" || key == "output"
                collect(
                    member, sensitive: sensitive || sanitizer.isSensitiveKey(key),
                    freeText: freeText || isAgentText || sanitizer.isFreeTextKey(key), sanitizer: sanitizer, into: &needles
                )
            }
        case .array(let elements):
            for element in elements { collect(element, sensitive: sensitive, freeText: freeText, sanitizer: sanitizer, into: &needles) }
        case .string(let text) where sensitive:
            needles.insert(text)
        case .string(let text) where freeText:
            needles.formUnion(sanitizer.identifiers(in: text))
        default:
            return
        }
    }

    /// The needles found in the files (empty when none leaked). Missing files are skipped.
    public func leaks(inFiles paths: [String]) -> Set<String> {
        var byPrefix: [UInt32: [[UInt8]]] = [:]
        for needle in needles {
            let bytes = Array(needle.utf8)
            byPrefix[Self.prefix(bytes, 0), default: []].append(bytes)
        }
        var found: Set<String> = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let bytes = [UInt8](data)
            guard bytes.count >= 4 else { continue }
            for index in 0...(bytes.count - 4) {
                guard let candidates = byPrefix[Self.prefix(bytes, index)] else { continue }
                for candidate in candidates where index + candidate.count <= bytes.count {
                    if bytes[index..<index + candidate.count].elementsEqual(candidate) {
                        found.insert(String(decoding: candidate, as: UTF8.self))
                    }
                }
            }
        }
        return found
    }

    private static func prefix(_ bytes: [UInt8], _ index: Int) -> UInt32 {
        UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3])
    }
}
