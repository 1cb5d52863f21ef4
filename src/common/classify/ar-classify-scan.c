/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The block prefilter's vector scan: every anchor of a literal set, and a
 * 4xx/5xx-looking number, searched for in one pass over a block of text,
 * 32 positions at a time (x86-64 with AVX2; elsewhere the set's own scan in
 * ar-classify-prefilter.c answers, with the same result).
 *
 * The method is Hyperscan's "Teddy": each anchor is represented by one of
 * its 4-byte substrings (its fingerprint, the one of rarest bytes), and the
 * fingerprints are spread over 7 buckets (bit 7 is the number). A table
 * lookup per nibble (pshufb) gives, for the 4 bytes at every position, the
 * buckets whose fingerprints could start there; a position where some
 * bucket survives all 8 lookups is a candidate, and only candidates are
 * checked exactly, against the anchors of that bucket. Letters are
 * entered with both cases' high nibble, so the lookup is ASCII caseless
 * without folding the text. The scan costs ~1 instruction a byte and
 * never says "no" where an anchor occurs: a bucket's nibble sets contain
 * every byte of its fingerprints.
 *
 * On the daemon's output path this replaced three passes (sampled windows
 * for the long anchors, a vector scan for each short one, one for the
 * status digits) that cost ~0.4 ns/byte: what made 80-byte lines of text
 * cost more than `cat`. */

#include <string.h>

#include "ar-classify-private.h"

#define FP_LEN         4
#define ANCHOR_BUCKETS 7
#define DIGITS_BIT     0x80u

typedef struct {
  const char *anchor; /* lowercase, owned by the caller's set */
  gsize len;
  gsize offset; /* where the fingerprint starts in the anchor */
} Entry;

typedef struct {
  guint32 folded;  /* the fingerprint's bytes | 0x20, a quick pre-test */
  GArray *entries; /* Entry: the anchors that have this fingerprint */
} Fingerprint;

struct _ArAnchorScan {
  guint8 lo[FP_LEN][16];           /* bucket bits by low nibble, per position */
  guint8 hi[FP_LEN][16];           /* by high nibble */
  GArray *buckets[ANCHOR_BUCKETS]; /* Fingerprint */
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SCAN 1
#include <immintrin.h>
#else
#define HAVE_SCAN 0
#endif

#if HAVE_SCAN

static void
fingerprint_clear(gpointer data)
{
  Fingerprint *f = data;
  g_array_unref(f->entries);
}

void
ar_anchor_scan_free(ArAnchorScan *scan)
{
  if (scan == NULL)
    return;
  for (int b = 0; b < ANCHOR_BUCKETS; b++)
    g_array_unref(scan->buckets[b]);
  g_free(scan);
}

/* Rough rank of a byte in English and code: fingerprints of rare bytes
 * give few candidates. */
static gsize
commonness(guchar c)
{
  static const char ranked[] = " etaoinsrhldcumfpgwybvkxjqz";
  const char *p = c ? strchr(ranked, c) : NULL;
  return p ? (gsize)(sizeof(ranked) - (gsize)(p - ranked)) : 1;
}

static guint32
fold_word(const guchar *p)
{
  guint32 w;
  memcpy(&w, p, sizeof w);
  return w | 0x20202020u;
}

/* The high nibbles a byte matches with ASCII caseless compare. */
static guint
hi_nibbles(guchar c)
{
  guint bits = 1u << (c >> 4);
  if (c >= 'a' && c <= 'z')
    bits |= 1u << ((c - 32) >> 4);
  return bits;
}

/* How many 4-byte strings a bucket's nibble tables let through: what a
 * new fingerprint adds to it is what its placement costs. */
static guint64
bucket_size(const guint16 lo[FP_LEN], const guint16 hi[FP_LEN])
{
  guint64 n = 1;
  for (int k = 0; k < FP_LEN; k++)
    n *= (guint64)__builtin_popcount(lo[k]) * (guint64)__builtin_popcount(hi[k]);
  return n;
}

ArAnchorScan *
ar_anchor_scan_new(const char *const *anchors, guint n)
{
  if (!__builtin_cpu_supports("avx2") || n == 0)
    return NULL;
  /* pshufb reads a byte's low nibble without masking it and gives 0 for
   * bytes >= 0x80: right for the text, but anchors must be ASCII. */
  for (guint i = 0; i < n; i++) {
    if (strlen(anchors[i]) < FP_LEN)
      return NULL;
    for (const char *c = anchors[i]; *c; c++)
      if ((guchar)*c >= 0x80)
        return NULL;
  }

  ArAnchorScan *scan = g_new0(ArAnchorScan, 1);
  guint16 lo[ANCHOR_BUCKETS][FP_LEN] = { { 0 } }, hi[ANCHOR_BUCKETS][FP_LEN] = { { 0 } };
  for (int b = 0; b < ANCHOR_BUCKETS; b++) {
    scan->buckets[b] = g_array_new(FALSE, TRUE, sizeof(Fingerprint));
    g_array_set_clear_func(scan->buckets[b], fingerprint_clear);
  }

  for (guint i = 0; i < n; i++) {
    const guchar *a = (const guchar *)anchors[i];
    gsize len = strlen(anchors[i]), best = 0, best_score = G_MAXSIZE;
    for (gsize o = 0; o + FP_LEN <= len; o++) {
      gsize score = 0;
      for (gsize k = 0; k < FP_LEN; k++)
        score += commonness(a[o + k]);
      if (score < best_score) {
        best_score = score;
        best = o;
      }
    }
    Entry e = { anchors[i], len, best };
    guint32 folded = fold_word(a + best);

    /* An anchor whose fingerprint is already in a bucket joins it. */
    Fingerprint *same = NULL;
    for (int b = 0; b < ANCHOR_BUCKETS && same == NULL; b++)
      for (guint j = 0; j < scan->buckets[b]->len && same == NULL; j++) {
        Fingerprint *f = &g_array_index(scan->buckets[b], Fingerprint, j);
        const Entry *first = &g_array_index(f->entries, Entry, 0);
        if (g_ascii_strncasecmp(first->anchor + first->offset, (const char *)a + best, FP_LEN) == 0)
          same = f;
      }
    if (same) {
      g_array_append_val(same->entries, e);
      continue;
    }

    /* Otherwise the bucket it widens least. */
    int pick = 0;
    guint64 pick_cost = G_MAXUINT64;
    for (int b = 0; b < ANCHOR_BUCKETS; b++) {
      guint16 l2[FP_LEN], h2[FP_LEN];
      for (int k = 0; k < FP_LEN; k++) {
        l2[k] = lo[b][k] | (guint16)(1u << (a[best + k] & 15));
        h2[k] = hi[b][k] | (guint16)hi_nibbles(a[best + k]);
      }
      guint64 before = scan->buckets[b]->len ? bucket_size(lo[b], hi[b]) : 0;
      guint64 cost = bucket_size(l2, h2) - before;
      if (cost < pick_cost) {
        pick_cost = cost;
        pick = b;
      }
    }
    for (int k = 0; k < FP_LEN; k++) {
      lo[pick][k] |= (guint16)(1u << (a[best + k] & 15));
      hi[pick][k] |= (guint16)hi_nibbles(a[best + k]);
    }
    Fingerprint f = { folded, g_array_new(FALSE, FALSE, sizeof(Entry)) };
    g_array_append_val(f.entries, e);
    g_array_append_val(scan->buckets[pick], f);
  }

  for (int b = 0; b < ANCHOR_BUCKETS; b++)
    for (int k = 0; k < FP_LEN; k++)
      for (int nib = 0; nib < 16; nib++) {
        if (lo[b][k] & (1u << nib))
          scan->lo[k][nib] |= (guint8)(1u << b);
        if (hi[b][k] & (1u << nib))
          scan->hi[k][nib] |= (guint8)(1u << b);
      }
  /* The number: [45] then two digits (0x30-0x39), any fourth byte. */
  for (int nib = 0; nib < 16; nib++) {
    if (nib == 4 || nib == 5)
      scan->lo[0][nib] |= DIGITS_BIT;
    if (nib <= 9) {
      scan->lo[1][nib] |= DIGITS_BIT;
      scan->lo[2][nib] |= DIGITS_BIT;
    }
    scan->lo[3][nib] |= DIGITS_BIT;
    scan->hi[3][nib] |= DIGITS_BIT;
  }
  for (int k = 0; k < 3; k++)
    scan->hi[k][3] |= DIGITS_BIT;
  return scan;
}

static gboolean
anchor_at(const Entry *e, const guchar *text)
{
  for (gsize i = 0; i < e->len; i++)
    if (g_ascii_tolower(text[i]) != e->anchor[i])
      return FALSE;
  return TRUE;
}

/* The exact check of a candidate position. */
static ArScanHit
verify(const ArAnchorScan *scan, const guchar *t, gsize len, gsize p, guint bits)
{
  if (p + FP_LEN <= len) {
    guint32 w = fold_word(t + p);
    for (int b = 0; b < ANCHOR_BUCKETS; b++) {
      if (!(bits & (1u << b)))
        continue;
      const GArray *fps = scan->buckets[b];
      for (guint j = 0; j < fps->len; j++) {
        const Fingerprint *f = &g_array_index(fps, Fingerprint, j);
        if (f->folded != w)
          continue;
        for (guint k = 0; k < f->entries->len; k++) {
          const Entry *e = &g_array_index(f->entries, Entry, k);
          if (p >= e->offset && p - e->offset + e->len <= len && anchor_at(e, t + p - e->offset))
            return AR_SCAN_ANCHOR;
        }
      }
    }
  }
  if ((bits & DIGITS_BIT) && p + 3 <= len && (t[p] == '4' || t[p] == '5') &&
      g_ascii_isdigit(t[p + 1]) && g_ascii_isdigit(t[p + 2]))
    return AR_SCAN_DIGITS;
  return AR_SCAN_NONE;
}

/* The candidates of the 32 positions at p (4 bytes each readable), as a
 * bucket byte per position. */
__attribute__((target("avx2"))) static inline __m256i
candidates(const __m256i lo[FP_LEN], const __m256i hi[FP_LEN], __m256i keep, const guchar *p)
{
  const __m256i nib = _mm256_set1_epi8(0x0f);
  __m256i acc = keep;
  for (int k = 0; k < FP_LEN; k++) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(gconstpointer)(p + k));
    /* No mask for the low nibble: pshufb uses bits 0-3 and answers 0 for
     * a byte with bit 7 set (not ASCII: in no fingerprint). The number's
     * fourth byte is any byte, UTF-8 too: masked there. */
    __m256i l = _mm256_shuffle_epi8(lo[k], k == FP_LEN - 1 ? _mm256_and_si256(v, nib) : v);
    __m256i h = _mm256_shuffle_epi8(hi[k], _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
    acc = _mm256_and_si256(acc, _mm256_and_si256(l, h));
  }
  return acc;
}

/* Checks the candidates of one step; AR_SCAN_NONE when none holds. */
__attribute__((target("avx2"))) static ArScanHit
check_step(const ArAnchorScan *scan, __m256i acc, const guchar *t, gsize len, gsize base, gsize *at)
{
  guint8 bits[32];
  guint32 mask = ~(guint32)_mm256_movemask_epi8(_mm256_cmpeq_epi8(acc, _mm256_setzero_si256()));
  _mm256_storeu_si256((__m256i *)(gpointer)bits, acc);
  while (mask) {
    int j = __builtin_ctz(mask);
    mask &= mask - 1;
    if (base + (gsize)j >= len)
      break;
    ArScanHit hit = verify(scan, t, len, base + (gsize)j, bits[j]);
    if (hit != AR_SCAN_NONE) {
      *at = base + (gsize)j;
      return hit;
    }
  }
  return AR_SCAN_NONE;
}

__attribute__((target("avx2"))) static ArScanHit
scan_avx2(const ArAnchorScan *scan, const guchar *t, gsize len, gsize *from, gboolean digits)
{
  __m256i lo[FP_LEN], hi[FP_LEN];
  for (int k = 0; k < FP_LEN; k++) {
    lo[k] =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(gconstpointer)scan->lo[k]));
    hi[k] =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(gconstpointer)scan->hi[k]));
  }
  const __m256i keep = _mm256_set1_epi8((char)(digits ? 0xff : 0xff & ~DIGITS_BIT));
  gsize i = *from;
  ArScanHit hit;

  /* Two steps per test: a candidate is rare, the branch is not free. */
  for (; i + 64 + FP_LEN - 1 <= len; i += 64) {
    __m256i a = candidates(lo, hi, keep, t + i);
    __m256i b = candidates(lo, hi, keep, t + i + 32);
    __m256i any = _mm256_or_si256(a, b);
    if (_mm256_testz_si256(any, any))
      continue;
    if ((hit = check_step(scan, a, t, len, i, from)) != AR_SCAN_NONE ||
        (hit = check_step(scan, b, t, len, i + 32, from)) != AR_SCAN_NONE)
      return hit;
  }
  for (; i + 32 + FP_LEN - 1 <= len; i += 32) {
    __m256i acc = candidates(lo, hi, keep, t + i);
    if (!_mm256_testz_si256(acc, acc) &&
        (hit = check_step(scan, acc, t, len, i, from)) != AR_SCAN_NONE)
      return hit;
  }
  /* The last < 35 positions: from a zero-padded copy (bytes past the end
   * only make candidates that the exact check, bounded by len, rejects). */
  guchar pad[2 * 32 + FP_LEN] = { 0 };
  memcpy(pad, t + i, len - i);
  for (gsize s = 0; i + s < len; s += 32) {
    __m256i acc = candidates(lo, hi, keep, pad + s);
    if (!_mm256_testz_si256(acc, acc) &&
        (hit = check_step(scan, acc, t, len, i + s, from)) != AR_SCAN_NONE)
      return hit;
  }
  *from = len;
  return AR_SCAN_NONE;
}

ArScanHit
ar_anchor_scan_find(const ArAnchorScan *scan, const char *text, gsize len, gsize *from,
                    gboolean digits)
{
  return scan_avx2(scan, (const guchar *)text, len, from, digits);
}

#else /* !HAVE_SCAN: the literal sets' own scans answer */

void
ar_anchor_scan_free(ArAnchorScan *scan)
{
  g_free(scan);
}

ArAnchorScan *
ar_anchor_scan_new(const char *const *anchors, guint n)
{
  (void)anchors;
  (void)n;
  return NULL;
}

ArScanHit
ar_anchor_scan_find(const ArAnchorScan *scan, const char *text, gsize len, gsize *from,
                    gboolean digits)
{
  (void)scan;
  (void)text;
  (void)len;
  (void)from;
  (void)digits;
  g_return_val_if_reached(AR_SCAN_NONE);
}

#endif
