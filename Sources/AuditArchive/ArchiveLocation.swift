public import Foundation

/// Reads an archive destination as users give it: a directory path, or an S3-compatible
/// bucket URL `s3://bucket/prefix`.
public enum ArchiveLocation {
    /// The destination `text` names. For `s3://`, the endpoint, region and credentials come
    /// from the standard AWS environment variables in `environment`.
    public static func destination(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ArchiveError) -> any ArchiveDestination
    {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 1024, !trimmed.contains(where: { $0.isNewline }) else {
            throw ArchiveError(code: .invalidDestination, message: "an archive destination is a directory or s3://bucket/prefix")
        }
        if trimmed.lowercased().hasPrefix("s3://") {
            return try S3Destination(url: trimmed, environment: environment)
        }
        if trimmed.contains("://") {
            throw ArchiveError(code: .invalidDestination, message: "an archive destination is a directory or s3://bucket/prefix")
        }
        return DirectoryDestination(directory: URL(fileURLWithPath: trimmed))
    }
}
