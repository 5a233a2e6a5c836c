import Foundation

/// The project's `fixtures/` folder, found from this source file so every test target and the
/// CLI share one tree.
enum FixturePath {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}
