/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The text classifier's bulk path without any I/O: the text of
 * tests/fake-agents/line-flood (80- and 1000-byte lines of English and
 * code) classified block by block as the daemon does
 * (ar_classifier_feed_lines_fast), and the block prefilter alone
 * (ar_classify_text_may_match over the same 4 KiB blocks). CPU time per
 * byte, next to a memcpy of the same bytes measured in the same run (what
 * any reader pays to get the bytes at all, once more in the kernel).
 *
 * Usage: bench-classify-prefilter [MIB [PASSES]] */

#include <string.h>
#include <time.h>

#include "ar-classify-private.h"
#include "ar-classify.h"

/* The same text and line cutting as tests/fake-agents/line-flood. */
static const char TEXT[] =
    "Running the test suite after the refactor of the parser module. "
    "src/parser.c:212:9: warning: unused variable 'count' [-Wunused-variable] "
    "All 318 tests passed in 2.41 s; the coverage report is in build/coverage/index.html. "
    "Next I will update the documentation of the config loader and its error messages, "
    "then commit with a message that explains why the cache was removed. "
    "def load(path): return json.loads(open(path).read()) if os.path.exists(path) else {} "
    "The function returns early when the buffer is empty, so the caller never sees a "
    "partial record; I added a regression test for that case and for the code path "
    "that handles a missing header. Checking git status: 3 files changed, 41 insertions. ";

static GByteArray *
text_lines(gsize width, gsize total)
{
  gsize tlen = strlen(TEXT);
  GByteArray *out = g_byte_array_sized_new((guint)(total + width));
  gsize pos = 0;

  while (out->len < total) {
    gsize start = pos % tlen;
    for (gsize k = 0; k + 1 < width; k++)
      g_byte_array_append(out, (const guint8 *)&TEXT[(start + k) % tlen], 1);
    g_byte_array_append(out, (const guint8 *)"\n", 1);
    pos += 37;
  }
  return out;
}

static double
cpu_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BLOCK 4096

static volatile gsize sink;

static void
bench_prefilter(const char *data, gsize len)
{
  gsize hits = 0;
  for (gsize done = 0; done < len;) {
    const char *b = data + done;
    gsize rest = len - done;
    const char *cut = rest > BLOCK ? memchr(b + BLOCK - 1, '\n', rest - (BLOCK - 1)) : NULL;
    gsize blen = cut ? (gsize)(cut - b) + 1 : rest;
    hits += ar_classify_text_may_match(AR_DIALECT_TEXT, b, blen);
    done += blen;
  }
  sink += hits;
}

static void
bench_classifier(const char *data, gsize len)
{
  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_TEXT);
  gsize done = ar_classifier_feed_lines_fast(c, data, len, 64 * 1024, 0);
  /* What the bulk path leaves (all of it with the shortcuts off): line by
   * line, as the daemon's line scanner would hand it over. */
  while (done < len) {
    const char *nl = memchr(data + done, '\n', len - done);
    gsize l = nl ? (gsize)(nl - (data + done)) : len - done;
    ar_classifier_feed_line(c, data + done, l, 0);
    done += l + 1;
  }
  sink += done;
}

static void
bench_memcpy(const char *data, gsize len)
{
  static char dst[256 * 1024];
  for (gsize done = 0; done < len; done += sizeof dst) {
    gsize n = MIN(sizeof dst, len - done);
    memcpy(dst, data + done, n);
    sink += (guchar)dst[n / 2];
  }
}

static double
ns_per_byte(void (*fn)(const char *, gsize), const GByteArray *data, int passes)
{
  double t0 = cpu_s();
  for (int i = 0; i < passes; i++)
    fn((const char *)data->data, data->len);
  return (cpu_s() - t0) * 1e9 / ((double)data->len * passes);
}

static void
print_anchor(const char *anchor, gpointer user_data)
{
  (void)user_data;
  g_print(" \"%s\"", anchor);
}

int
main(int argc, char **argv)
{
  gsize mib = argc > 1 ? g_ascii_strtoull(argv[1], NULL, 10) : 8;
  int passes = argc > 2 ? atoi(argv[2]) : 50;
  static const gsize widths[] = { 80, 1000 };

  g_print("anchors (text dialect):");
  ar_literal_set_foreach_anchor(ar_classify_message_prefilter(AR_DIALECT_TEXT), print_anchor, NULL);
  g_print("\nclassify-prefilter: %zu MiB x %d passes, CPU ns/byte (baseline: memcpy)\n", mib,
          passes);
  g_print("  %-6s %8s %10s %10s %8s\n", "lines", "memcpy", "prefilter", "classifier", "slow");
  for (gsize w = 0; w < G_N_ELEMENTS(widths); w++) {
    g_autoptr(GByteArray) data = text_lines(widths[w], mib << 20);
    double copy = ns_per_byte(bench_memcpy, data, passes);
    double pre = ns_per_byte(bench_prefilter, data, passes);
    double cls = ns_per_byte(bench_classifier, data, passes);
    /* The same with every shortcut off, for scale (one pass is plenty). */
    ar_classify_set_fast_paths(FALSE);
    double slow = ns_per_byte(bench_classifier, data, 1);
    ar_classify_set_fast_paths(TRUE);
    g_print("  %-6zu %8.3f %10.3f %10.3f %8.2f\n", widths[w], copy, pre, cls, slow);
  }
  return 0;
}
