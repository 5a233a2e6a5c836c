/// The log's tables in PostgreSQL, and what keeps them append-only there.
///
/// - `caretrail_entry` holds each entry's canonical bytes as `bytea`, exactly the bytes that
///   are hashed (never `jsonb`, which reorders keys), with its sequence number, its link and
///   its hash.
/// - Forks and gaps fail in the database itself: the primary key allows one entry per
///   sequence number, a unique constraint one successor per entry, and a trigger refuses an
///   entry whose `prev_hash` is not the hash of the entry before it.
/// - Another trigger refuses every `UPDATE`, `DELETE` and `TRUNCATE`, for the table's owner
///   too, except the one change a retention run makes: emptying an entry's content, with
///   `caretrail.retention` set for its transaction.
/// - The application role `caretrail_app` may only `SELECT` and `INSERT`.
enum PostgresSchema {
    /// The role the servers' logins are granted.
    static let applicationRole = "caretrail_app"

    /// An advisory lock key, taken per appending transaction: "CareTrail" in ASCII, truncated.
    static let appendLock: Int64 = 0x4361_7265_5472_6169

    static let statements: [String] = [
        """
        CREATE TABLE IF NOT EXISTS caretrail_entry (
            seq bigint PRIMARY KEY CHECK (seq >= 1),
            prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
            entry_hash bytea NOT NULL CHECK (length(entry_hash) = 32),
            recorded_at text NOT NULL,
            canonical bytea NOT NULL,
            CONSTRAINT caretrail_entry_one_successor UNIQUE (prev_hash)
        )
        """,
        """
        CREATE OR REPLACE FUNCTION caretrail_check_link() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            expected bytea;
        BEGIN
            IF NEW.seq = 1 THEN
                expected := decode(repeat('00', 32), 'hex');
            ELSE
                SELECT entry_hash INTO expected FROM caretrail_entry WHERE seq = NEW.seq - 1;
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
            IF TG_OP = 'UPDATE' AND current_setting('caretrail.retention', true) = 'on'
                AND NEW.seq = OLD.seq AND NEW.prev_hash = OLD.prev_hash AND NEW.entry_hash = OLD.entry_hash
                AND NEW.recorded_at = OLD.recorded_at AND length(NEW.canonical) = 0 THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'caretrail: the audit log is append-only (% refused)', TG_OP USING ERRCODE = '42501';
        END $$
        """,
        "DROP TRIGGER IF EXISTS caretrail_entry_link ON caretrail_entry",
        """
        CREATE TRIGGER caretrail_entry_link BEFORE INSERT ON caretrail_entry
            FOR EACH ROW EXECUTE FUNCTION caretrail_check_link()
        """,
        "DROP TRIGGER IF EXISTS caretrail_entry_append_only ON caretrail_entry",
        """
        CREATE TRIGGER caretrail_entry_append_only BEFORE UPDATE OR DELETE ON caretrail_entry
            FOR EACH ROW EXECUTE FUNCTION caretrail_refuse_change()
        """,
        "DROP TRIGGER IF EXISTS caretrail_entry_no_truncate ON caretrail_entry",
        """
        CREATE TRIGGER caretrail_entry_no_truncate BEFORE TRUNCATE ON caretrail_entry
            FOR EACH STATEMENT EXECUTE FUNCTION caretrail_refuse_change()
        """,
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'caretrail_app') THEN
                CREATE ROLE caretrail_app NOLOGIN;
            END IF;
        END $$
        """,
        "REVOKE ALL ON caretrail_entry FROM PUBLIC",
        "REVOKE ALL ON caretrail_entry FROM caretrail_app",
        "GRANT SELECT, INSERT ON caretrail_entry TO caretrail_app",
    ]

    /// What ``statements`` grant, as `caretrail init` prints it.
    static let granted = [
        "caretrail_app: SELECT, INSERT on caretrail_entry (UPDATE, DELETE and TRUNCATE revoked)",
        "caretrail_entry: triggers refuse UPDATE, DELETE and TRUNCATE for every role, the owner included, but a retention run's sealing",
        "caretrail_entry: forks and gaps refused (primary key on seq, unique prev_hash, a trigger checking each link)",
    ]
}
