import ArgumentParser
import AuditChain
import AuditCore
import AuditFHIR
import AuditStorage
import CareTrail
import Foundation

/// `caretrail export fhir`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export the log in standard formats.", subcommands: [ExportFHIRCommand.self]
    )
}

/// `--fhir-version r4|r5`.
enum FHIRVersionArgument: String, ExpressibleByArgument, CaseIterable {
    case r4
    case r5

    var version: FHIRVersion { self == .r4 ? .r4 : .r5 }
}

/// `--format json|xml|ndjson`.
enum FHIRFormatArgument: String, ExpressibleByArgument, CaseIterable {
    case json
    case xml
    case ndjson

    var format: FHIRExporter.Format {
        switch self {
        case .json: .json
        case .xml: .xml
        case .ndjson: .ndjson
        }
    }
}

struct ExportFHIRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fhir",
        abstract: "Export tool calls and alerts as FHIR AuditEvents (R4 following IHE BALP, or R5).",
        discussion:
            "json: a Bundle of type collection; xml: the same Bundle in FHIR XML; ndjson: one AuditEvent per line. Streams: memory stays flat however large the log. A query (action E) gives one AuditEvent per patient its result named; agent requests, reviews and configuration changes are not exported."
    )

    @OptionGroup var store: StoreOptions
    @OptionGroup var archive: ArchiveReadOptions
    @OptionGroup var reader: ReaderOptions
    @Option(help: "r4 or r5.") var fhirVersion: FHIRVersionArgument = .r4
    @Option(help: "json, xml or ndjson.") var format: FHIRFormatArgument = .json
    @Option(help: "Only this patient's accesses and alerts.") var patient: String?
    @Option(help: "From this time (RFC 3339 or YYYY-MM-DD), included.") var from: String?
    @Option(help: "To this time (RFC 3339 or YYYY-MM-DD), included.") var to: String?
    @Option(help: "Write to this file instead of standard output.") var out: String?

    func run() async throws {
        try await runReportingFailures {
            let lower = try from.map { try DateArgument.parse($0, option: "--from", endOfDay: false) }
            let upper = try to.map { try DateArgument.parse($0, option: "--to", endOfDay: true) }
            _ = try reader.name()
            let log = try await archive.openLog(store)
            let handle: FileHandle
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil), let file = FileHandle(forWritingAtPath: out) else {
                    throw CLIFailure(exitCode: .ioError, message: "cannot write \(out)")
                }
                handle = file
            } else {
                handle = FileHandle.standardOutput
            }
            defer { if out != nil { try? handle.close() } }
            let exporter = FHIRExporter(version: fhirVersion.version, format: format.format)
            let head = try log.head()
            let bundleID = "caretrail-export-\(head?.seq ?? 0)"
            do {
                let count = try exporter.export(
                    store: log.reader, selection: .init(patient: patient, from: lower, to: upper), bundleID: bundleID,
                    timestamp: log.now()
                ) { bytes in try bytes.withUnsafeBytes { try handle.write(contentsOf: $0) } }
                try reader.record(
                    log, "fhir_export",
                    ["fhir_version": fhirVersion.rawValue, "format": format.rawValue, "patient": patient, "from": from, "to": to],
                    results: count)
                if out != nil { printError("caretrail: \(count) AuditEvents written to \(out ?? "")") }
            } catch let error as StoreError {
                throw CLIFailure(exitCode: .ioError, message: error.message)
            } catch let error as CLIFailure {
                throw error
            } catch {
                throw CLIFailure(exitCode: .ioError, message: "cannot write the export: \((error as NSError).localizedDescription)")
            }
        }
    }
}

/// `caretrail import fhir FILE`.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import records in standard formats.", subcommands: [ImportFHIRCommand.self]
    )
}

struct ImportFHIRCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fhir",
        abstract: "Import FHIR R4 AuditEvents (JSON, NDJSON or XML; one resource or a Bundle) into the chain, all or nothing.",
        discussion:
            "Each AuditEvent is kept as given (re-exported unchanged) with its mapped fields indexed. AuditEvents this log exported itself are recognised and not appended twice. Exit codes: 0 imported; 2 not FHIR AuditEvents; 3 file or database unusable."
    )
    @OptionGroup var store: StoreOptions
    @Argument(help: "The file to import.") var file: String
    @Option(help: "Output format.") var format: OutputFormat = .text

    func run() throws {
        try runReportingFailures {
            let summary = try store.openLog().importFHIR(path: file)
            switch format {
            case .json:
                print(
                    JSONOutput.compact(
                        .object([
                            "imported": .number(Double(summary.imported)), "already_in_log": .number(Double(summary.alreadyInLog)),
                            "head": summary.head.map(\.jsonValue) ?? .null,
                        ])))
            case .text:
                print(
                    "imported \(summary.imported) AuditEvents (\(summary.alreadyInLog) already in this log); head \(summary.head.map(\.description) ?? "none")"
                )
            }
        }
    }
}
