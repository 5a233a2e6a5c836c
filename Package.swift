// swift-tools-version: 6.1
import PackageDescription

/// Settings every CareTrail target shares: Swift 6 language mode with the upcoming
/// features that keep imports explicit and existentials visible.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "CareTrail",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "CareTrail", targets: ["CareTrail"]),
        .executable(name: "caretrail", targets: ["caretrail"]),
        .executable(name: "caretrail-bench", targets: ["caretrail-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // Domain types and rules, no I/O: the ingest contract, purpose of use, the sanitizer.
        .target(name: "AuditCore", swiftSettings: strictSettings),
        // Canonical JSON (RFC 8785), entry hashing, chain verification. Pure.
        .target(
            name: "AuditChain",
            dependencies: ["AuditCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // The pseudonymisation key ring: keyed HMAC tokens and the key file.
        .target(
            name: "AuditKeys",
            dependencies: ["AuditCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // The storage ports: the protocols every backend implements and the records they
        // return. Analysis, FHIR and SIEM code read the log through these alone.
        .target(name: "AuditStorage", dependencies: ["AuditCore", "AuditChain"], swiftSettings: strictSettings),
        // The PostgreSQL backend (postgres-nio), begun: schema, roles and triggers, appends from
        // many writers, reads in order, verification.
        .target(
            name: "AuditPostgres",
            dependencies: [
                "AuditCore", "AuditChain", "AuditStorage", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The SQLite backend (GRDB): migrations, append-only triggers, group commit, queries.
        .target(
            name: "AuditSQLite",
            dependencies: [
                "AuditCore", "AuditChain", "AuditStorage", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        // Anomaly rules, alerts and their reviews, the log's configuration: pure functions over
        // entries, plus the observer that runs the rules inside appends.
        .target(
            name: "AuditAnalysis",
            dependencies: ["AuditCore", "AuditChain", "AuditStorage"],
            swiftSettings: strictSettings
        ),
        // FHIR AuditEvent (R4 following IHE BALP, and R5): mapping, JSON and XML writers, export.
        .target(
            name: "AuditFHIR",
            dependencies: ["AuditCore", "AuditChain", "AuditStorage"],
            swiftSettings: strictSettings
        ),
        // The HTTP API (Hummingbird 2): composition of routes over the CareTrail library.
        .target(
            name: "AuditServer",
            dependencies: [
                "CareTrail", "AuditCore", "AuditChain", "AuditStorage", "AuditAnalysis", "AuditFHIR",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: strictSettings
        ),
        // SIEM formats (RFC 5424, CEF, JSON lines) and delivery with a durable cursor.
        .target(
            name: "AuditExport",
            dependencies: [
                "AuditCore", "AuditChain", "AuditStorage", "AuditFHIR",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // The cold archive: segments of canonical entries (deflate frames, manifest, index),
        // their destinations (a directory, an S3-compatible bucket) and their verification.
        .target(
            name: "AuditArchive",
            dependencies: [
                "AuditCore", "AuditChain", "AuditStorage", .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSettings
        ),
        // The library agents link: open a log, record tool calls, wrap tool handlers.
        .target(
            name: "CareTrail",
            dependencies: [
                "AuditCore", "AuditChain", "AuditKeys", "AuditStorage", "AuditSQLite", "AuditPostgres", "AuditAnalysis", "AuditFHIR",
                "AuditArchive",
            ],
            swiftSettings: strictSettings
        ),
        // The command tree of `caretrail`, kept in a library so `main` stays tiny.
        .target(
            name: "CareTrailCLI",
            dependencies: [
                "CareTrail", "AuditCore", "AuditChain", "AuditKeys", "AuditStorage", "AuditAnalysis", "AuditFHIR", "AuditServer",
                "AuditExport", "AuditArchive", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "caretrail",
            dependencies: ["CareTrailCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "caretrail-bench",
            dependencies: [
                "CareTrail", "AuditCore", "AuditChain", "AuditKeys", "AuditStorage", "AuditSQLite", "AuditAnalysis", "AuditFHIR",
            ],
            swiftSettings: strictSettings
        ),
        // The storage contract: one suite of checks any backend must pass, run by each
        // backend's tests. Linked by test targets only.
        .target(name: "AuditStorageContract", dependencies: ["AuditStorage", "AuditChain", "AuditCore"], swiftSettings: strictSettings),
        // Fixture paths and temporary folders, linked by test targets only.
        .target(name: "AuditTestSupport", swiftSettings: strictSettings),
        .testTarget(
            name: "AuditPostgresTests",
            dependencies: [
                "AuditTestSupport", "AuditStorageContract", "AuditPostgres", "AuditStorage", "AuditChain", "AuditCore", "CareTrail",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuditCoreTests",
            dependencies: ["AuditCore", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuditChainTests",
            dependencies: [
                "AuditTestSupport", "AuditChain", "AuditCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuditSQLiteTests",
            dependencies: [
                "AuditTestSupport",
                "AuditSQLite", "AuditStorage", "AuditStorageContract", "AuditChain", "AuditCore", "AuditKeys", "CareTrail",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CareTrailTests",
            dependencies: [
                "AuditTestSupport", "AuditArchive",
                "CareTrail", "AuditCore", "AuditKeys", "AuditSQLite", "AuditStorage", "AuditChain", "AuditAnalysis",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuditAnalysisTests",
            dependencies: [
                "AuditTestSupport", "AuditAnalysis", "AuditCore", "AuditChain", "AuditSQLite", "AuditStorage", "CareTrail", "AuditKeys",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuditFHIRTests",
            dependencies: [
                "AuditTestSupport", "AuditFHIR", "AuditAnalysis", "AuditCore", "AuditChain", "AuditStorage", "CareTrail",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuditServerTests",
            dependencies: [
                "AuditTestSupport", "AuditServer", "CareTrail", "AuditCore", "AuditChain", "AuditSQLite", "AuditStorage", "AuditAnalysis",
                "AuditFHIR", "AuditExport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PropertyBased", package: "swift-property-based"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuditExportTests",
            dependencies: ["AuditTestSupport", "AuditExport", "AuditCore", "AuditChain", "AuditStorage"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "AuditTestSupport",
                "caretrail", "AuditSQLite", "AuditStorage", "AuditChain", "AuditCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
