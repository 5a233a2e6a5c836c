import ArgumentParser
import AuditCore
import AuditStorage
import CareTrail
import Foundation

/// `--role agent|privacy_officer|siem|admin`.
enum RoleArgument: String, ExpressibleByArgument, CaseIterable {
    case agent
    case privacyOfficer = "privacy_officer"
    case siem
    case admin

    var role: APIRole { APIRole(rawValue: rawValue) ?? .agent }
}

/// `caretrail keys create|list|revoke`: the HTTP server's API keys.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage the HTTP server's API keys (creations and revocations are chained).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    static func currentUser() -> String {
        ProcessInfo.processInfo.environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "cli"
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; its secret is printed once and only its hash is kept.")
        @OptionGroup var store: StoreOptions
        @Option(help: "agent, privacy_officer, siem or admin.") var role: RoleArgument
        @Option(help: "The tenant the key belongs to (admin keys span tenants).") var tenant: String
        @Option(help: "A label for people.") var name: String?
        @Option(help: "Who creates it (default: $USER).") var by: String?
        @Option(help: "Output format.") var format: OutputFormat = .text

        func run() throws {
            try runReportingFailures {
                let (key, secret) = try store.openLog().createAPIKey(
                    role: role.role, tenant: tenant, name: name, by: by ?? KeysCommand.currentUser())
                switch format {
                case .json:
                    print(
                        JSONOutput.compact(
                            .object([
                                "id": .string(key.id), "secret": .string(secret), "role": .string(key.role.rawValue),
                                "tenant": .string(key.tenantID),
                            ])))
                case .text:
                    print("key \(key.id) (\(key.role.rawValue), tenant \(key.tenantID))")
                    print("secret (shown once, keep it safe): \(secret)")
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var store: StoreOptions
        @Option(help: "Output format.") var format: OutputFormat = .text

        func run() throws {
            try runReportingFailures {
                let keys = try store.openLog().apiKeys()
                switch format {
                case .json:
                    print(
                        JSONOutput.pretty(
                            .array(
                                keys.map { key in
                                    .object([
                                        "id": .string(key.id), "role": .string(key.role.rawValue), "tenant": .string(key.tenantID),
                                        "name": key.name.map(JSONValue.string) ?? .null, "created_at": .string(key.createdAt),
                                        "revoked_at": key.revokedAt.map(JSONValue.string) ?? .null,
                                    ])
                                })))
                case .text:
                    print(
                        TextTable.render(
                            header: ["ID", "ROLE", "TENANT", "NAME", "CREATED", "REVOKED"],
                            rows: keys.map { [$0.id, $0.role.rawValue, $0.tenantID, $0.name ?? "-", $0.createdAt, $0.revokedAt ?? "-"] }
                        ))
                }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it stops working at once.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key id.") var id: String
        @Option(help: "Who revokes it (default: $USER).") var by: String?

        func run() throws {
            try runReportingFailures {
                try store.openLog().revokeAPIKey(id: id, by: by ?? KeysCommand.currentUser())
                print("revoked \(id)")
            }
        }
    }
}
