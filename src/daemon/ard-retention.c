/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-retention.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "ard-state.h"

typedef struct {
  guint round;
  char *name;
} Transcript;

static gint
by_round_desc(gconstpointer a, gconstpointer b)
{
  const Transcript *x = a;
  const Transcript *y = b;
  if (x->round != y->round)
    return x->round < y->round ? 1 : -1;
  /* Same number twice (a restored backup?): newest stamp first. */
  return -g_strcmp0(x->name, y->name);
}

static void
transcript_clear(gpointer p)
{
  g_free(((Transcript *)p)->name);
}

guint
ard_retention_prune_transcripts(const char *log_dir, guint keep, const char *live)
{
  if (keep == 0)
    return 0;
  g_autofree char *rounds = g_build_filename(log_dir, "rounds", NULL);
  g_autoptr(GDir) dir = g_dir_open(rounds, 0, NULL);
  if (!dir)
    return 0;
  g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(Transcript));
  g_array_set_clear_func(all, transcript_clear);
  const char *name;
  while ((name = g_dir_read_name(dir))) {
    guint n = ard_state_round_from_transcript_name(name);
    if (n == 0)
      continue;
    Transcript t = { n, g_strdup(name) };
    g_array_append_val(all, t);
  }
  if (all->len <= keep)
    return 0;
  g_array_sort(all, by_round_desc);
  guint removed = 0;
  for (guint i = keep; i < all->len; i++) {
    Transcript *t = &g_array_index(all, Transcript, i);
    if (live && g_str_equal(t->name, live))
      continue;
    g_autofree char *path = g_build_filename(rounds, t->name, NULL);
    if (unlink(path) == 0)
      removed++;
    else if (errno != ENOENT)
      g_warning("retention: cannot remove %s: %s", path, g_strerror(errno));
  }
  return removed;
}

guint
ard_retention_prune_events(const char *log_dir, guint days, gint64 now_us)
{
  if (days == 0)
    return 0;
  g_autoptr(GDir) dir = g_dir_open(log_dir, 0, NULL);
  if (!dir)
    return 0;
  g_autoptr(GDateTime) now = g_date_time_new_from_unix_utc(now_us / G_USEC_PER_SEC);
  g_autoptr(GDateTime) cutoff = g_date_time_add_days(now, -(gint)MIN(days, 365000));
  guint removed = 0;
  const char *name;
  while ((name = g_dir_read_name(dir))) {
    int year = 0;
    int month = 0;
    char tail[16] = "";
    if (sscanf(name, "events-%4d-%2d%15s", &year, &month, tail) != 3 ||
        !g_str_equal(tail, ".jsonl") || month < 1 || month > 12)
      continue;
    /* A monthly file holds events up to the end of its month: it is old
     * once that end is further back than the cutoff. */
    g_autoptr(GDateTime) start = g_date_time_new_utc(year, month, 1, 0, 0, 0);
    if (!start)
      continue;
    g_autoptr(GDateTime) end = g_date_time_add_months(start, 1);
    if (g_date_time_compare(end, cutoff) >= 0)
      continue;
    g_autofree char *path = g_build_filename(log_dir, name, NULL);
    if (unlink(path) == 0)
      removed++;
    else if (errno != ENOENT)
      g_warning("retention: cannot remove %s: %s", path, g_strerror(errno));
  }
  return removed;
}
