/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The block prefilter's vector scan (src/common/classify/ar-classify-scan.c)
 * against its scalar reference and a naive search. Built natively (AVX2)
 * and cross-compiled for aarch64 (NEON, run under qemu-user) by
 * tests/classify-scan.py, so plain C: no GLib exists for the target.
 *
 * Usage: classify-scan-driver ANCHORS_FILE [SEED]
 * ANCHORS_FILE holds the classifier's literal sets (tests/classify-anchors):
 * anchors one a line, a blank line after each set.
 *
 * For every set and input, in a buffer that ends at an unreadable page
 * (a read past the end faults, natively and under qemu):
 * - the vector kernel's bucket byte at every position equals the scalar
 *   lookup's (with and without the number);
 * - every hit that ar_anchor_scan_find reports, searching on from each
 *   one, equals the reference's, position and kind;
 * - the first answer agrees with a naive search of the anchors and of
 *   [45][0-9][0-9].
 * Inputs: every anchor at every offset across 2 * 64 + 4 bytes (the
 * vector steps' and groups' borders), in random case, whole and cut by one
 * byte, in many short lines, with one byte's 0x20 bit flipped, followed by
 * non-ASCII; numbers at every offset; random bytes and random text built
 * from the anchors. Exit 77 when this CPU has no vector path. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ar-classify-scan.h"

#define MAX_ANCHORS 4096
#define MAX_SETS    16

typedef struct {
  char *anchors[MAX_ANCHORS];
  unsigned n;
  ArAnchorScan *scan;
} Set;

static Set sets[MAX_SETS];
static unsigned n_sets;
static uint64_t rng_state;
static unsigned long checks, failures;
/* The first byte of a PROT_NONE page, GUARDED_MAX readable bytes before. */
static unsigned char *guard;
#define GUARDED_MAX (64 * 1024)

static void
guard_init(void)
{
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t size = (GUARDED_MAX + page - 1) / page * page;
  unsigned char *m =
      mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED || mprotect(m + size, page, PROT_NONE) != 0) {
    perror("mmap");
    exit(1);
  }
  guard = m + size;
}

static uint32_t
rnd(void)
{
  /* xorshift64*: reproducible from the seed on every target. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

static unsigned char
lower(unsigned char c)
{
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool
naive_anchor(const Set *s, const unsigned char *t, size_t len)
{
  for (size_t p = 0; p < len; p++)
    for (unsigned i = 0; i < s->n; i++) {
      const char *a = s->anchors[i];
      size_t k = 0;
      while (a[k] && p + k < len && lower(t[p + k]) == (unsigned char)a[k])
        k++;
      if (a[k] == '\0')
        return true;
    }
  return false;
}

static bool
naive_digits(const unsigned char *t, size_t len)
{
  for (size_t p = 0; p + 3 <= len; p++)
    if ((t[p] == '4' || t[p] == '5') && t[p + 1] >= '0' && t[p + 1] <= '9' && t[p + 2] >= '0' &&
        t[p + 2] <= '9')
      return true;
  return false;
}

static void
fail(const char *what, const Set *s, const unsigned char *t, size_t len, size_t at)
{
  failures++;
  if (failures > 20)
    return;
  fprintf(stderr, "FAIL %s (set %u, len %zu, position %zu): \"", what, (unsigned)(s - sets), len,
          at);
  for (size_t i = 0; i < len && i < 300; i++)
    fprintf(stderr, t[i] >= 0x20 && t[i] < 0x7f && t[i] != '"' ? "%c" : "\\x%02x", t[i]);
  fprintf(stderr, "\"\n");
}

/* All checks of one input; naive: also compare with the naive search
 * (quadratic in the anchors, so not for every input). */
static void
check(const Set *s, const unsigned char *src, size_t len, bool naive, bool expect_anchor)
{
  /* A copy that ends where an unreadable page starts: a read past len
   * faults, under qemu too. */
  unsigned char *t = guard - len;
  uint8_t *vec = malloc(len ? len : 1), *ref = malloc(len ? len : 1);
  if (len > GUARDED_MAX || vec == NULL || ref == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  memcpy(t, src, len);
  for (int digits = 0; digits < 2; digits++) {
    checks++;
    ar_anchor_scan_candidates(s->scan, (const char *)t, len, digits, false, vec);
    ar_anchor_scan_candidates(s->scan, (const char *)t, len, digits, true, ref);
    for (size_t p = 0; p < len; p++)
      if (vec[p] != ref[p]) {
        fail("candidate bits differ", s, t, len, p);
        break;
      }

    size_t from_v = 0, from_r = 0;
    ArScanHit first = AR_SCAN_NONE;
    for (int hits = 0; hits < 10000; hits++) {
      ArScanHit hv = ar_anchor_scan_find(s->scan, (const char *)t, len, &from_v, digits);
      ArScanHit hr = ar_anchor_scan_find_reference(s->scan, (const char *)t, len, &from_r, digits);
      if (hits == 0)
        first = hv;
      if (hv != hr || from_v != from_r) {
        fail("find differs from the reference", s, t, len, from_r);
        break;
      }
      if (hv == AR_SCAN_NONE)
        break;
      from_v++;
      from_r++;
    }
    if (expect_anchor && first != AR_SCAN_ANCHOR && !(digits && first == AR_SCAN_DIGITS))
      fail("a planted anchor not found", s, t, len, 0);
    if (naive) {
      bool a = naive_anchor(s, t, len), d = digits && naive_digits(t, len);
      if ((first != AR_SCAN_NONE) != (a || d) || (first == AR_SCAN_DIGITS && !d) ||
          (!digits && first != AR_SCAN_NONE && !a))
        fail("differs from the naive search", s, t, len, 0);
    }
  }
  free(vec);
  free(ref);
}

static void
random_case(unsigned char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] >= 'a' && p[i] <= 'z' && (rnd() & 1))
      p[i] = (unsigned char)(p[i] - 32);
}

/* Short lines ("ab\n"): what floods look like, and no anchor. */
static void
fill_lines(unsigned char *p, size_t n)
{
  static const char filler[] = "yy\nok\n.\n\n-- \n";
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)filler[i % (sizeof filler - 1)];
}

/* Every anchor at every offset over the vector steps' borders. */
static void
sweep_anchors(const Set *s)
{
  enum { SPAN = 2 * 64 + 4 };
  unsigned char buf[SPAN + 256 + 64];
  static const size_t tails[] = { 0, 1, 2, 3, 4, 19, 35 };
  for (unsigned i = 0; i < s->n; i++) {
    const char *a = s->anchors[i];
    size_t alen = strlen(a);
    for (size_t off = 0; off <= SPAN; off++)
      for (size_t ti = 0; ti < sizeof tails / sizeof *tails; ti++) {
        size_t len = off + alen + tails[ti];
        if (len > sizeof buf)
          continue;
        fill_lines(buf, len);
        memcpy(buf + off, a, alen);
        random_case(buf + off, alen);
        check(s, buf, len, false, true);
        /* Cut by one byte at either end: only the reference says. */
        if (ti == 0) {
          check(s, buf, len - 1, false, false);
          check(s, buf + off + 1, alen - 1, true, false);
        }
      }
    /* One byte's 0x20 bit flipped (a case change for a letter, another
     * byte that folds alike otherwise), then a non-ASCII byte inside. */
    for (size_t k = 0; k < alen; k++) {
      size_t off = rnd() % 70, len = off + alen + 5;
      fill_lines(buf, len);
      memcpy(buf + off, a, alen);
      buf[off + k] ^= 0x20;
      check(s, buf, len, true, false);
      buf[off + k] ^= 0x20;
      buf[off + k] |= 0x80;
      check(s, buf, len, true, false);
    }
  }
}

/* [45] and two digits at every offset, with what may follow. */
static void
sweep_numbers(const Set *s)
{
  static const char *const numbers[] = { "429",         "500", "403 ", "5xx", "4 29",
                                         "599\xc3\xa9", "39a", "45",   "4",   "509\x80" };
  unsigned char buf[200];
  for (size_t n = 0; n < sizeof numbers / sizeof *numbers; n++)
    for (size_t off = 0; off <= 140; off++) {
      size_t nlen = strlen(numbers[n]), len = off + nlen;
      fill_lines(buf, len);
      memcpy(buf + off, numbers[n], nlen);
      check(s, buf, len, off < 8, false);
    }
}

static void
random_inputs(const Set *s, unsigned count)
{
  unsigned char buf[6000];
  for (unsigned r = 0; r < count; r++) {
    size_t len = rnd() % (r % 10 == 0 ? sizeof buf : 300);
    unsigned style = rnd() % 4;
    for (size_t i = 0; i < len; i++)
      buf[i] = style == 0   ? (unsigned char)rnd()
               : style == 1 ? (unsigned char)(0x20 + rnd() % 95)
                            : (unsigned char)"etaoin \n45-9:{}\"ERROR"[rnd() % 22];
    /* A few anchors, in random case, some cut. */
    for (unsigned k = rnd() % 4; k > 0 && len > 0; k--) {
      const char *a = s->anchors[rnd() % s->n];
      size_t alen = strlen(a) - (rnd() % 3 == 0 ? 1 : 0), off = rnd() % len;
      if (off + alen > len)
        continue;
      memcpy(buf + off, a, alen);
      random_case(buf + off, alen);
    }
    check(s, buf, len, len < 400, false);
  }
}

static void
read_sets(const char *path)
{
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  char line[1024];
  Set *s = &sets[0];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == '\0') {
      if (s->n > 0 && n_sets + 1 < MAX_SETS)
        s = &sets[++n_sets];
      continue;
    }
    if (s->n < MAX_ANCHORS)
      s->anchors[s->n++] = strdup(line);
  }
  if (s->n > 0)
    n_sets++;
  fclose(f);
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: classify-scan-driver ANCHORS_FILE [SEED]\n");
    return 2;
  }
  read_sets(argv[1]);
  guard_init();
  rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 0x9e3779b97f4a7c15u;
  if (rng_state == 0)
    rng_state = 1;
  if (n_sets == 0) {
    fprintf(stderr, "%s: no literal sets\n", argv[1]);
    return 1;
  }
  unsigned scanned = 0, anchors = 0;
  for (unsigned i = 0; i < n_sets; i++) {
    Set *s = &sets[i];
    s->scan = ar_anchor_scan_new((const char *const *)s->anchors, s->n);
    if (s->scan == NULL)
      continue;
    scanned++;
    anchors += s->n;
    sweep_anchors(s);
    sweep_numbers(s);
    random_inputs(s, 3000);
  }
  if (scanned == 0) {
    printf("SKIP: no vector scan on this CPU (or no set qualifies)\n");
    return 77;
  }
  printf("%u of %u sets scanned, %u anchors, %lu checks, %lu failures\n", scanned, n_sets, anchors,
         checks, failures);
  for (unsigned i = 0; i < n_sets; i++) {
    ar_anchor_scan_free(sets[i].scan);
    for (unsigned k = 0; k < sets[i].n; k++)
      free(sets[i].anchors[k]);
  }
  return failures ? 1 : 0;
}
