import AuditStorage
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Moves the write-ahead log into the database file beside the appends, instead of inside
/// one of them.
///
/// SQLite's own automatic checkpoint runs in the commit that crosses its threshold: that
/// append, and every append queued behind it, waits while megabytes of pages are copied and
/// the database file is synced (10–30 ms here, several times a second under load). The
/// checkpointer replaces it (through `sqlite3_wal_hook` on the writer connection):
///
/// - each time the WAL has grown by ``backgroundPages`` pages, a passive checkpoint runs on a
///   connection of its own, on a background queue. It copies what is committed without taking
///   the write lock, so appends go on meanwhile;
/// - at ``inlinePages`` pages the writer checkpoints in its commit, as SQLite would. By then
///   the background passes have copied nearly everything, so this pass is short; it lets the
///   WAL start again from its beginning (SQLite restarts the WAL only when every frame is in
///   the database file, which background passes racing the appends rarely achieve alone).
///
/// Durability does not depend on checkpoints: a commit is durable once its WAL frames are
/// synced (`synchronous=FULL`). A checkpoint that fails is retried at the next threshold.
final class WALCheckpointer: Sendable {
    /// WAL growth, in pages, after which a background pass is requested (SQLite's default
    /// automatic checkpoint threshold).
    let backgroundPages: Int32
    /// WAL size, in pages, at which the writer checkpoints in its own commit.
    let inlinePages: Int32
    private let path: String
    private let passes = BackgroundPasses()
    private let connection = Mutex<DatabaseQueue?>(nil)
    private let counts = Mutex<Counts>(Counts())
    /// The WAL's size when the last background pass was requested.
    private let requested = Mutex<Int32>(0)

    /// How many checkpoints ran where, for tests and measurements.
    struct Counts: Sendable, Equatable {
        var background = 0
        var inline = 0
    }

    init(path: String, backgroundPages: Int32 = 1_000, inlinePages: Int32 = 16_384) {
        self.path = path
        self.backgroundPages = backgroundPages
        self.inlinePages = inlinePages
    }

    var completed: Counts { counts.withLock { $0 } }

    /// Installs the checkpointer on the writer connection `db`, replacing SQLite's automatic
    /// checkpoint. The store removes it (``uninstall(from:)``) before it lets go of this object.
    func install(on db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, walHook, Unmanaged.passUnretained(self).toOpaque())
    }

    func uninstall(from db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, nil, nil)
    }

    /// Called by SQLite after each commit of the writer, with the WAL's size in pages.
    fileprivate func walGrew(to pages: Int32, connection db: OpaquePointer?, name: UnsafePointer<CChar>?) {
        if pages >= inlinePages {
            if sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
                counts.withLock { $0.inline += 1 }
            }
        } else if pages >= backgroundPages {
            // Once per `backgroundPages` of growth: a pass per commit would sync the database
            // file over and over, and those syncs delay the commits' own.
            let due = requested.withLock { last in
                guard pages < last || pages >= last + backgroundPages else { return false }
                last = pages
                return true
            }
            if due { requestPass() }
        }
    }

    private func requestPass() {
        guard passes.request() else { return }
        // Not on the low-priority BackgroundThread: a starved pass would leave its copying to
        // the writer's inline checkpoint (measured: one commit of 210 ms).
        DispatchQueue.global(qos: .utility).async { [self] in
            while passes.nextPass() { checkpointNow() }
        }
    }

    /// One passive checkpoint on the checkpointer's own connection.
    func checkpointNow() {
        do {
            let queue = try connection.withLock { connection in
                if let queue = connection { return queue }
                var configuration = Configuration()
                configuration.label = "caretrail-checkpoint"
                let queue = try DatabaseQueue(path: path, configuration: configuration)
                connection = queue
                return queue
            }
            _ = try queue.inDatabase { db in try db.checkpoint(.passive) }
            counts.withLock { $0.background += 1 }
        } catch {
            // Retried at the next commit past the threshold; the WAL keeps everything meanwhile.
        }
    }
}

/// `sqlite3_wal_hook`'s callback: hands the WAL's size to the checkpointer in `context`.
private func walHook(
    _ context: UnsafeMutableRawPointer?, _ db: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ pages: Int32
) -> Int32 {
    guard let context else { return SQLITE_OK }
    Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue().walGrew(to: pages, connection: db, name: name)
    return SQLITE_OK
}
