/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "ar-redact.h"

/* Exact-string redaction of registered secret values.
 *
 * One Aho-Corasick automaton over all values: the text is read once, left
 * to right, whatever the number of secrets (1,000 values of 4 KiB cost the
 * same pass as one), and every occurrence is found, overlapping ones and
 * values that are prefixes or suffixes of each other included. The matches
 * are merged into maximal covered ranges and each range becomes one
 * AR_REDACTED, so no byte of a secret survives next to a marker.
 *
 * Values are bytes, not patterns: regex metacharacters, UTF-8 and newlines
 * are matched literally. */

typedef struct {
  guint32 first_edge; /* index into edges, G_MAXUINT32 for none */
  guint32 fail;
  guint32 depth;   /* bytes from the root: the longest partial match */
  guint32 out_len; /* longest value ending here (0: none) */
} AcState;

typedef struct {
  guint32 next; /* sibling, G_MAXUINT32 for none */
  guint32 target;
  guint8 byte;
} AcEdge;

#define NONE G_MAXUINT32

static GMutex lock;
static GPtrArray *values; /* char*, the registered values */
static GArray *states;    /* AcState; NULL when it must be rebuilt */
static GArray *edges;     /* AcEdge */
static guint32 root_next[256];
static gsize max_len;
/* The edges again, for matching: open addressing keyed by state and byte
 * (one or two probes per lookup instead of a walk along the siblings). */
static guint64 *edge_keys; /* (state << 8 | byte) + 1; 0: empty */
static guint32 *edge_targets;
static gsize edge_mask;

static inline gsize
edge_slot(guint64 key)
{
  return (gsize)((key * G_GUINT64_CONSTANT(0x9E3779B97F4A7C15)) >> 20) & edge_mask;
}

static void
index_edges(void)
{
  gsize size = 16;
  while (size < (gsize)edges->len * 2)
    size <<= 1;
  edge_mask = size - 1;
  edge_keys = g_new0(guint64, size);
  edge_targets = g_new(guint32, size);
  for (guint32 s = 1; s < states->len; s++)
    for (guint32 e = g_array_index(states, AcState, s).first_edge; e != NONE;
         e = g_array_index(edges, AcEdge, e).next) {
      const AcEdge *edge = &g_array_index(edges, AcEdge, e);
      guint64 key = ((guint64)s << 8 | edge->byte) + 1;
      gsize i = edge_slot(key);
      while (edge_keys[i] != 0)
        i = (i + 1) & edge_mask;
      edge_keys[i] = key;
      edge_targets[i] = edge->target;
    }
}

/* The matching loop's transition: root table, else the hash. */
static inline guint32
fast_child(guint32 s, guint8 c)
{
  if (s == 0)
    return root_next[c];
  guint64 key = ((guint64)s << 8 | c) + 1;
  for (gsize i = edge_slot(key);; i = (i + 1) & edge_mask) {
    if (edge_keys[i] == key)
      return edge_targets[i];
    if (edge_keys[i] == 0)
      return NONE;
  }
}

static inline guint32
fast_step(const AcState *st, guint32 s, guint8 c)
{
  for (;;) {
    guint32 t = fast_child(s, c);
    if (t != NONE)
      return t;
    if (s == 0)
      return 0;
    s = st[s].fail;
  }
}

static guint32
child(guint32 s, guint8 c)
{
  if (s == 0)
    return root_next[c];
  for (guint32 e = g_array_index(states, AcState, s).first_edge; e != NONE;
       e = g_array_index(edges, AcEdge, e).next)
    if (g_array_index(edges, AcEdge, e).byte == c)
      return g_array_index(edges, AcEdge, e).target;
  return NONE;
}

static guint32
add_state(guint32 depth)
{
  AcState st = { NONE, 0, depth, 0 };
  g_array_append_val(states, st);
  return states->len - 1;
}

static void
insert(const char *value)
{
  guint32 s = 0;
  gsize len = strlen(value);
  for (gsize i = 0; i < len; i++) {
    guint8 c = (guint8)value[i];
    guint32 t = child(s, c);
    if (t == NONE) {
      t = add_state((guint32)i + 1);
      if (s == 0) {
        root_next[c] = t;
      } else {
        AcEdge e = { g_array_index(states, AcState, s).first_edge, t, c };
        g_array_append_val(edges, e);
        g_array_index(states, AcState, s).first_edge = edges->len - 1;
      }
    }
    s = t;
  }
  g_array_index(states, AcState, s).out_len = (guint32)len;
}

static guint32
step(guint32 s, guint8 c)
{
  for (;;) {
    guint32 t = child(s, c);
    if (t != NONE)
      return t;
    if (s == 0)
      return 0;
    s = g_array_index(states, AcState, s).fail;
  }
}

/* Breadth-first, so a state's failure target is final before its
 * children look at it. */
static void
link_failures(void)
{
  g_autoptr(GArray) queue = g_array_new(FALSE, FALSE, sizeof(guint32));
  for (guint c = 0; c < 256; c++)
    if (root_next[c] != NONE)
      g_array_append_val(queue, root_next[c]);
  for (guint qi = 0; qi < queue->len; qi++) {
    guint32 s = g_array_index(queue, guint32, qi);
    AcState *st = &g_array_index(states, AcState, s);
    guint32 fo = g_array_index(states, AcState, st->fail).out_len;
    if (st->out_len == 0)
      st->out_len = fo;
    for (guint32 e = st->first_edge; e != NONE; e = g_array_index(edges, AcEdge, e).next) {
      AcEdge *edge = &g_array_index(edges, AcEdge, e);
      guint32 f = step(g_array_index(states, AcState, s).fail, edge->byte);
      g_array_index(states, AcState, edge->target).fail = f;
      g_array_append_val(queue, edge->target);
    }
  }
}

/* Called with the lock held. */
static void
ensure_built(void)
{
  if (states != NULL || values == NULL || values->len == 0)
    return;
  states = g_array_new(FALSE, FALSE, sizeof(AcState));
  edges = g_array_new(FALSE, FALSE, sizeof(AcEdge));
  for (guint c = 0; c < 256; c++)
    root_next[c] = NONE;
  add_state(0);
  for (guint i = 0; i < values->len; i++)
    insert(values->pdata[i]);
  link_failures();
  index_edges();
}

static void
drop_automaton(void)
{
  g_clear_pointer(&states, g_array_unref);
  g_clear_pointer(&edges, g_array_unref);
  g_clear_pointer(&edge_keys, g_free);
  g_clear_pointer(&edge_targets, g_free);
}

void
ar_redact_add_secret(const char *value)
{
  if (value == NULL || value[0] == '\0')
    return;
  g_mutex_lock(&lock);
  gboolean known = FALSE;
  for (guint i = 0; values != NULL && i < values->len && !known; i++)
    known = strcmp(values->pdata[i], value) == 0;
  if (!known) {
    if (values == NULL)
      values = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(values, g_strdup(value));
    max_len = MAX(max_len, strlen(value));
    drop_automaton();
  }
  g_mutex_unlock(&lock);
}

void
ar_redact_clear_secrets(void)
{
  g_mutex_lock(&lock);
  g_clear_pointer(&values, g_ptr_array_unref);
  drop_automaton();
  max_len = 0;
  g_mutex_unlock(&lock);
}

gboolean
ar_redact_have_secrets(void)
{
  g_mutex_lock(&lock);
  gboolean have = values != NULL && values->len > 0;
  g_mutex_unlock(&lock);
  return have;
}

gsize
ar_redact_max_secret_len(void)
{
  g_mutex_lock(&lock);
  gsize n = max_len;
  g_mutex_unlock(&lock);
  return n;
}

typedef struct {
  gsize start, end; /* [start, end) */
} Range;

/* The merged ranges covered by occurrences of values in text[0..len), and
 * the depth of the final state (how many trailing bytes could begin a
 * value). Called with the lock held and the automaton built. */
static GArray *
scan(const char *text, gsize len, gsize *final_depth)
{
  /* Matches come in increasing end order; a new one may reach back over
   * earlier ranges (a long value ending after a short one), so merge on a
   * stack: each range is pushed and popped at most once. */
  GArray *ranges = g_array_new(FALSE, FALSE, sizeof(Range));
  const AcState *st = (const AcState *)states->data;
  guint32 s = 0;
  for (gsize i = 0; i < len; i++) {
    /* At the root, bytes that start no value leave it there: skip them in
     * a tight loop (most text, with a few values registered). */
    if (s == 0) {
      while (i < len && root_next[(guint8)text[i]] == NONE)
        i++;
      if (i == len)
        break;
    }
    s = fast_step(st, s, (guint8)text[i]);
    guint32 out = st[s].out_len;
    if (G_LIKELY(out == 0))
      continue;
    Range r = { i + 1 - out, i + 1 };
    while (ranges->len > 0) {
      Range *top = &g_array_index(ranges, Range, ranges->len - 1);
      if (top->end < r.start)
        break;
      r.start = MIN(r.start, top->start);
      g_array_set_size(ranges, ranges->len - 1);
    }
    g_array_append_val(ranges, r);
  }
  if (final_depth)
    *final_depth = st[s].depth;
  return ranges;
}

char *
ar_redact_literals_len(const char *text, gsize len)
{
  g_mutex_lock(&lock);
  ensure_built();
  if (states == NULL) {
    g_mutex_unlock(&lock);
    return g_strndup(text, len);
  }
  g_autoptr(GArray) ranges = scan(text, len, NULL);
  g_mutex_unlock(&lock);

  GString *out = g_string_sized_new(len + 1);
  gsize at = 0;
  for (guint i = 0; i < ranges->len; i++) {
    const Range *r = &g_array_index(ranges, Range, i);
    g_string_append_len(out, text + at, (gssize)(r->start - at));
    g_string_append(out, AR_REDACTED);
    at = r->end;
  }
  g_string_append_len(out, text + at, (gssize)(len - at));
  return g_string_free(out, FALSE);
}

gsize
ar_redact_partial_tail(const char *text, gsize len)
{
  g_mutex_lock(&lock);
  ensure_built();
  if (states == NULL) {
    g_mutex_unlock(&lock);
    return 0;
  }
  gsize depth = 0;
  g_autoptr(GArray) ranges = scan(text, len, &depth);
  g_mutex_unlock(&lock);
  /* Cut before a value that may continue past the end, and never inside
   * a whole occurrence that ends near it (a cut there would show its
   * first half). Ranges are disjoint: one step back is enough. */
  gsize keep = len - depth;
  for (guint i = ranges->len; i > 0; i--) {
    const Range *r = &g_array_index(ranges, Range, i - 1);
    if (r->end <= keep)
      break;
    if (r->start < keep)
      keep = r->start;
  }
  return len - keep;
}
