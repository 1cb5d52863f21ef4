/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The classifier's prefilter: a cheap, exact "could this line match?" in
 * front of the regular expressions of ar-classify-tables.c.
 *
 * Almost every line an agent prints matches no table row, and running a
 * dozen PCRE matches (each allocating match data) over each of them cost
 * ~1 µs a line. Every row's pattern, though, can only match text that
 * contains one of a few literal strings (its "anchors"): "overloaded",
 * "econnreset", "limit", ... The prefilter derives those anchors from the
 * patterns themselves (no second list to keep in step) and looks for them
 * with a scan that costs a fraction of a nanosecond a byte:
 *
 * - long anchors (>= LONG_ANCHOR_MIN bytes): a 4-byte window is sampled every
 *   `stride` bytes, where stride = shortest long anchor - 3, so that any
 *   occurrence contains at least one sampled window. The window's folded
 *   bytes are hashed into a bitmap of every window of every anchor; a set
 *   bit sends the position to an exact compare. The samples are independent
 *   loads (no dependency chain as in Boyer-Moore style skipping).
 * - short anchors: a vector compare of their first two bytes, 16 at a time.
 * - a pattern with no necessary literal makes the set answer "maybe"
 *   always: correct, only slower.
 *
 * The prefilter only ever says "no" when no match is possible, so the
 * classification is exactly the one the regular expressions give. */

#include <string.h>

#include "ar-classify-private.h"

/* Anchors at least this long go through the sampled-window bitmap. */
#define LONG_ANCHOR_MIN 8
#define WINDOW          4
#define BITMAP_BITS     15

typedef struct {
  guint32 hash;
  guint16 anchor;
  guint16 offset;
} WindowEntry;

typedef struct {
  const char *text; /* owned by anchors */
  gsize len;
} ShortAnchor;

struct _ArLiteralSet {
  gboolean always;       /* some pattern has no necessary literal */
  GPtrArray *anchors;    /* char *, lowercase, unique */
  GArray *short_anchors; /* ShortAnchor */
  gsize min_len;         /* shortest anchor */
  gsize stride;          /* sampling step of the long anchors, 0 if none */
  guint32 bitmap[(1u << BITMAP_BITS) / 32];
  GArray *windows;    /* WindowEntry, sorted by hash */
  ArAnchorScan *scan; /* all anchors in one vector pass, or NULL */
};

/* ---- deriving the anchors from a pattern ---- */

/* A set of literal strings, one of which every match contains; NULL when
 * none is known. */
typedef GPtrArray Lits;

static void
lits_free(Lits *l)
{
  if (l)
    g_ptr_array_unref(l);
}

static gsize
lits_min_len(const Lits *l)
{
  gsize m = G_MAXSIZE;
  for (guint i = 0; i < l->len; i++)
    m = MIN(m, strlen(g_ptr_array_index(l, i)));
  return m;
}

/* The better of two necessary sets: the one whose shortest string is
 * longer (fewer chance hits). Takes ownership of both. */
static Lits *
lits_best(Lits *a, Lits *b)
{
  if (a == NULL)
    return b;
  if (b == NULL)
    return a;
  if (lits_min_len(b) > lits_min_len(a)) {
    lits_free(a);
    return b;
  }
  lits_free(b);
  return a;
}

static Lits *
lits_single(const GString *run)
{
  Lits *l = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(l, g_ascii_strdown(run->str, (gssize)run->len));
  return l;
}

typedef struct {
  const char *p;
  gboolean failed; /* syntax this parser does not know: no anchors */
} Parser;

static Lits *parse_alt(Parser *ps);

/* After an atom: is it optional ("?", "*", "{0,...}")? Consumes the
 * quantifier (and a lazy/possessive suffix). *repeat: "+" or "{n>0,...}". */
static gboolean
parse_quantifier(Parser *ps, gboolean *repeat)
{
  gboolean optional = FALSE;
  *repeat = FALSE;
  switch (*ps->p) {
  case '?':
  case '*':
    optional = TRUE;
    ps->p++;
    break;
  case '+':
    *repeat = TRUE;
    ps->p++;
    break;
  case '{':
    if (!g_ascii_isdigit(ps->p[1]))
      return FALSE; /* a literal brace */
    optional = ps->p[1] == '0' && !g_ascii_isdigit(ps->p[2]);
    *repeat = !optional;
    ps->p = strchr(ps->p, '}');
    if (ps->p == NULL) {
      ps->failed = TRUE;
      ps->p = "";
      return TRUE;
    }
    ps->p++;
    break;
  default:
    return FALSE;
  }
  if (*ps->p == '?' || *ps->p == '+')
    ps->p++;
  return optional;
}

/* One branch: a sequence of atoms. Keeps the best necessary set among its
 * literal runs and its non-optional groups. */
static Lits *
parse_seq(Parser *ps)
{
  g_autoptr(GString) run = g_string_new(NULL);
  Lits *best = NULL;

#define END_RUN()                                                                                  \
  do {                                                                                             \
    if (run->len > 0)                                                                              \
      best = lits_best(best, lits_single(run));                                                    \
    g_string_truncate(run, 0);                                                                     \
  } while (0)

  while (*ps->p && *ps->p != '|' && *ps->p != ')' && !ps->failed) {
    char c = *ps->p;
    int literal = -1; /* the byte, or -1 for a non-literal atom */
    gboolean zero_width = FALSE;
    Lits *group = NULL;

    if (c == '\\') {
      char e = ps->p[1];
      if (e == '\0') {
        ps->failed = TRUE;
        break;
      }
      ps->p += 2;
      if (e == 'b' || e == 'B' || e == 'A' || e == 'z' || e == 'Z' || e == 'G')
        zero_width = TRUE;
      else if (!g_ascii_isalnum(e))
        literal = e;
      /* \d \w \s ...: a class, not a literal */
    } else if (c == '^' || c == '$') {
      ps->p++;
      zero_width = TRUE;
    } else if (c == '.') {
      ps->p++;
    } else if (c == '[') {
      /* Skip the class: "]" first is a member, "\]" an escaped one. */
      ps->p++;
      if (*ps->p == '^')
        ps->p++;
      if (*ps->p == ']')
        ps->p++;
      while (*ps->p && *ps->p != ']')
        ps->p += (*ps->p == '\\' && ps->p[1]) ? 2 : 1;
      if (*ps->p != ']') {
        ps->failed = TRUE;
        break;
      }
      ps->p++;
    } else if (c == '(') {
      ps->p++;
      if (*ps->p == '?') {
        if (ps->p[1] != ':') {
          ps->failed = TRUE; /* lookarounds, inline options: not handled */
          break;
        }
        ps->p += 2;
      }
      group = parse_alt(ps);
      if (*ps->p != ')') {
        lits_free(group);
        ps->failed = TRUE;
        break;
      }
      ps->p++;
    } else if (c == '*' || c == '+' || c == '?') {
      ps->failed = TRUE;
      break;
    } else {
      literal = (guchar)c;
      ps->p++;
    }

    if (zero_width) {
      END_RUN();
      continue;
    }
    gboolean repeat = FALSE;
    gboolean optional = parse_quantifier(ps, &repeat);
    if (group) {
      END_RUN();
      if (optional || repeat)
        lits_free(group); /* repeat: fine in principle, not needed */
      else
        best = lits_best(best, group);
      continue;
    }
    if (literal < 0 || optional) {
      END_RUN();
      continue;
    }
    g_string_append_c(run, (char)literal);
    if (repeat)
      END_RUN();
  }
  END_RUN();
#undef END_RUN
  return best;
}

/* Alternatives: every branch must bring its own set, the union is needed. */
static Lits *
parse_alt(Parser *ps)
{
  Lits *all = g_ptr_array_new_with_free_func(g_free);
  gboolean complete = TRUE;

  for (;;) {
    Lits *branch = parse_seq(ps);
    if (branch == NULL) {
      complete = FALSE;
    } else {
      for (guint i = 0; i < branch->len; i++)
        g_ptr_array_add(all, g_strdup(g_ptr_array_index(branch, i)));
      lits_free(branch);
    }
    if (*ps->p != '|' || ps->failed)
      break;
    ps->p++;
  }
  if (!complete || ps->failed || all->len == 0) {
    lits_free(all);
    return NULL;
  }
  return all;
}

/* ---- the set ---- */

static inline guchar
fold(guchar c)
{
  return (c >= 'A' && c <= 'Z') ? (guchar)(c + 32) : c;
}

static inline guint32
window_hash(const guchar *p)
{
  guint32 w = ((guint32)fold(p[0])) | ((guint32)fold(p[1]) << 8) | ((guint32)fold(p[2]) << 16) |
              ((guint32)fold(p[3]) << 24);
  return (w * 2654435761u) >> (32 - BITMAP_BITS);
}

/* The same hash on a raw window: folding by OR 0x20 maps a few
 * punctuation bytes together, never a letter apart, so a window that
 * folds equal hashes equal. Used for the bitmap only. */
static inline guint32
window_hash_raw(const guchar *p)
{
  guint32 w;
  memcpy(&w, p, sizeof w);
  w |= 0x20202020u;
  return (w * 2654435761u) >> (32 - BITMAP_BITS);
}

ArLiteralSet *
ar_literal_set_new(void)
{
  ArLiteralSet *set = g_new0(ArLiteralSet, 1);
  set->anchors = g_ptr_array_new_with_free_func(g_free);
  set->short_anchors = g_array_new(FALSE, FALSE, sizeof(ShortAnchor));
  set->windows = g_array_new(FALSE, FALSE, sizeof(WindowEntry));
  set->min_len = G_MAXSIZE;
  return set;
}

void
ar_literal_set_free(ArLiteralSet *set)
{
  if (set == NULL)
    return;
  g_ptr_array_unref(set->anchors);
  g_array_unref(set->short_anchors);
  g_array_unref(set->windows);
  ar_anchor_scan_free(set->scan);
  g_free(set);
}

static void
add_anchor(ArLiteralSet *set, const char *anchor)
{
  for (guint i = 0; i < set->anchors->len; i++)
    if (strcmp(g_ptr_array_index(set->anchors, i), anchor) == 0)
      return;
  if (strlen(anchor) < 2) {
    set->always = TRUE; /* one byte is no filter */
    return;
  }
  g_ptr_array_add(set->anchors, g_strdup(anchor));
}

static gint
window_cmp(gconstpointer a, gconstpointer b)
{
  const WindowEntry *x = a, *y = b;
  return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* How often a byte shows up in English and code (rough ranks): windows of
 * rare bytes make a selective bitmap. */
static gsize
commonness(guchar c)
{
  static const char ranked[] = " etaoinsrhldcumfpgwybvkxjqz";
  const char *p = c ? strchr(ranked, c) : NULL;
  return p ? (gsize)(sizeof(ranked) - (gsize)(p - ranked)) : 1;
}

static void
rebuild(ArLiteralSet *set)
{
  gsize min_long = G_MAXSIZE;

  g_array_set_size(set->short_anchors, 0);
  g_array_set_size(set->windows, 0);
  memset(set->bitmap, 0, sizeof set->bitmap);
  set->min_len = G_MAXSIZE;
  for (guint i = 0; i < set->anchors->len; i++) {
    gsize len = strlen(g_ptr_array_index(set->anchors, i));
    set->min_len = MIN(set->min_len, len);
    if (len >= LONG_ANCHOR_MIN)
      min_long = MIN(min_long, len);
    else
      g_array_append_val(set->short_anchors,
                         ((ShortAnchor){ g_ptr_array_index(set->anchors, i), len }));
  }
  set->stride = min_long == G_MAXSIZE ? 0 : min_long - (WINDOW - 1);
  for (guint i = 0; i < set->anchors->len && set->stride; i++) {
    const guchar *a = g_ptr_array_index(set->anchors, i);
    gsize len = strlen((const char *)a);
    if (len < LONG_ANCHOR_MIN)
      continue;
    /* Any stride consecutive window offsets hold one sample of every
     * occurrence: register the run of offsets with the rarest windows
     * (fewest chance hits in ordinary text), not all of them. */
    gsize best = 0, best_score = G_MAXSIZE;
    for (gsize o0 = 0; o0 + set->stride + WINDOW - 1 <= len; o0++) {
      gsize score = 0;
      for (gsize o = o0; o < o0 + set->stride; o++)
        for (gsize k = 0; k < WINDOW; k++)
          score += commonness(a[o + k]);
      if (score < best_score) {
        best_score = score;
        best = o0;
      }
    }
    for (gsize o = best; o < best + set->stride; o++) {
      WindowEntry e = { window_hash(a + o), (guint16)i, (guint16)o };
      guint32 h = window_hash_raw(a + o);
      set->bitmap[h / 32] |= 1u << (h % 32);
      g_array_append_val(set->windows, e);
    }
  }
  g_array_sort(set->windows, window_cmp);
  g_clear_pointer(&set->scan, ar_anchor_scan_free);
  if (!set->always)
    set->scan = ar_anchor_scan_new((const char *const *)set->anchors->pdata, set->anchors->len);
}

gboolean
ar_literal_set_add_pattern(ArLiteralSet *set, const char *pattern)
{
  Parser ps = { pattern, FALSE };
  Lits *lits = parse_alt(&ps);

  if (lits == NULL || *ps.p != '\0') {
    lits_free(lits);
    set->always = TRUE;
    return FALSE;
  }
  for (guint i = 0; i < lits->len; i++)
    add_anchor(set, g_ptr_array_index(lits, i));
  lits_free(lits);
  rebuild(set);
  return TRUE;
}

gsize
ar_literal_set_min_len(const ArLiteralSet *set)
{
  return set->always ? 0 : set->min_len;
}

static gboolean
anchor_at(const char *anchor, const guchar *text, gsize avail)
{
  gsize i = 0;
  for (; anchor[i]; i++) {
    if (i >= avail || fold(text[i]) != (guchar)anchor[i])
      return FALSE;
  }
  return TRUE;
}

static gboolean
long_anchor_near(const ArLiteralSet *set, const guchar *text, gsize len, gsize pos)
{
  WindowEntry key = { window_hash(text + pos), 0, 0 };
  const WindowEntry *w = (const WindowEntry *)(gconstpointer)set->windows->data;
  gsize lo = 0, hi = set->windows->len;

  while (lo < hi) {
    gsize mid = (lo + hi) / 2;
    if (w[mid].hash < key.hash)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < set->windows->len && w[lo].hash == key.hash; lo++) {
    if (w[lo].offset > pos)
      continue;
    gsize start = pos - w[lo].offset;
    if (anchor_at(g_ptr_array_index(set->anchors, w[lo].anchor), text + start, len - start))
      return TRUE;
  }
  return FALSE;
}

typedef guchar v16 __attribute__((vector_size(16)));

static inline v16
fold16(v16 v)
{
  v16 upper = (v >= (guchar)'A') & (v <= (guchar)'Z');
  return v | (upper & (guchar)0x20);
}

static inline gboolean
any16(v16 v)
{
  guint64 x[2];
  memcpy(x, &v, sizeof x);
  return (x[0] | x[1]) != 0;
}

static gboolean
short_anchor_in(const char *anchor, gsize alen, const guchar *text, gsize len)
{
  gsize i = 0;

  if (len < alen)
    return FALSE;
  /* 16 start positions at a time: both first bytes must match. */
  for (; i + 17 <= len; i += 16) {
    v16 a, b;
    memcpy(&a, text + i, 16);
    memcpy(&b, text + i + 1, 16);
    v16 hit = (fold16(a) == (guchar)anchor[0]) & (fold16(b) == (guchar)anchor[1]);
    if (!any16(hit))
      continue;
    for (gsize j = i; j < i + 16; j++)
      if (anchor_at(anchor, text + j, len - j))
        return TRUE;
  }
  for (; i + alen <= len; i++)
    if (anchor_at(anchor, text + i, len - i))
      return TRUE;
  return FALSE;
}

gboolean
ar_literal_set_maybe(const ArLiteralSet *set, const char *text, gsize len)
{
  const guchar *t = (const guchar *)text;

  if (set->always)
    return TRUE;
  if (len < set->min_len)
    return FALSE;
  for (guint i = 0; i < set->short_anchors->len; i++) {
    const ShortAnchor *a = &g_array_index(set->short_anchors, ShortAnchor, i);
    if (short_anchor_in(a->text, a->len, t, len))
      return TRUE;
  }
  if (set->stride == 0)
    return FALSE;
  for (gsize pos = 0; pos + WINDOW <= len; pos += set->stride) {
    guint32 h = window_hash_raw(t + pos);
    if ((set->bitmap[h / 32] >> (h % 32)) & 1u && long_anchor_near(set, t, len, pos))
      return TRUE;
  }
  return FALSE;
}

const ArAnchorScan *
ar_literal_set_scan(const ArLiteralSet *set)
{
  return set->always ? NULL : set->scan;
}

void
ar_literal_set_foreach_anchor(const ArLiteralSet *set, void (*func)(const char *, gpointer),
                              gpointer user_data)
{
  for (guint i = 0; i < set->anchors->len; i++)
    func(g_ptr_array_index(set->anchors, i), user_data);
}

/* ---- status digits ---- */

gboolean
ar_text_has_status_digits(const char *text, gsize len)
{
  const guchar *t = (const guchar *)text;
  gsize i = 0;

  /* [45] followed by two digits, 16 positions at a time. */
  for (; i + 18 <= len; i += 16) {
    v16 a, b, c;
    memcpy(&a, t + i, 16);
    memcpy(&b, t + i + 1, 16);
    memcpy(&c, t + i + 2, 16);
    v16 hit = ((a == (guchar)'4') | (a == (guchar)'5')) & ((v16)(b - (guchar)'0') < (guchar)10) &
              ((v16)(c - (guchar)'0') < (guchar)10);
    if (any16(hit))
      return TRUE;
  }
  for (; i + 3 <= len; i++) {
    if ((t[i] == '4' || t[i] == '5') && g_ascii_isdigit(t[i + 1]) && g_ascii_isdigit(t[i + 2]))
      return TRUE;
  }
  return FALSE;
}

gboolean
ar_text_has_run(const char *text, gsize len, gsize run)
{
  const guchar *t = (const guchar *)text;
  gsize i = 0;

  if (run == 0)
    return TRUE;
  if (run > 4) {
    /* Not needed by the tables; stay exact the slow way. */
    gsize cur = 0;
    for (gsize k = 0; k < len; k++) {
      cur = t[k] == '\n' ? 0 : cur + 1;
      if (cur >= run)
        return TRUE;
    }
    return FALSE;
  }
  /* A window of run bytes without a newline, 16 starts at a time (a
   * window of fewer than 4 repeats a load: harmless). */
  for (; i + 16 + 3 <= len; i += 16) {
    v16 a, b, c, d;
    memcpy(&a, t + i, 16);
    memcpy(&b, t + i + MIN(1, run - 1), 16);
    memcpy(&c, t + i + MIN(2, run - 1), 16);
    memcpy(&d, t + i + MIN(3, run - 1), 16);
    v16 nl = (a == (guchar)'\n') | (b == (guchar)'\n') | (c == (guchar)'\n') | (d == (guchar)'\n');
    if (!any16(~nl))
      continue;
    return TRUE;
  }
  gsize cur = 0;
  /* The tail: restart the count a little before it so no window that
   * straddles the block boundary is missed. */
  for (gsize k = i >= 3 ? i - 3 : 0; k < len; k++) {
    cur = t[k] == '\n' ? 0 : cur + 1;
    if (cur >= run)
      return TRUE;
  }
  return FALSE;
}
