/* What SQLite alone costs a report at scale: 500 point reads by sequence number, at random
 * places of a large log (a year report's rows are scattered like that), with the columns a
 * report reads. Ten rounds of 500, each timed. Run on a big log after `cat LOG > /dev/null` to
 * measure with the page cache warm.
 * Build: cc -O2 lookup-floor.c -lsqlite3; run: ./a.out LOG [mmap]   (mmap: map the first 2 GB) */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: lookup-floor LOG [mmap]\n"); return 64; }
    sqlite3 *db;
    sqlite3_stmt *statement;
    sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_exec(db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
    if (argc > 2 && strcmp(argv[2], "mmap") == 0) sqlite3_exec(db, "PRAGMA mmap_size = 2147418112", NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "SELECT max(seq) FROM entry", -1, &statement, NULL);
    long count = sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
    sqlite3_finalize(statement);
    if (count < 1) { fprintf(stderr, "an empty log\n"); return 1; }
    sqlite3_prepare_v2(db,
        "SELECT seq, kind, coalesce(timestamp, recorded_at), recorded_at, tenant_id, user_id, model, tool_name, action, "
        "purpose_of_use, outcome, conversation_id, trace_id FROM entry WHERE seq = ?", -1, &statement, NULL);
    srand(42);
    long bytes = 0;
    for (int round = 0; round < 10; round++) {
        double start = now();
        for (int i = 0; i < 500; i++) {
            sqlite3_reset(statement);
            sqlite3_bind_int64(statement, 1, 1 + ((long)rand() * 7919L) % count);
            while (sqlite3_step(statement) == SQLITE_ROW)
                for (int c = 0; c < sqlite3_column_count(statement); c++) bytes += sqlite3_column_bytes(statement, c);
        }
        printf("%.2f ms ", (now() - start) * 1000);
    }
    printf("for 500 rows each (%ld bytes read)\n", bytes);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return 0;
}
