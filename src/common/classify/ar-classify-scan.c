/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The block prefilter's vector scan: every anchor of a literal set, and a
 * 4xx/5xx-looking number, searched for in one pass over a block of text,
 * 32 positions at a time on x86-64 with AVX2, 16 at a time on aarch64
 * (NEON); elsewhere the set's own scan in ar-classify-prefilter.c answers,
 * with the same result.
 *
 * The method is Hyperscan's "Teddy": each anchor is represented by one of
 * its 4-byte substrings (its fingerprint, the one of rarest bytes), and the
 * fingerprints are spread over 7 buckets (bit 7 is the number). A table
 * lookup per nibble (pshufb, tbl) gives, for the 4 bytes at every position,
 * the buckets whose fingerprints could start there; a position where some
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
 * cost more than `cat`.
 *
 * No GLib here (see ar-classify-scan.h): the tables are built once per
 * literal set, with plain arrays. */

#include <stdlib.h>
#include <string.h>

#include "ar-classify-scan.h"

#define FP_LEN         4
#define ANCHOR_BUCKETS 7
#define DIGITS_BIT     0x80u
#define ALL_BITS       0xffu

typedef struct {
  const char *anchor; /* lowercase, owned by the caller's set */
  size_t len;
  size_t offset; /* where the fingerprint starts in the anchor */
} Entry;

typedef struct {
  uint32_t folded;       /* the fingerprint's bytes | 0x20, a quick pre-test */
  unsigned first, count; /* its anchors: entries[first .. first + count) */
} Fingerprint;

struct _ArAnchorScan {
  uint8_t lo[FP_LEN][16]; /* bucket bits by low nibble, per position */
  uint8_t hi[FP_LEN][16]; /* by high nibble */
  /* Bucket b's fingerprints are fps[bucket_start[b] .. bucket_start[b + 1]). */
  unsigned bucket_start[ANCHOR_BUCKETS + 1];
  Fingerprint *fps;
  Entry *entries;
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SCAN_AVX2 1
#include <immintrin.h>
#elif defined(__aarch64__) && defined(__ARM_NEON) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SCAN_NEON 1
#include <arm_neon.h>
#endif

void
ar_anchor_scan_free(ArAnchorScan *scan)
{
  if (scan == NULL)
    return;
  free(scan->fps);
  free(scan->entries);
  free(scan);
}

static unsigned char
ascii_lower(unsigned char c)
{
  return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Rough rank of a byte in English and code: fingerprints of rare bytes
 * give few candidates. */
static size_t
commonness(unsigned char c)
{
  static const char ranked[] = " etaoinsrhldcumfpgwybvkxjqz";
  const char *p = c ? strchr(ranked, c) : NULL;
  return p ? (size_t)(sizeof(ranked) - (size_t)(p - ranked)) : 1;
}

static uint32_t
fold_word(const unsigned char *p)
{
  uint32_t w;
  memcpy(&w, p, sizeof w);
  return w | 0x20202020u;
}

/* The high nibbles a byte matches with ASCII caseless compare. */
static unsigned
hi_nibbles(unsigned char c)
{
  unsigned bits = 1u << (c >> 4);
  if (c >= 'a' && c <= 'z')
    bits |= 1u << ((c - 32) >> 4);
  return bits;
}

/* How many 4-byte strings a bucket's nibble tables let through: what a
 * new fingerprint adds to it is what its placement costs. */
static uint64_t
bucket_size(const uint16_t lo[FP_LEN], const uint16_t hi[FP_LEN])
{
  uint64_t n = 1;
  for (int k = 0; k < FP_LEN; k++)
    n *= (uint64_t)__builtin_popcount(lo[k]) * (uint64_t)__builtin_popcount(hi[k]);
  return n;
}

static bool
have_vector_path(void)
{
#if defined(SCAN_AVX2)
  return __builtin_cpu_supports("avx2");
#elif defined(SCAN_NEON)
  return true; /* NEON is baseline on aarch64 */
#else
  return false;
#endif
}

/* A fingerprint while the tables are built. */
typedef struct {
  const char *text; /* its 4 bytes, lowercase, inside an anchor */
  int bucket;
  unsigned count;
} FpBuild;

/* Lays out fingerprints by bucket and entries by fingerprint. */
static bool
lay_out(ArAnchorScan *scan, const FpBuild *fb, unsigned n_fp, const Entry *ent,
        const unsigned *fp_of, unsigned n)
{
  scan->fps = calloc(n_fp, sizeof *scan->fps);
  scan->entries = calloc(n, sizeof *scan->entries);
  if (scan->fps == NULL || scan->entries == NULL)
    return false;
  unsigned *slot = calloc(n_fp, sizeof *slot);
  if (slot == NULL)
    return false;
  unsigned pos = 0, first = 0;
  for (int b = 0; b < ANCHOR_BUCKETS; b++) {
    scan->bucket_start[b] = pos;
    for (unsigned j = 0; j < n_fp; j++) {
      if (fb[j].bucket != b)
        continue;
      slot[j] = pos;
      scan->fps[pos] = (Fingerprint){ fold_word((const unsigned char *)fb[j].text), first, 0 };
      first += fb[j].count;
      pos++;
    }
  }
  scan->bucket_start[ANCHOR_BUCKETS] = pos;
  for (unsigned i = 0; i < n; i++) {
    Fingerprint *f = &scan->fps[slot[fp_of[i]]];
    scan->entries[f->first + f->count++] = ent[i];
  }
  free(slot);
  return true;
}

static void
fill_tables(ArAnchorScan *scan, uint16_t lo[ANCHOR_BUCKETS][FP_LEN],
            uint16_t hi[ANCHOR_BUCKETS][FP_LEN])
{
  for (int b = 0; b < ANCHOR_BUCKETS; b++)
    for (int k = 0; k < FP_LEN; k++)
      for (int nib = 0; nib < 16; nib++) {
        if (lo[b][k] & (1u << nib))
          scan->lo[k][nib] |= (uint8_t)(1u << b);
        if (hi[b][k] & (1u << nib))
          scan->hi[k][nib] |= (uint8_t)(1u << b);
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
}

/* Places each anchor's fingerprint: with an equal one, else in the bucket
 * it widens least. Returns the number of fingerprints. */
static unsigned
place(const char *const *anchors, unsigned n, FpBuild *fb, Entry *ent, unsigned *fp_of,
      uint16_t lo[ANCHOR_BUCKETS][FP_LEN], uint16_t hi[ANCHOR_BUCKETS][FP_LEN])
{
  unsigned n_fp = 0, used[ANCHOR_BUCKETS] = { 0 };
  for (unsigned i = 0; i < n; i++) {
    const unsigned char *a = (const unsigned char *)anchors[i];
    size_t len = strlen(anchors[i]), best = 0, best_score = SIZE_MAX;
    for (size_t o = 0; o + FP_LEN <= len; o++) {
      size_t score = 0;
      for (size_t k = 0; k < FP_LEN; k++)
        score += commonness(a[o + k]);
      if (score < best_score) {
        best_score = score;
        best = o;
      }
    }
    ent[i] = (Entry){ anchors[i], len, best };
    const char *text = anchors[i] + best;

    unsigned j = 0;
    while (j < n_fp && memcmp(fb[j].text, text, FP_LEN) != 0)
      j++;
    fp_of[i] = j;
    if (j < n_fp) {
      fb[j].count++;
      continue;
    }

    int pick = 0;
    uint64_t pick_cost = UINT64_MAX;
    for (int b = 0; b < ANCHOR_BUCKETS; b++) {
      uint16_t l2[FP_LEN], h2[FP_LEN];
      for (int k = 0; k < FP_LEN; k++) {
        l2[k] = lo[b][k] | (uint16_t)(1u << (a[best + k] & 15));
        h2[k] = hi[b][k] | (uint16_t)hi_nibbles(a[best + k]);
      }
      uint64_t before = used[b] ? bucket_size(lo[b], hi[b]) : 0;
      uint64_t cost = bucket_size(l2, h2) - before;
      if (cost < pick_cost) {
        pick_cost = cost;
        pick = b;
      }
    }
    for (int k = 0; k < FP_LEN; k++) {
      lo[pick][k] |= (uint16_t)(1u << (a[best + k] & 15));
      hi[pick][k] |= (uint16_t)hi_nibbles(a[best + k]);
    }
    used[pick]++;
    fb[n_fp++] = (FpBuild){ text, pick, 1 };
  }
  return n_fp;
}

ArAnchorScan *
ar_anchor_scan_new(const char *const *anchors, unsigned n)
{
  if (!have_vector_path() || n == 0)
    return NULL;
  /* pshufb gives 0 for bytes >= 0x80 and tbl for indexes >= 16: right
   * for the text, but anchors must be ASCII. */
  for (unsigned i = 0; i < n; i++) {
    if (strlen(anchors[i]) < FP_LEN)
      return NULL;
    for (const char *c = anchors[i]; *c; c++)
      if ((unsigned char)*c >= 0x80)
        return NULL;
  }

  ArAnchorScan *scan = calloc(1, sizeof *scan);
  FpBuild *fb = calloc(n, sizeof *fb);
  Entry *ent = calloc(n, sizeof *ent);
  unsigned *fp_of = calloc(n, sizeof *fp_of);
  uint16_t lo[ANCHOR_BUCKETS][FP_LEN] = { { 0 } }, hi[ANCHOR_BUCKETS][FP_LEN] = { { 0 } };
  bool ok = scan && fb && ent && fp_of;
  if (ok) {
    unsigned n_fp = place(anchors, n, fb, ent, fp_of, lo, hi);
    ok = lay_out(scan, fb, n_fp, ent, fp_of, n);
  }
  free(fb);
  free(ent);
  free(fp_of);
  if (!ok) {
    ar_anchor_scan_free(scan);
    return NULL;
  }
  fill_tables(scan, lo, hi);
  return scan;
}

static bool
anchor_at(const Entry *e, const unsigned char *text)
{
  for (size_t i = 0; i < e->len; i++)
    if (ascii_lower(text[i]) != (unsigned char)e->anchor[i])
      return false;
  return true;
}

/* The exact check of a candidate position. */
static ArScanHit
verify(const ArAnchorScan *scan, const unsigned char *t, size_t len, size_t p, unsigned bits)
{
  if (p + FP_LEN <= len) {
    uint32_t w = fold_word(t + p);
    for (int b = 0; b < ANCHOR_BUCKETS; b++) {
      if (!(bits & (1u << b)))
        continue;
      for (unsigned j = scan->bucket_start[b]; j < scan->bucket_start[b + 1]; j++) {
        const Fingerprint *f = &scan->fps[j];
        if (f->folded != w)
          continue;
        for (unsigned k = f->first; k < f->first + f->count; k++) {
          const Entry *e = &scan->entries[k];
          if (p >= e->offset && p - e->offset + e->len <= len && anchor_at(e, t + p - e->offset))
            return AR_SCAN_ANCHOR;
        }
      }
    }
  }
  if ((bits & DIGITS_BIT) && p + 3 <= len && (t[p] == '4' || t[p] == '5') && t[p + 1] >= '0' &&
      t[p + 1] <= '9' && t[p + 2] >= '0' && t[p + 2] <= '9')
    return AR_SCAN_DIGITS;
  return AR_SCAN_NONE;
}

/* Verifies the candidates of one step in position order: bits holds the
 * bucket byte of each position, mask lane_bits set bits per candidate
 * position. AR_SCAN_NONE when none holds. */
static inline ArScanHit
check_mask(const ArAnchorScan *scan, const uint8_t *bits, uint64_t mask, unsigned lane_bits,
           const unsigned char *t, size_t len, size_t base, size_t *at)
{
  while (mask) {
    unsigned j = (unsigned)__builtin_ctzll(mask) / lane_bits;
    mask &= ~(((UINT64_C(1) << lane_bits) - 1) << (j * lane_bits));
    if (base + j >= len)
      break;
    ArScanHit hit = verify(scan, t, len, base + j, bits[j]);
    if (hit != AR_SCAN_NONE) {
      *at = base + j;
      return hit;
    }
  }
  return AR_SCAN_NONE;
}

/* ---- the scalar reference ---- */

static uint8_t
candidate_at(const ArAnchorScan *scan, const unsigned char *t, size_t len, size_t p, uint8_t keep)
{
  uint8_t acc = keep;
  for (size_t k = 0; k < FP_LEN; k++) {
    unsigned char c = p + k < len ? t[p + k] : 0;
    acc &= scan->lo[k][c & 15] & scan->hi[k][c >> 4];
  }
  return acc;
}

ArScanHit
ar_anchor_scan_find_reference(const ArAnchorScan *scan, const char *text, size_t len, size_t *from,
                              bool digits)
{
  const unsigned char *t = (const unsigned char *)text;
  uint8_t keep = digits ? ALL_BITS : ALL_BITS & ~DIGITS_BIT;
  for (size_t p = *from; p < len; p++) {
    uint8_t bits = candidate_at(scan, t, len, p, keep);
    ArScanHit hit = bits ? verify(scan, t, len, p, bits) : AR_SCAN_NONE;
    if (hit != AR_SCAN_NONE) {
      *from = p;
      return hit;
    }
  }
  *from = len;
  return AR_SCAN_NONE;
}

#if defined(SCAN_AVX2)

#define STEP 32

/* The candidates of the 32 positions at p (4 bytes each readable), as a
 * bucket byte per position. */
__attribute__((target("avx2"))) static inline __m256i
candidates(const __m256i lo[FP_LEN], const __m256i hi[FP_LEN], __m256i keep, const unsigned char *p)
{
  const __m256i nib = _mm256_set1_epi8(0x0f);
  __m256i acc = keep;
#pragma GCC unroll 4
  for (int k = 0; k < FP_LEN; k++) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(p + k));
    /* No mask for the low nibble: pshufb uses bits 0-3 and answers 0 for
     * a byte with bit 7 set (not ASCII: in no fingerprint). The number's
     * fourth byte is any byte, UTF-8 too: masked there. */
    __m256i l = _mm256_shuffle_epi8(lo[k], k == FP_LEN - 1 ? _mm256_and_si256(v, nib) : v);
    __m256i h = _mm256_shuffle_epi8(hi[k], _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
    acc = _mm256_and_si256(acc, _mm256_and_si256(l, h));
  }
  return acc;
}

__attribute__((target("avx2"))) static void
load_tables(const ArAnchorScan *scan, __m256i lo[FP_LEN], __m256i hi[FP_LEN])
{
  for (int k = 0; k < FP_LEN; k++) {
    lo[k] =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)scan->lo[k]));
    hi[k] =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)scan->hi[k]));
  }
}

/* Checks the candidates of one step; AR_SCAN_NONE when none holds. */
__attribute__((target("avx2"))) static ArScanHit
check_step(const ArAnchorScan *scan, __m256i acc, const unsigned char *t, size_t len, size_t base,
           size_t *at)
{
  uint8_t bits[STEP];
  uint32_t mask = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(acc, _mm256_setzero_si256()));
  _mm256_storeu_si256((__m256i *)(void *)bits, acc);
  return check_mask(scan, bits, mask, 1, t, len, base, at);
}

__attribute__((target("avx2"))) static ArScanHit
scan_vector(const ArAnchorScan *scan, const unsigned char *t, size_t len, size_t *from, bool digits)
{
  __m256i lo[FP_LEN], hi[FP_LEN];
  load_tables(scan, lo, hi);
  const __m256i keep = _mm256_set1_epi8((char)(digits ? ALL_BITS : ALL_BITS & ~DIGITS_BIT));
  size_t i = *from;
  ArScanHit hit;

  /* Two steps per test: a candidate is rare, the branch is not free. */
  for (; i + 2 * STEP + FP_LEN - 1 <= len; i += 2 * STEP) {
    __m256i a = candidates(lo, hi, keep, t + i);
    __m256i b = candidates(lo, hi, keep, t + i + STEP);
    __m256i any = _mm256_or_si256(a, b);
    if (_mm256_testz_si256(any, any))
      continue;
    if ((hit = check_step(scan, a, t, len, i, from)) != AR_SCAN_NONE ||
        (hit = check_step(scan, b, t, len, i + STEP, from)) != AR_SCAN_NONE)
      return hit;
  }
  for (; i + STEP + FP_LEN - 1 <= len; i += STEP) {
    __m256i acc = candidates(lo, hi, keep, t + i);
    if (!_mm256_testz_si256(acc, acc) &&
        (hit = check_step(scan, acc, t, len, i, from)) != AR_SCAN_NONE)
      return hit;
  }
  /* The last < 35 positions: from a zero-padded copy (bytes past the end
   * only make candidates that the exact check, bounded by len, rejects). */
  unsigned char pad[2 * STEP + FP_LEN] = { 0 };
  memcpy(pad, t + i, len - i);
  for (size_t s = 0; i + s < len; s += STEP) {
    __m256i acc = candidates(lo, hi, keep, pad + s);
    if (!_mm256_testz_si256(acc, acc) &&
        (hit = check_step(scan, acc, t, len, i + s, from)) != AR_SCAN_NONE)
      return hit;
  }
  *from = len;
  return AR_SCAN_NONE;
}

__attribute__((target("avx2"))) static void
candidates_vector(const ArAnchorScan *scan, const unsigned char *t, size_t len, bool digits,
                  uint8_t *out)
{
  __m256i lo[FP_LEN], hi[FP_LEN];
  load_tables(scan, lo, hi);
  const __m256i keep = _mm256_set1_epi8((char)(digits ? ALL_BITS : ALL_BITS & ~DIGITS_BIT));
  size_t i = 0;
  for (; i + STEP + FP_LEN - 1 <= len; i += STEP)
    _mm256_storeu_si256((__m256i *)(void *)(out + i), candidates(lo, hi, keep, t + i));
  unsigned char pad[2 * STEP + FP_LEN] = { 0 };
  uint8_t bits[STEP];
  memcpy(pad, t + i, len - i);
  for (size_t s = 0; i + s < len; s += STEP) {
    _mm256_storeu_si256((__m256i *)(void *)bits, candidates(lo, hi, keep, pad + s));
    memcpy(out + i + s, bits, len - i - s < STEP ? len - i - s : STEP);
  }
}

#elif defined(SCAN_NEON)

#define STEP 16

/* The candidates of the 16 positions at p (4 bytes each readable), as a
 * bucket byte per position. tbl answers 0 for an index >= 16, so both
 * nibbles are masked; a byte >= 0x80 has a high nibble no anchor has
 * (the number's fourth byte, any byte, has every one). */
static inline uint8x16_t
candidates(const uint8x16_t lo[FP_LEN], const uint8x16_t hi[FP_LEN], uint8x16_t keep,
           const unsigned char *p)
{
  const uint8x16_t nib = vdupq_n_u8(0x0f);
  uint8x16_t acc = keep;
  /* Unrolled, so that the tables stay in registers (gcc -O2 does not). */
#pragma GCC unroll 4
  for (int k = 0; k < FP_LEN; k++) {
    uint8x16_t v = vld1q_u8(p + k);
    uint8x16_t l = vqtbl1q_u8(lo[k], vandq_u8(v, nib));
    uint8x16_t h = vqtbl1q_u8(hi[k], vshrq_n_u8(v, 4));
    acc = vandq_u8(acc, vandq_u8(l, h));
  }
  return acc;
}

static void
load_tables(const ArAnchorScan *scan, uint8x16_t lo[FP_LEN], uint8x16_t hi[FP_LEN])
{
  for (int k = 0; k < FP_LEN; k++) {
    lo[k] = vld1q_u8(scan->lo[k]);
    hi[k] = vld1q_u8(scan->hi[k]);
  }
}

static inline bool
any_set(uint8x16_t v)
{
  return vmaxvq_u32(vreinterpretq_u32_u8(v)) != 0;
}

/* Checks the candidates of one step; AR_SCAN_NONE when none holds. NEON
 * has no movemask: narrowing the 0/0xff lanes by 4 bits gives a 64-bit
 * mask with 4 bits per position. */
static ArScanHit
check_step(const ArAnchorScan *scan, uint8x16_t acc, const unsigned char *t, size_t len,
           size_t base, size_t *at)
{
  uint8_t bits[STEP];
  uint8x8_t narrow = vshrn_n_u16(vreinterpretq_u16_u8(vtstq_u8(acc, acc)), 4);
  uint64_t mask = vget_lane_u64(vreinterpret_u64_u8(narrow), 0);
  vst1q_u8(bits, acc);
  return check_mask(scan, bits, mask, 4, t, len, base, at);
}

static ArScanHit
scan_vector(const ArAnchorScan *scan, const unsigned char *t, size_t len, size_t *from, bool digits)
{
  uint8x16_t lo[FP_LEN], hi[FP_LEN];
  load_tables(scan, lo, hi);
  const uint8x16_t keep = vdupq_n_u8(digits ? ALL_BITS : ALL_BITS & ~DIGITS_BIT);
  size_t i = *from;
  ArScanHit hit;

  /* Four steps per test: a candidate is rare, the branch is not free. */
  for (; i + 4 * STEP + FP_LEN - 1 <= len; i += 4 * STEP) {
    uint8x16_t a = candidates(lo, hi, keep, t + i);
    uint8x16_t b = candidates(lo, hi, keep, t + i + STEP);
    uint8x16_t c = candidates(lo, hi, keep, t + i + 2 * STEP);
    uint8x16_t d = candidates(lo, hi, keep, t + i + 3 * STEP);
    if (!any_set(vorrq_u8(vorrq_u8(a, b), vorrq_u8(c, d))))
      continue;
    if ((hit = check_step(scan, a, t, len, i, from)) != AR_SCAN_NONE ||
        (hit = check_step(scan, b, t, len, i + STEP, from)) != AR_SCAN_NONE ||
        (hit = check_step(scan, c, t, len, i + 2 * STEP, from)) != AR_SCAN_NONE ||
        (hit = check_step(scan, d, t, len, i + 3 * STEP, from)) != AR_SCAN_NONE)
      return hit;
  }
  for (; i + STEP + FP_LEN - 1 <= len; i += STEP) {
    uint8x16_t acc = candidates(lo, hi, keep, t + i);
    if (any_set(acc) && (hit = check_step(scan, acc, t, len, i, from)) != AR_SCAN_NONE)
      return hit;
  }
  /* The last < 19 positions: from a zero-padded copy (bytes past the end
   * only make candidates that the exact check, bounded by len, rejects). */
  unsigned char pad[2 * STEP + FP_LEN] = { 0 };
  memcpy(pad, t + i, len - i);
  for (size_t s = 0; i + s < len; s += STEP) {
    uint8x16_t acc = candidates(lo, hi, keep, pad + s);
    if (any_set(acc) && (hit = check_step(scan, acc, t, len, i + s, from)) != AR_SCAN_NONE)
      return hit;
  }
  *from = len;
  return AR_SCAN_NONE;
}

static void
candidates_vector(const ArAnchorScan *scan, const unsigned char *t, size_t len, bool digits,
                  uint8_t *out)
{
  uint8x16_t lo[FP_LEN], hi[FP_LEN];
  load_tables(scan, lo, hi);
  const uint8x16_t keep = vdupq_n_u8(digits ? ALL_BITS : ALL_BITS & ~DIGITS_BIT);
  size_t i = 0;
  for (; i + STEP + FP_LEN - 1 <= len; i += STEP)
    vst1q_u8(out + i, candidates(lo, hi, keep, t + i));
  unsigned char pad[2 * STEP + FP_LEN] = { 0 };
  uint8_t bits[STEP];
  memcpy(pad, t + i, len - i);
  for (size_t s = 0; i + s < len; s += STEP) {
    vst1q_u8(bits, candidates(lo, hi, keep, pad + s));
    memcpy(out + i + s, bits, len - i - s < STEP ? len - i - s : STEP);
  }
}

#else /* no vector path: ar_anchor_scan_new returns NULL */

static ArScanHit
scan_vector(const ArAnchorScan *scan, const unsigned char *t, size_t len, size_t *from, bool digits)
{
  return ar_anchor_scan_find_reference(scan, (const char *)t, len, from, digits);
}

static void
candidates_vector(const ArAnchorScan *scan, const unsigned char *t, size_t len, bool digits,
                  uint8_t *out)
{
  uint8_t keep = digits ? ALL_BITS : ALL_BITS & ~DIGITS_BIT;
  for (size_t p = 0; p < len; p++)
    out[p] = candidate_at(scan, t, len, p, keep);
}

#endif

ArScanHit
ar_anchor_scan_find(const ArAnchorScan *scan, const char *text, size_t len, size_t *from,
                    bool digits)
{
  return scan_vector(scan, (const unsigned char *)text, len, from, digits);
}

void
ar_anchor_scan_candidates(const ArAnchorScan *scan, const char *text, size_t len, bool digits,
                          bool reference, uint8_t *out)
{
  const unsigned char *t = (const unsigned char *)text;
  if (!reference) {
    candidates_vector(scan, t, len, digits, out);
    return;
  }
  uint8_t keep = digits ? ALL_BITS : ALL_BITS & ~DIGITS_BIT;
  for (size_t p = 0; p < len; p++)
    out[p] = candidate_at(scan, t, len, p, keep);
}
