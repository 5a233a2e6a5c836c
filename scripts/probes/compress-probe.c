/* What compressing each entry's canonical bytes would cost and save: zlib's raw deflate with a
 * preset dictionary (the first entries of the log), each entry compressed and inflated on its
 * own, as a log would have to. Reads 10,000 entries of a log (every 20th).
 *   cc -O2 -o compress-probe compress-probe.c -lsqlite3 -lz
 *   ./compress-probe LOG DICTIONARY_BYTES LEVEL WINDOW_BITS MEM_LEVEL     (e.g. LOG 4096 1 12 4)
 * Needs libsqlite3-dev and zlib1g-dev. */
#include <sqlite3.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(int argc,char**argv){
  sqlite3*db; sqlite3_open_v2(argv[1],&db,SQLITE_OPEN_READONLY,NULL);
  int dictSize=atoi(argv[2]); int level=atoi(argv[3]);
  sqlite3_stmt*st; sqlite3_prepare_v2(db,"SELECT canonical FROM entry WHERE seq % 20 = 0 LIMIT 10000",-1,&st,NULL);
  char**rows=malloc(10000*sizeof(char*)); int*lens=malloc(10000*sizeof(int)); int n=0;
  while(sqlite3_step(st)==SQLITE_ROW){int l=sqlite3_column_bytes(st,0);rows[n]=malloc(l);memcpy(rows[n],sqlite3_column_blob(st,0),l);lens[n]=l;n++;}
  /* dictionary: the end of the first rows concatenated */
  unsigned char*dict=malloc(dictSize); int d=0; for(int i=0;i<200&&d<dictSize;i++){int c=lens[i]<dictSize-d?lens[i]:dictSize-d; memcpy(dict+d,rows[i],c); d+=c;}
  z_stream z; memset(&z,0,sizeof z); deflateInit2(&z,level,Z_DEFLATED,-atoi(argv[4]),atoi(argv[5]),Z_DEFAULT_STRATEGY);
  unsigned char out[8192]; long total=0; double t0=now();
  unsigned char**comp=malloc(n*sizeof(char*)); int*clen=malloc(n*sizeof(int));
  for(int i=200;i<n;i++){deflateReset(&z); deflateSetDictionary(&z,dict,d); z.next_in=(unsigned char*)rows[i]; z.avail_in=lens[i]; z.next_out=out; z.avail_out=sizeof out; deflate(&z,Z_FINISH); int c=sizeof out - z.avail_out; total+=c; comp[i]=malloc(c); memcpy(comp[i],out,c); clen[i]=c;}
  double t1=now();
  z_stream u; memset(&u,0,sizeof u); inflateInit2(&u,-atoi(argv[4]));
  double t2=now();
  for(int i=200;i<n;i++){inflateReset(&u); inflateSetDictionary(&u,dict,d); u.next_in=comp[i]; u.avail_in=clen[i]; u.next_out=out; u.avail_out=sizeof out; inflate(&u,Z_FINISH);}
  double t3=now();
  printf("dictionary %d bytes, level %d: %.0f bytes on average, deflate %.1f us, inflate %.1f us per entry\n",d,level,(double)total/(n-200),(t1-t0)/(n-200)*1e6,(t3-t2)/(n-200)*1e6);
  return 0;}
