/// Where archive objects live: a directory, or an S3-compatible bucket. Objects are named
/// with flat names (``SegmentFiles``) and written whole: a reader sees an object as it was
/// written in full, or not at all.
public protocol ArchiveDestination: Sendable {
    /// The destination as the user gave it, without credentials.
    var address: String { get }
    /// Writes `bytes` as the object `name`, replacing any object of that name.
    func put(_ name: String, _ bytes: [UInt8]) async throws(ArchiveError)
    /// The object `name`, or `nil` when there is none.
    func get(_ name: String) async throws(ArchiveError) -> [UInt8]?
    /// The names of every object, in no particular order.
    func list() async throws(ArchiveError) -> [String]
    /// Deletes the object `name`; deleting a missing object is not an error.
    func delete(_ name: String) async throws(ArchiveError)
}
