import AuditChain
import AuditStorage
import GRDB
import GRDBSQLite

/// The current row of a stepped SQLite statement, read column by column.
///
/// The hot loops (verification, lookups, reports) read rows through this instead of GRDB's
/// `Row`, which copies every value into a new object and indexes its column names for each
/// row: at ten million entries a report reads 500 rows by sequence number, and that per-row
/// cost was as large as SQLite's own.
struct StatementColumns {
    let statement: SQLiteStatement

    func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(statement, column) == SQLITE_NULL
    }

    func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(statement, column)
    }

    /// Text as UTF-8 bytes, or `nil` for NULL. Read as a blob: the same bytes, without the copy
    /// SQLite makes to add a terminating NUL for `sqlite3_column_text`. A blob of no bytes has
    /// no pointer, so NULL is told apart by its type.
    func withBytes<T>(_ column: Int32, _ body: (UnsafeBufferPointer<UInt8>?) throws -> T) rethrows -> T {
        if isNull(column) { return try body(nil) }
        let pointer = sqlite3_column_blob(statement, column)?.assumingMemoryBound(to: UInt8.self)
        return try body(UnsafeBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(statement, column))))
    }

    /// Text, or `nil` for NULL.
    func text(_ column: Int32) -> String? {
        withBytes(column) { bytes in bytes.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// Text of a NOT NULL column (the empty string if it were NULL).
    func string(_ column: Int32) -> String {
        text(column) ?? ""
    }

    /// A stored hash (32 bytes; whatever is stored, so that a damaged one is reported as such).
    func hash(_ column: Int32) -> ChainHash {
        withBytes(column) { bytes in ChainHash(unchecked: bytes ?? UnsafeBufferPointer(start: nil, count: 0)) }
    }

    /// Steps the statement: `true` with a row, `false` when done.
    static func step(_ statement: SQLiteStatement, _ db: Database) throws -> Bool {
        let code = sqlite3_step(statement)
        if code == SQLITE_ROW { return true }
        if code == SQLITE_DONE { return false }
        throw StoreError(code: .readFailed, message: "SQLite error \(code): \(String(cString: sqlite3_errmsg(db.sqliteConnection)))")
    }
}
