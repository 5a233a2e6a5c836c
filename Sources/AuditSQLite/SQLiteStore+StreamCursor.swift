import AuditCore
public import AuditStorage
import GRDB

extension SQLiteStore {
    /// The last sequence number `destination` has accepted (0 for none).
    public func streamCursor(_ destination: String) throws(StoreError) -> Int64 {
        try read { db in try Int64.fetchOne(db, sql: "SELECT seq FROM stream_cursor WHERE destination = ?", arguments: [destination]) ?? 0 }
    }

    /// Records, durably, that `destination` accepted everything up to `seq`.
    public func setStreamCursor(_ destination: String, to seq: Int64) throws(StoreError) {
        do {
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO stream_cursor (destination, seq, updated_at) VALUES (?, ?, ?)
                        ON CONFLICT (destination) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
                        """,
                    arguments: [destination, seq, clock().description]
                )
            }
        } catch {
            throw StoreError(code: .appendFailed, message: "cannot record the stream cursor: \(Self.reason(error))")
        }
    }
}
