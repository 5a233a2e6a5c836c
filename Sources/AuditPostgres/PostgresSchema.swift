/// The log's tables in PostgreSQL, and what keeps them append-only there.
///
/// - `caretrail_chain` is the spine: each entry's sequence number, link, hash and
///   `recorded_at`, kept for every entry for as long as the log lives (verify and the Merkle
///   proofs need it after an entry's content is gone). Forks and gaps fail in the database
///   itself: the primary key allows one entry per sequence number, a unique constraint one
///   successor per entry, and a trigger refuses an entry whose `prev_hash` is not the hash of
///   the entry before it.
/// - `caretrail_entry` holds each entry's canonical bytes as `bytea`, exactly the bytes that
///   are hashed (never `jsonb`, which reorders keys), partitioned by ranges of sequence numbers,
///   one partition per calendar month of `recorded_at` (``openPartitionFunction``), so that a
///   month whose entries have all been deleted is dropped whole.
/// - `caretrail_key` files each entry under the patients, user, conversation, trace, tool and
///   pseudonyms it names (the answers of ``EntryQuery``), with its event time;
///   `caretrail_access` holds, for each of an entry's patients, the entry's report record
///   (``AccessRecord``) in an index that covers it, so that a patient's report is one
///   index-only range scan rather than a page read per access; `caretrail_call` holds each
///   tool call's tool, day, outcome, duration and user, and the counters per tool and day
///   (``counterTables``) what tool statistics sum.
/// - Triggers refuse every `UPDATE`, `DELETE` and `TRUNCATE` of these tables, for their owner
///   too, except the deletes of a retention or archive run, made with `caretrail.retention`
///   set for the transaction by a role granted `caretrail_retention`.
/// - The application role `caretrail_app` may only `SELECT` and `INSERT` the log tables.
enum PostgresSchema {
    /// The role the servers' logins are granted.
    static let applicationRole = "caretrail_app"
    /// The role whose members may run retention and archive runs (delete content).
    static let retentionRole = "caretrail_retention"

    /// An advisory lock key, taken per appending transaction: "CareTrail" in ASCII, truncated.
    static let appendLock: Int64 = 0x4361_7265_5472_6169

    /// The tables an entry's content lives in (deleted by retention), and the spine.
    static let contentTables = ["caretrail_entry", "caretrail_key", "caretrail_access", "caretrail_call"]
    static let logTables = ["caretrail_chain"] + contentTables
    /// Counters of tool statistics per tool and day: derived, updated by every append, and
    /// kept when retention deletes the entries they counted (they hold no entry's content).
    static let counterTables = ["caretrail_tool_day", "caretrail_tool_day_duration", "caretrail_tool_day_user"]

    static let statements: [String] =
        tables + functions + triggers + roles

    private static let tables = [
        """
        CREATE TABLE IF NOT EXISTS caretrail_chain (
            seq bigint PRIMARY KEY CHECK (seq >= 1),
            prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
            entry_hash bytea NOT NULL CHECK (length(entry_hash) = 32),
            recorded_at text NOT NULL,
            CONSTRAINT caretrail_chain_one_successor UNIQUE (prev_hash)
        )
        """,
        // Where the entries recorded from a time on begin (alert windows, retention's bound).
        "CREATE INDEX IF NOT EXISTS caretrail_chain_recorded_at_seq ON caretrail_chain (recorded_at, seq)",
        "DROP INDEX IF EXISTS caretrail_chain_recorded_at",
        """
        CREATE TABLE IF NOT EXISTS caretrail_entry (
            seq bigint NOT NULL,
            kind text NOT NULL,
            canonical bytea NOT NULL,
            PRIMARY KEY (seq)
        ) PARTITION BY RANGE (seq)
        """,
        """
        CREATE INDEX IF NOT EXISTS caretrail_entry_kind ON caretrail_entry (kind, seq)
            WHERE kind <> 'tool_call' AND kind <> 'agent_request'
        """,
        """
        CREATE TABLE IF NOT EXISTS caretrail_partition (
            name text PRIMARY KEY, first_seq bigint NOT NULL UNIQUE, month text NOT NULL UNIQUE
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS caretrail_key (
            kind smallint NOT NULL, key text NOT NULL, seq bigint NOT NULL, event_time text NOT NULL,
            PRIMARY KEY (kind, key, seq)
        )
        """,
        "CREATE INDEX IF NOT EXISTS caretrail_key_seq ON caretrail_key (seq)",
        """
        CREATE TABLE IF NOT EXISTS caretrail_access (
            patient text NOT NULL, seq bigint NOT NULL, record bytea NOT NULL,
            PRIMARY KEY (patient, seq) INCLUDE (record)
        )
        """,
        // An index-only scan reads the heap for pages the visibility map does not mark all
        // visible; vacuuming after every 2% of new rows (not PostgreSQL's 20%) keeps those few.
        "ALTER TABLE caretrail_access SET (autovacuum_vacuum_insert_scale_factor = 0.02)",
        // Verify and retention read a range of entries' records: by sequence number, rows that
        // lie together, not one probe of the primary key per patient.
        "CREATE INDEX IF NOT EXISTS caretrail_access_seq ON caretrail_access (seq)",
        """
        CREATE TABLE IF NOT EXISTS caretrail_call (
            seq bigint PRIMARY KEY, tool_name text NOT NULL, day text NOT NULL, failed boolean NOT NULL,
            duration_ms double precision, user_id text NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS caretrail_call_tool_day ON caretrail_call (tool_name, day)",
        """
        CREATE TABLE IF NOT EXISTS caretrail_tool_day (
            tool_name text NOT NULL, day text NOT NULL, calls bigint NOT NULL, failures bigint NOT NULL, timed bigint NOT NULL,
            duration_sum double precision NOT NULL, PRIMARY KEY (tool_name, day)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS caretrail_tool_day_duration (
            tool_name text NOT NULL, day text NOT NULL, bucket bigint NOT NULL, calls bigint NOT NULL,
            PRIMARY KEY (tool_name, day, bucket)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS caretrail_tool_day_user (
            tool_name text NOT NULL, day text NOT NULL, user_id text NOT NULL, PRIMARY KEY (tool_name, day, user_id)
        )
        """,
        "CREATE TABLE IF NOT EXISTS caretrail_stream_cursor (destination text PRIMARY KEY, seq bigint NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS caretrail_api_key (
            id text PRIMARY KEY, secret_hash bytea NOT NULL UNIQUE, role text NOT NULL, tenant_id text NOT NULL,
            name text, created_at text NOT NULL, revoked_at text
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS caretrail_verification (
            id bigserial PRIMARY KEY, verified_through bigint NOT NULL, head_hash bytea NOT NULL,
            verified_at text NOT NULL, mode text NOT NULL, entries_checked bigint NOT NULL
        )
        """,
    ]

    /// The function that opens a month's partition at the head: the open partition (from its
    /// first sequence number to no end) is given its end, and the new month's begins after it.
    /// It runs with its owner's rights (`SECURITY DEFINER`), so that the application role,
    /// which may not create tables, opens months; it opens one only at the head.
    static let openPartitionFunction = """
        CREATE OR REPLACE FUNCTION caretrail_open_partition(first bigint, month text) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        DECLARE
            open_name text;
            open_first bigint;
            open_month text;
            new_name text;
        BEGIN
            IF month !~ '^[0-9]{4}-[0-9]{2}$' THEN
                RAISE EXCEPTION 'caretrail: % is not a month', month USING ERRCODE = '22023';
            END IF;
            IF first <> (SELECT coalesce(max(seq), 0) + 1 FROM caretrail_chain) THEN
                RAISE EXCEPTION 'caretrail: a partition opens only at the head' USING ERRCODE = '22023';
            END IF;
            new_name := 'caretrail_entry_' || replace(month, '-', '_');
            SELECT p.name, p.first_seq, p.month INTO open_name, open_first, open_month
                FROM caretrail_partition p ORDER BY p.first_seq DESC LIMIT 1;
            IF open_month IS NOT NULL AND open_month >= month THEN
                RETURN;
            END IF;
            IF open_name IS NOT NULL THEN
                EXECUTE format('ALTER TABLE caretrail_entry DETACH PARTITION %I', open_name);
                EXECUTE format('ALTER TABLE caretrail_entry ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                    open_name, open_first, first);
            END IF;
            EXECUTE format('CREATE TABLE %I PARTITION OF caretrail_entry FOR VALUES FROM (%s) TO (MAXVALUE)', new_name, first);
            EXECUTE format('CREATE TRIGGER caretrail_no_truncate BEFORE TRUNCATE ON %I '
                || 'FOR EACH STATEMENT EXECUTE FUNCTION caretrail_refuse_change()', new_name);
            INSERT INTO caretrail_partition (name, first_seq, month) VALUES (new_name, first, month);
        END $$
        """

    /// Drops the partitions, but the open one, that retention left without rows: a month whose
    /// entries have all been deleted goes whole, and its space with it.
    static let dropEmptyPartitionsFunction = """
        CREATE OR REPLACE FUNCTION caretrail_drop_empty_partitions() RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
        DECLARE
            part record;
            empty boolean;
            dropped integer := 0;
            open_first bigint;
        BEGIN
            SELECT max(first_seq) INTO open_first FROM caretrail_partition;
            FOR part IN SELECT name, first_seq FROM caretrail_partition WHERE first_seq < open_first ORDER BY first_seq LOOP
                EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %I)', part.name) INTO empty;
                IF empty THEN
                    EXECUTE format('DROP TABLE %I', part.name);
                    DELETE FROM caretrail_partition WHERE name = part.name;
                    dropped := dropped + 1;
                END IF;
            END LOOP;
            RETURN dropped;
        END $$
        """

    /// Takes the log's append lock for the transaction, then reads the head and the open
    /// month in statements of their own (each sees what committed before the lock was held).
    static let beginAppendFunction = """
        CREATE OR REPLACE FUNCTION caretrail_begin_append() RETURNS TABLE (seq bigint, entry_hash bytea, month text)
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(\(appendLock));
            RETURN QUERY SELECT c.seq, c.entry_hash, (SELECT max(p.month) FROM caretrail_partition p)
                FROM caretrail_chain c ORDER BY c.seq DESC LIMIT 1;
            IF NOT FOUND THEN
                RETURN QUERY SELECT NULL::bigint, NULL::bytea, (SELECT max(p.month) FROM caretrail_partition p);
            END IF;
        END $$
        """

    private static let functions = [
        """
        CREATE OR REPLACE FUNCTION caretrail_check_link() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            expected bytea;
        BEGIN
            IF NEW.seq = 1 THEN
                expected := decode(repeat('00', 32), 'hex');
            ELSE
                SELECT entry_hash INTO expected FROM caretrail_chain WHERE seq = NEW.seq - 1;
            END IF;
            IF expected IS NULL OR expected <> NEW.prev_hash THEN
                RAISE EXCEPTION 'caretrail: entry % does not link to the entry before it', NEW.seq USING ERRCODE = '23514';
            END IF;
            RETURN NEW;
        END $$
        """,
        """
        CREATE OR REPLACE FUNCTION caretrail_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' AND TG_TABLE_NAME <> 'caretrail_chain'
                AND current_setting('caretrail.retention', true) = 'on' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'caretrail: the audit log is append-only (% refused)', TG_OP USING ERRCODE = '42501';
        END $$
        """,
        openPartitionFunction,
        dropEmptyPartitionsFunction,
        beginAppendFunction,
    ]

    private static let triggers: [String] = {
        var statements = [
            "DROP TRIGGER IF EXISTS caretrail_chain_link ON caretrail_chain",
            """
            CREATE TRIGGER caretrail_chain_link BEFORE INSERT ON caretrail_chain
                FOR EACH ROW EXECUTE FUNCTION caretrail_check_link()
            """,
        ]
        for table in logTables {
            statements += [
                "DROP TRIGGER IF EXISTS caretrail_append_only ON \(table)",
                """
                CREATE TRIGGER caretrail_append_only BEFORE UPDATE OR DELETE ON \(table)
                    FOR EACH ROW EXECUTE FUNCTION caretrail_refuse_change()
                """,
                "DROP TRIGGER IF EXISTS caretrail_no_truncate ON \(table)",
                """
                CREATE TRIGGER caretrail_no_truncate BEFORE TRUNCATE ON \(table)
                    FOR EACH STATEMENT EXECUTE FUNCTION caretrail_refuse_change()
                """,
            ]
        }
        return statements
    }()

    private static let roles: [String] = {
        var statements = [
            """
            DO $$ BEGIN
                -- Roles belong to the cluster: installs into two databases at once may race.
                BEGIN
                    CREATE ROLE caretrail_app NOLOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                END;
                BEGIN
                    CREATE ROLE caretrail_retention NOLOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                END;
            END $$
            """,
            "GRANT caretrail_app TO caretrail_retention",
        ]
        let allTables =
            logTables + counterTables + ["caretrail_partition", "caretrail_stream_cursor", "caretrail_api_key", "caretrail_verification"]
        for table in allTables {
            statements += ["REVOKE ALL ON \(table) FROM PUBLIC", "REVOKE ALL ON \(table) FROM caretrail_app, caretrail_retention"]
        }
        statements += [
            "GRANT SELECT, INSERT ON \(logTables.joined(separator: ", ")) TO caretrail_app",
            "GRANT SELECT ON caretrail_partition TO caretrail_app",
            "GRANT SELECT, INSERT, UPDATE ON \(counterTables.joined(separator: ", ")) TO caretrail_app",
            "GRANT SELECT, INSERT, UPDATE ON caretrail_stream_cursor, caretrail_api_key TO caretrail_app",
            "GRANT SELECT, INSERT ON caretrail_verification TO caretrail_app",
            "GRANT USAGE ON SEQUENCE caretrail_verification_id_seq TO caretrail_app",
            "GRANT DELETE ON \(contentTables.joined(separator: ", ")) TO caretrail_retention",
            "REVOKE ALL ON FUNCTION caretrail_open_partition(bigint, text) FROM PUBLIC",
            "GRANT EXECUTE ON FUNCTION caretrail_open_partition(bigint, text) TO caretrail_app",
            "REVOKE ALL ON FUNCTION caretrail_begin_append() FROM PUBLIC",
            "GRANT EXECUTE ON FUNCTION caretrail_begin_append() TO caretrail_app",
            "REVOKE ALL ON FUNCTION caretrail_drop_empty_partitions() FROM PUBLIC",
            "GRANT EXECUTE ON FUNCTION caretrail_drop_empty_partitions() TO caretrail_retention",
        ]
        return statements
    }()

    /// What ``statements`` grant, as `caretrail init` prints it.
    static let granted = [
        "caretrail_app: SELECT, INSERT on \(logTables.joined(separator: ", ")) (UPDATE, DELETE and TRUNCATE revoked)",
        "caretrail_app: SELECT, INSERT, UPDATE on caretrail_stream_cursor, caretrail_api_key, \(counterTables.joined(separator: ", ")); SELECT, INSERT on caretrail_verification",
        "caretrail_app: EXECUTE caretrail_open_partition (opens a month's partition at the head only)",
        "caretrail_retention: caretrail_app, and DELETE on \(contentTables.joined(separator: ", ")) for retention and archive runs",
        "caretrail_retention: EXECUTE caretrail_drop_empty_partitions",
        "log tables: triggers refuse UPDATE, DELETE and TRUNCATE for every role, the owner included, but a retention or archive run's deletes of content",
        "caretrail_chain: forks and gaps refused (primary key on seq, unique prev_hash, a trigger checking each link)",
    ]
}
