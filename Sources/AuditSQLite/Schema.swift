import AuditChain
import AuditStorage
import GRDB
import GRDBSQLite

/// The log's schema. Migrations are frozen once shipped: string literals only, never edited,
/// never referring to app types, with one exception: the upgrade to canonical bytes writes
/// each entry's canonical bytes with ``EntryHasher``, whose recipe is the chain's own and
/// never changes.
enum Schema {
    /// The value of `meta.format` for this schema family.
    static let format = "caretrail-log/2"
    /// The formats this version opens: its own, and the column layout it upgrades.
    static let readableFormats: Set<String> = ["caretrail-log/1", format]

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: entries, patient index, append-only triggers") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (
                        key TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL
                    ) STRICT;

                    CREATE TABLE entry (
                        seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
                        recorded_at TEXT NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('tool_call', 'agent_request')),
                        tenant_id TEXT NOT NULL,
                        user_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        tool_name TEXT,
                        action TEXT CHECK (action IN ('C', 'R', 'U', 'D', 'E')),
                        patient_id TEXT,
                        patient_ids TEXT,
                        purpose_of_use TEXT,
                        outcome TEXT CHECK (outcome IN ('success', 'failure')),
                        conversation_id TEXT,
                        trace_id TEXT,
                        timestamp TEXT,
                        key_id TEXT NOT NULL,
                        body TEXT NOT NULL,
                        prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
                        entry_hash BLOB NOT NULL CHECK (length(entry_hash) = 32)
                    ) STRICT;

                    -- Queries (action E) concern every patient their result named: one row each.
                    CREATE TABLE entry_patient (
                        seq INTEGER NOT NULL REFERENCES entry(seq),
                        patient_id TEXT NOT NULL,
                        at TEXT NOT NULL,
                        PRIMARY KEY (seq, patient_id)
                    ) STRICT, WITHOUT ROWID;

                    -- Random keys (patients, users, conversation and trace ids) are indexed by
                    -- sequence bucket first: (seq >> 12, key). New entries then only touch the
                    -- pages of the current bucket (4,096 entries), instead of a different leaf page
                    -- per entry, which every commit would rewrite into the WAL. Queries probe each
                    -- bucket of their range with an equality seek.
                    CREATE INDEX entry_patient_bucket ON entry(seq >> 12, patient_id) WHERE patient_id IS NOT NULL;
                    CREATE INDEX entry_patient_query_bucket ON entry_patient(seq >> 12, patient_id);
                    CREATE INDEX entry_user_bucket ON entry(seq >> 12, user_id);
                    CREATE INDEX entry_conversation_bucket ON entry(seq >> 12, conversation_id)
                        WHERE conversation_id IS NOT NULL;
                    CREATE INDEX entry_trace_bucket ON entry(seq >> 12, trace_id) WHERE trace_id IS NOT NULL;
                    -- Few distinct keys, or keys that grow with time: plain indexes stay cheap.
                    CREATE INDEX entry_tool_time ON entry(tool_name, coalesce(timestamp, recorded_at))
                        WHERE tool_name IS NOT NULL;
                    CREATE INDEX entry_failure_time ON entry(coalesce(timestamp, recorded_at))
                        WHERE outcome = 'failure';

                    CREATE TRIGGER entry_is_append_only_update BEFORE UPDATE ON entry
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    CREATE TRIGGER entry_is_append_only_delete BEFORE DELETE ON entry
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    CREATE TRIGGER entry_patient_is_append_only_update BEFORE UPDATE ON entry_patient
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    CREATE TRIGGER entry_patient_is_append_only_delete BEFORE DELETE ON entry_patient
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    """
            )
        }
        migrator.registerMigration("v2: alerts, reviews, config; search tokens, tool statistics, verifications") { db in
            // SQLite cannot change a CHECK constraint in place: rebuild the table with the new
            // kinds (the copy keeps every byte, so every hash still verifies), then restore its
            // indexes and triggers. DROP TABLE fires no DELETE trigger.
            try db.execute(
                sql: """
                    CREATE TABLE entry_v2 (
                        seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
                        recorded_at TEXT NOT NULL,
                        kind TEXT NOT NULL CHECK (kind IN ('tool_call', 'agent_request', 'alert', 'review', 'config', 'fhir_audit_event', 'key_event')),
                        tenant_id TEXT NOT NULL,
                        user_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        tool_name TEXT,
                        action TEXT CHECK (action IN ('C', 'R', 'U', 'D', 'E')),
                        patient_id TEXT,
                        patient_ids TEXT,
                        purpose_of_use TEXT,
                        outcome TEXT CHECK (outcome IN ('success', 'failure')),
                        conversation_id TEXT,
                        trace_id TEXT,
                        timestamp TEXT,
                        key_id TEXT NOT NULL,
                        body TEXT NOT NULL,
                        prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
                        entry_hash BLOB NOT NULL CHECK (length(entry_hash) = 32)
                    ) STRICT;
                    INSERT INTO entry_v2 SELECT * FROM entry;
                    DROP TABLE entry;
                    ALTER TABLE entry_v2 RENAME TO entry;

                    CREATE INDEX entry_patient_bucket ON entry(seq >> 12, patient_id) WHERE patient_id IS NOT NULL;
                    CREATE INDEX entry_user_bucket ON entry(seq >> 12, user_id);
                    CREATE INDEX entry_conversation_bucket ON entry(seq >> 12, conversation_id)
                        WHERE conversation_id IS NOT NULL;
                    CREATE INDEX entry_trace_bucket ON entry(seq >> 12, trace_id) WHERE trace_id IS NOT NULL;
                    CREATE INDEX entry_tool_time ON entry(tool_name, coalesce(timestamp, recorded_at))
                        WHERE tool_name IS NOT NULL;
                    CREATE INDEX entry_failure_time ON entry(coalesce(timestamp, recorded_at))
                        WHERE outcome = 'failure';
                    -- Alerts, reviews and configuration changes are few: a small index finds them all.
                    CREATE INDEX entry_notice ON entry(kind, seq) WHERE kind IN ('alert', 'review', 'config', 'key_event');

                    CREATE TRIGGER entry_is_append_only_update BEFORE UPDATE ON entry
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    CREATE TRIGGER entry_is_append_only_delete BEFORE DELETE ON entry
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;

                    -- Per tool and UTC day of the event: calls, failures, durations (sum and a
                    -- histogram of 2% wide buckets), users, over complete blocks of entries
                    -- (written with their postings); the block still filling is counted when asked.
                    CREATE TABLE tool_day (
                        tool_name TEXT NOT NULL,
                        day TEXT NOT NULL,
                        calls INTEGER NOT NULL,
                        failures INTEGER NOT NULL,
                        timed INTEGER NOT NULL,
                        duration_sum REAL NOT NULL,
                        PRIMARY KEY (tool_name, day)
                    ) STRICT, WITHOUT ROWID;
                    CREATE TABLE tool_day_duration (
                        tool_name TEXT NOT NULL,
                        day TEXT NOT NULL,
                        bucket INTEGER NOT NULL,
                        calls INTEGER NOT NULL,
                        PRIMARY KEY (tool_name, day, bucket)
                    ) STRICT, WITHOUT ROWID;
                    CREATE TABLE tool_day_user (
                        tool_name TEXT NOT NULL,
                        day TEXT NOT NULL,
                        user_id TEXT NOT NULL,
                        PRIMARY KEY (tool_name, day, user_id)
                    ) STRICT, WITHOUT ROWID;

                    -- API keys of the HTTP server: only a SHA-256 of each secret is kept. Creating and
                    -- revoking a key is also appended to the chain (kind key_event).
                    CREATE TABLE api_key (
                        id TEXT PRIMARY KEY NOT NULL,
                        secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
                        role TEXT NOT NULL CHECK (role IN ('agent', 'privacy_officer', 'siem', 'admin')),
                        tenant_id TEXT NOT NULL,
                        name TEXT,
                        created_at TEXT NOT NULL,
                        revoked_at TEXT
                    ) STRICT;

                    -- How far each SIEM destination has accepted the log (caretrail stream).
                    CREATE TABLE stream_cursor (
                        destination TEXT PRIMARY KEY NOT NULL,
                        seq INTEGER NOT NULL,
                        updated_at TEXT NOT NULL
                    ) STRICT;

                    -- What each verification proved: the log was intact up to this head.
                    -- Reports verify incrementally from the last one.
                    CREATE TABLE verification (
                        id INTEGER PRIMARY KEY,
                        verified_through INTEGER NOT NULL,
                        head_hash BLOB NOT NULL CHECK (length(head_hash) = 32),
                        verified_at TEXT NOT NULL,
                        mode TEXT NOT NULL CHECK (mode IN ('full', 'incremental')),
                        entries_checked INTEGER NOT NULL
                    ) STRICT;

                    -- Posting lists of complete blocks of entries (see Postings): block leads the
                    -- key, so the postings of a new block are written at the end of the tree.
                    CREATE TABLE posting (
                        block INTEGER NOT NULL,
                        kind INTEGER NOT NULL,
                        key TEXT NOT NULL,
                        seqs BLOB NOT NULL,
                        PRIMARY KEY (block, kind, key)
                    ) STRICT, WITHOUT ROWID;

                    """
            )
        }
        migrator.registerMigration("v3: report records in patients' postings; spans of blocks") { db in
            // Postings and tool counters are derived from the entries: they are dropped here and
            // written again, with records, by the compaction that opening a log runs. The entries
            // are untouched.
            try db.execute(
                sql: """
                    DELETE FROM posting;
                    DELETE FROM tool_day;
                    DELETE FROM tool_day_duration;
                    DELETE FROM tool_day_user;
                    DELETE FROM meta WHERE key IN ('postings_through', 'spans_through');
                    ALTER TABLE posting ADD COLUMN records BLOB;

                    -- Postings of spans of complete blocks (see Postings): kind and key lead the
                    -- key, so all of a key's spans are one range of the tree.
                    CREATE TABLE posting_span (
                        kind INTEGER NOT NULL,
                        key TEXT NOT NULL,
                        span INTEGER NOT NULL,
                        seqs BLOB NOT NULL,
                        records BLOB,
                        PRIMARY KEY (kind, key, span)
                    ) STRICT, WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("v4: late entries by user and patient and event time") { db in
            // Entries recorded more than a minute after their event time (agents that buffered
            // while offline, backfilled files) are indexed by user and by patient and event
            // time, so anomaly detection can judge a late record against the stored history of
            // its own window without scanning the log. On-time entries are found by the
            // sequence buckets of the minutes they were recorded in.
            try db.execute(
                sql: """
                    CREATE INDEX entry_late_user ON entry(user_id, coalesce(timestamp, recorded_at))
                        WHERE julianday(recorded_at) - julianday(timestamp) > 0.0007;
                    CREATE INDEX entry_late_patient ON entry(patient_id, coalesce(timestamp, recorded_at))
                        WHERE patient_id IS NOT NULL AND julianday(recorded_at) - julianday(timestamp) > 0.0007;
                    -- The patients a query's result named, by patient and event time.
                    CREATE INDEX entry_patient_time ON entry_patient(patient_id, at);
                    """
            )
        }
        migrator.registerMigration("v5: the canonical bytes of each entry, once; postings for every lookup") { db in
            // Each entry becomes its canonical bytes (what its hash covers) and its hash; every
            // other column was derived from those bytes and goes, with its indexes and the
            // query patients' rows. Lookups go through the posting lists of complete blocks and
            // an index in memory of the block still filling. The postings are written again by
            // the compaction that opening the log runs, in blocks of 4,096 entries.
            try db.execute(
                sql: """
                    CREATE TABLE entry_canonical (
                        seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
                        canonical TEXT NOT NULL,
                        entry_hash BLOB NOT NULL CHECK (length(entry_hash) = 32)
                    ) STRICT;
                    -- The entries that are not tool calls or agent requests (alerts, reviews,
                    -- configuration changes, key events, imported FHIR events): few, by kind.
                    CREATE TABLE entry_kind (
                        seq INTEGER PRIMARY KEY NOT NULL,
                        kind TEXT NOT NULL
                    ) STRICT;
                    CREATE INDEX entry_kind_by_kind ON entry_kind(kind, seq);
                    -- The earliest and latest event time of each complete block, written with its
                    -- postings: a question about a window of time reads only the blocks it overlaps.
                    CREATE TABLE block_time (
                        block INTEGER PRIMARY KEY NOT NULL,
                        first_at TEXT NOT NULL,
                        last_at TEXT NOT NULL
                    ) STRICT;
                    INSERT INTO entry_kind (seq, kind) SELECT seq, kind FROM entry WHERE kind NOT IN ('tool_call', 'agent_request');
                    """
            )
            try copyCanonical(db)
            try db.execute(
                sql: """
                    DROP TABLE entry_patient;
                    DROP TABLE entry;
                    ALTER TABLE entry_canonical RENAME TO entry;
                    CREATE TRIGGER entry_is_append_only_update BEFORE UPDATE ON entry
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    CREATE TRIGGER entry_is_append_only_delete BEFORE DELETE ON entry
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    CREATE TRIGGER entry_kind_is_append_only_update BEFORE UPDATE ON entry_kind
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    CREATE TRIGGER entry_kind_is_append_only_delete BEFORE DELETE ON entry_kind
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;

                    DELETE FROM posting;
                    DELETE FROM posting_span;
                    DELETE FROM block_time;
                    DELETE FROM tool_day;
                    DELETE FROM tool_day_duration;
                    DELETE FROM tool_day_user;
                    DELETE FROM meta WHERE key IN ('postings_through', 'spans_through');
                    INSERT INTO meta (key, value) VALUES ('posting_block_shift', '12'), ('posting_span_shift', '4'),
                        ('format', 'caretrail-log/2')
                        ON CONFLICT (key) DO UPDATE SET value = excluded.value;
                    """
            )
        }
        migrator.registerMigration("v6: epochs of spans") { db in
            // Spans of 65,536 entries merged 16 at a time into epochs of about a million, so a
            // lookup reads about ten epoch rows per key at ten million entries. Derived, like
            // spans: written by the compaction, the spans merged into an epoch then removed.
            try db.execute(
                sql: """
                    CREATE TABLE posting_epoch (
                        kind INTEGER NOT NULL,
                        key TEXT NOT NULL,
                        epoch INTEGER NOT NULL,
                        seqs BLOB NOT NULL,
                        records BLOB,
                        PRIMARY KEY (kind, key, epoch)
                    ) STRICT, WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("v7: the Merkle tree's nodes") { db in
            // The hashes of the Merkle tree's perfect subtrees at levels 4, 8, 12, ... (16,
            // 256, 4,096 ... entries), written off the append path by the same background
            // pass as the postings. Every other node is computed from the level below and
            // leaves from the entries' hashes, so a proof reads a few dozen rows. Derived:
            // opening a log fills in what is missing, and a full verify recomputes it.
            try db.execute(
                sql: """
                    CREATE TABLE merkle_node (
                        level INTEGER NOT NULL CHECK (level > 0),
                        idx INTEGER NOT NULL CHECK (idx >= 0),
                        hash BLOB NOT NULL CHECK (length(hash) = 32),
                        PRIMARY KEY (level, idx)
                    ) STRICT, WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("v8: sealed entries") { db in
            // A retention run seals an entry: it empties its canonical bytes and keeps its
            // sequence number and hash, which the chain and the Merkle tree still need. The
            // update trigger allows that change and no other; an entry's kind-index row may
            // go once its entry is sealed. Verify flags a sealed entry that no chained
            // retention_purge record covers.
            try db.execute(
                sql: """
                    DROP TRIGGER entry_is_append_only_update;
                    CREATE TRIGGER entry_is_append_only_update BEFORE UPDATE ON entry
                    WHEN NOT (NEW.seq = OLD.seq AND NEW.entry_hash = OLD.entry_hash AND NEW.canonical = '')
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    DROP TRIGGER entry_kind_is_append_only_delete;
                    CREATE TRIGGER entry_kind_is_append_only_delete BEFORE DELETE ON entry_kind
                    WHEN coalesce((SELECT canonical FROM entry WHERE seq = OLD.seq), '') <> ''
                    BEGIN SELECT RAISE(ABORT, 'caretrail: the audit log is append-only'); END;
                    """
            )
        }
        return migrator
    }
}

extension Schema {
    /// Copies every entry of the column layout into `entry_canonical` as its canonical bytes,
    /// written from the stored columns exactly as the verifier hashed them. An intact entry's
    /// bytes hash to its stored hash; a damaged one stays damaged.
    fileprivate static func copyCanonical(_ db: Database) throws {
        let columns = (EntryHasher.hashedColumns.map(\.name) + ["entry_hash"]).joined(separator: ", ")
        let select = try db.makeStatement(sql: "SELECT \(columns) FROM entry ORDER BY seq")
        let insert = try db.makeStatement(sql: "INSERT INTO entry_canonical (seq, canonical, entry_hash) VALUES (?, ?, ?)")
        let reading = select.sqliteStatement
        let writing = insert.sqliteStatement
        let row = StatementColumns(statement: reading)
        let hasher = EntryHasher()
        let seqColumn = Int32(EntryHasher.hashedColumns.firstIndex { $0.name == "seq" } ?? 12)
        let hashColumn = Int32(EntryHasher.hashedColumns.count)
        var buffer: [UInt8] = []
        while try StatementColumns.step(reading, db) {
            let seq = row.int64(seqColumn)
            buffer.removeAll(keepingCapacity: true)
            hasher.writeCanonical(seq: seq, into: &buffer) { index, body in row.withBytes(Int32(index), body) }
            sqlite3_reset(writing)
            sqlite3_bind_int64(writing, 1, seq)
            buffer.withUnsafeBufferPointer { bytes in
                _ = bytes.withMemoryRebound(to: CChar.self) {
                    sqlite3_bind_text(writing, 2, $0.baseAddress, Int32($0.count), sqliteTransient)
                }
            }
            row.withBytes(hashColumn) { hash in
                _ = sqlite3_bind_blob(writing, 3, hash?.baseAddress, Int32(hash?.count ?? 0), sqliteTransient)
            }
            guard sqlite3_step(writing) == SQLITE_DONE else {
                throw StoreError(
                    code: .appendFailed, message: "cannot upgrade entry \(seq): \(String(cString: sqlite3_errmsg(db.sqliteConnection)))")
            }
        }
        withExtendedLifetime((select, insert)) {}
    }
}
