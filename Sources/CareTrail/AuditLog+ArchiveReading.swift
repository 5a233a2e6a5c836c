import AuditAnalysis
public import AuditArchive
import AuditChain
import AuditCore
import AuditStorage
public import Foundation
import Synchronization

/// An archive attached for reading, and the chained archive records it was loaded for.
struct AttachedArchive: Sendable {
    let destination: any ArchiveDestination
    let entries: ArchivedEntries
    /// The last `archive` and `retention_purge` records when it was loaded: when either
    /// changes, the segments have, and ``AuditLog/refreshArchive()`` loads them again.
    let stamp: [Int64]
}

extension AuditLog {
    /// Attaches the cold archive at `destination` for reading: from now on ``reader``, reports,
    /// trace lookups, timelines, FHIR export and SIEM backlogs read archived entries as if they
    /// were hot. The segments the chain names are loaded and checked against the hashes it
    /// records; segments in S3 are copied to ``archiveCacheDirectory`` first.
    public func attachArchive(_ destination: any ArchiveDestination) async throws(CareTrailError) {
        let stamp = try archiveStamp()
        let segments = try archivedSegments()
        let entries: ArchivedEntries
        do {
            entries = try await ArchivedEntries.load(segments, from: destination, cacheDirectory: archiveCacheDirectory)
        } catch {
            throw CareTrailError(code: .archive, message: "the archive at \(destination.address) cannot be read", cause: error)
        }
        attachedArchive.withLock { $0 = AttachedArchive(destination: destination, entries: entries, stamp: stamp) }
    }

    /// Attaches the archive `--archive` names, else the one the log's configuration names
    /// (member `archive`); does nothing when neither does.
    public func attachArchive(named text: String?) async throws(CareTrailError) {
        guard let text = text ?? configuredArchive else { return }
        let destination: any ArchiveDestination
        do {
            destination = try ArchiveLocation.destination(text)
        } catch {
            throw CareTrailError(code: .invalidArgument, message: "archive: \(error.message)", cause: error)
        }
        try await attachArchive(destination)
    }

    /// Loads the attached archive again when an archive or retention run has changed its
    /// segments since it was loaded (in this process or another); returns whether it did.
    @discardableResult
    public func refreshArchive() async throws(CareTrailError) -> Bool {
        guard let attached = attachedArchive.withLock({ $0 }), try archiveStamp() != attached.stamp else { return false }
        try await attachArchive(attached.destination)
        return true
    }

    /// Refreshes the attached archive every `interval` seconds (``refreshArchive()``) until
    /// the task is cancelled: how a server sees archive and retention runs of other processes.
    public func keepArchiveFresh(every interval: Double, onFailure: @Sendable (CareTrailError) -> Void) async {
        await repeating(every: interval, { () async throws(CareTrailError) in try await refreshArchive() }, onFailure: onFailure)
    }

    /// The archive the log's configuration names (member `archive`), if any.
    public var configuredArchive: String? { configuration.archive }

    /// Where segments of a remote archive are cached for reading: beside the database file
    /// (a PostgreSQL log's key file).
    public var archiveCacheDirectory: URL {
        URL(fileURLWithPath: sidecarBase + ".archive-cache")
    }

    private func archiveStamp() throws(CareTrailError) -> [Int64] {
        try storeCall { () throws(StoreError) in
            [try store.latest(.archive)?.seq ?? 0, try store.latest(.retentionPurge)?.seq ?? 0]
        }
    }
}
