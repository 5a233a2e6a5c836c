/* The least work any verifier of a CareTrail log must do: read each entry's canonical bytes
 * from SQLite and SHA-256 them. Reads the one-column copy made by one-column.py, in THREADS
 * contiguous ranges on as many threads (one reader connection each, the file memory-mapped),
 * and prints entries per second. Build: cc -O2 verify-floor.c -lsqlite3 -lcrypto -lpthread */
#define _GNU_SOURCE
#include <openssl/sha.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct range { const char *path; long low, high, intact; };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *verify(void *argument) {
    struct range *r = argument;
    sqlite3 *db;
    sqlite3_stmt *statement;
    unsigned char digest[32];
    sqlite3_open_v2(r->path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_exec(db, "PRAGMA mmap_size = 2147418112", NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "SELECT canonical, entry_hash FROM entry WHERE seq BETWEEN ? AND ?", -1, &statement, NULL);
    sqlite3_bind_int64(statement, 1, r->low);
    sqlite3_bind_int64(statement, 2, r->high);
    while (sqlite3_step(statement) == SQLITE_ROW) {
        SHA256(sqlite3_column_blob(statement, 0), sqlite3_column_bytes(statement, 0), digest);
        r->intact += memcmp(digest, sqlite3_column_blob(statement, 1), 32) == 0;
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: verify-floor COPY THREADS\n"); return 64; }
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > 16) { fprintf(stderr, "THREADS: 1 to 16\n"); return 64; }
    sqlite3 *db;
    sqlite3_stmt *statement;
    sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_prepare_v2(db, "SELECT max(seq) FROM entry", -1, &statement, NULL);
    long count = sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
    sqlite3_finalize(statement);
    sqlite3_close(db);
    pthread_t workers[16];
    struct range ranges[16];
    double start = now();
    for (int i = 0; i < threads; i++) {
        ranges[i] = (struct range){argv[1], 1 + count * i / threads, count * (i + 1) / threads, 0};
        pthread_create(&workers[i], NULL, verify, &ranges[i]);
    }
    long intact = 0;
    for (int i = 0; i < threads; i++) { pthread_join(workers[i], NULL); intact += ranges[i].intact; }
    double seconds = now() - start;
    printf("%d thread(s): %ld of %ld entries hash to their stored hash, %.3f s = %.0f entries/s\n",
           threads, intact, count, seconds, count / seconds);
    return intact == count ? 0 : 1;
}
