/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The readers of the events files (src/common/events/ar-events-read.c):
 * the kind of a line, the tail over months, the follower; and that they
 * read what the emitter writes. */

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ar-events.h"
#include "ar-test-util.h"

typedef ArTestEvents Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  ar_test_events_set_up(f, data);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  ar_test_events_tear_down(f, data);
}

static void
write_file(const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_assert_true(g_file_set_contents(path, contents, -1, NULL));
}

static char *
line_for(const char *kind, guint i)
{
  return g_strdup_printf("{\"ts\":\"t\",\"event\":\"%s\",\"i\":%u}", kind, i);
}

static void
test_line_kind(void)
{
  g_autofree char *a = ar_event_line_kind("{\"ts\":\"x\",\"event\":\"round_end\",\"a\":1}", -1);
  g_assert_cmpstr(a, ==, "round_end");
  /* The Python tool writes ", " and ": " separators. */
  g_autofree char *b = ar_event_line_kind("{\"ts\": \"x\", \"event\": \"round_end\"}", -1);
  g_assert_cmpstr(b, ==, "round_end");
  g_assert_null(ar_event_line_kind("{\"ts\": \"x\"}", -1));
  g_assert_null(ar_event_line_kind("garbage", -1));
  const char *const kinds[] = { "round_end", NULL };
  g_assert_true(ar_event_line_matches("{\"event\":\"round_end\"}", -1, kinds));
  g_assert_false(ar_event_line_matches("{\"event\":\"round_start\"}", -1, kinds));
  g_assert_true(ar_event_line_matches("{\"event\":\"round_start\"}", -1, NULL));
}

static void
test_tail_months(Fixture *f, gconstpointer data)
{
  g_autoptr(GString) m1 = g_string_new(NULL), m2 = g_string_new(NULL), m3 = g_string_new(NULL);
  for (guint i = 0; i < 4; i++) {
    g_autofree char *l1 = line_for(i % 2 ? "round_end" : "round_start", i);
    g_autofree char *l2 = line_for(i % 2 ? "round_end" : "round_start", 10 + i);
    g_string_append_printf(m1, "%s\n", l1);
    g_string_append_printf(m2, "%s\n", l2);
  }
  g_autofree char *l3 = line_for("round_start", 20);
  /* The newest file ends in a write in progress: not a line yet. */
  g_string_append_printf(m3, "%s\n{\"ts\":\"t\",\"event\":\"round_e", l3);
  write_file(f->dir, "events-2026-01.jsonl", m1->str);
  write_file(f->dir, "events-2026-02.jsonl", m2->str);
  write_file(f->dir, "events-2026-03.jsonl", m3->str);
  write_file(f->dir, "events-2026-00.jsonl.gz", "junk");
  write_file(f->dir, "metrics-2026-03.jsonl", m1->str);

  g_autoptr(GPtrArray) all = ar_events_tail(f->dir, NULL, 6, NULL);
  g_assert_cmpuint(all->len, ==, 6);
  g_assert_nonnull(strstr(all->pdata[0], "\"i\":3"));
  g_assert_nonnull(strstr(all->pdata[1], "\"i\":10"));
  g_assert_nonnull(strstr(all->pdata[5], "\"i\":20"));

  const char *const ends[] = { "round_end", NULL };
  g_autoptr(GPtrArray) e = ar_events_tail(f->dir, ends, 3, NULL);
  g_assert_cmpuint(e->len, ==, 3);
  g_assert_nonnull(strstr(e->pdata[0], "\"i\":3"));
  g_assert_nonnull(strstr(e->pdata[1], "\"i\":11"));
  g_assert_nonnull(strstr(e->pdata[2], "\"i\":13"));

  g_autoptr(GPtrArray) many = ar_events_tail(f->dir, NULL, 1000, NULL);
  g_assert_cmpuint(many->len, ==, 9);
  g_assert_nonnull(strstr(many->pdata[0], "\"i\":0"));

  g_autoptr(GPtrArray) none = ar_events_tail(f->dir, NULL, 0, NULL);
  g_assert_cmpuint(none->len, ==, 0);
  g_autoptr(GPtrArray) nodir = ar_events_tail("/nonexistent/agent-runner", NULL, 5, NULL);
  g_assert_nonnull(nodir);
  g_assert_cmpuint(nodir->len, ==, 0);
}

/* Lines across block boundaries, a line longer than a block, a rare kind. */
static void
test_tail_large(Fixture *f, gconstpointer data)
{
  g_autoptr(GString) s = g_string_new(NULL);
  g_autofree char *huge = g_strnfill(200 * 1024, 'h');
  for (guint i = 0; i < 20000; i++) {
    if (i == 19990)
      g_string_append_printf(
          s, "{\"ts\":\"t\",\"event\":\"crash_loop\",\"i\":%u,\"reason\":\"%s\"}\n", i, huge);
    else if (i % 1000 == 7)
      g_string_append_printf(s, "{\"ts\":\"t\",\"event\":\"crash_loop\",\"i\":%u}\n", i);
    else
      g_string_append_printf(
          s, "{\"ts\":\"t\",\"event\":\"round_progress\",\"i\":%u,\"pad\":\"%*s\"}\n", i,
          (int)(i % 97), "");
  }
  write_file(f->dir, "events-2026-05.jsonl", s->str);

  const char *const crash[] = { "crash_loop", NULL };
  g_autoptr(GPtrArray) t = ar_events_tail(f->dir, crash, 4, NULL);
  g_assert_cmpuint(t->len, ==, 4);
  g_assert_true(
      g_str_has_prefix(t->pdata[0], "{\"ts\":\"t\",\"event\":\"crash_loop\",\"i\":17007}"));
  g_assert_true(
      g_str_has_prefix(t->pdata[1], "{\"ts\":\"t\",\"event\":\"crash_loop\",\"i\":18007}"));
  g_assert_true(
      g_str_has_prefix(t->pdata[2], "{\"ts\":\"t\",\"event\":\"crash_loop\",\"i\":19007}"));
  g_assert_cmpuint(strlen(t->pdata[3]), >, 200 * 1024);
  g_assert_true(g_str_has_suffix(t->pdata[3], "hhh\"}"));

  g_autoptr(GPtrArray) first = ar_events_tail(f->dir, NULL, 20000, NULL);
  g_assert_cmpuint(first->len, ==, 20000);
  g_assert_true(
      g_str_has_prefix(first->pdata[0], "{\"ts\":\"t\",\"event\":\"round_progress\",\"i\":0,"));
}

/* The cost does not depend on history: a 64 GiB (sparse) month before the
 * last lines is never read. Reading it would take minutes and the memory
 * of a whole line of zeros. */
static void
test_tail_bounded(Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename(f->dir, "events-2026-05.jsonl", NULL);
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  g_assert_cmpint(fd, >=, 0);
  if (ftruncate(fd, G_GINT64_CONSTANT(64) << 30) < 0) {
    close(fd);
    g_test_skip("no sparse files here");
    return;
  }
  g_assert_cmpint(lseek(fd, 0, SEEK_END), >, 0);
  g_autoptr(GString) tail = g_string_new("\n");
  for (guint i = 0; i < 10; i++)
    g_string_append_printf(tail, "{\"ts\":\"t\",\"event\":\"round_end\",\"i\":%u}\n", i);
  g_assert_cmpint(write(fd, tail->str, tail->len), ==, (gssize)tail->len);
  close(fd);

  g_autoptr(GPtrArray) t = ar_events_tail(f->dir, NULL, 5, NULL);
  g_assert_cmpuint(t->len, ==, 5);
  g_assert_nonnull(strstr(t->pdata[4], "\"i\":9"));
}

static void
append_file(const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(write(fd, text, strlen(text)), ==, (gssize)strlen(text));
  close(fd);
}

static void
test_follower(Fixture *f, gconstpointer data)
{
  g_autoptr(ArEventsFollower) all = ar_events_follower_new(f->dir, NULL, FALSE);
  g_autoptr(GPtrArray) r0 = ar_events_follower_read(all, NULL);
  g_assert_cmpuint(r0->len, ==, 0); /* nothing yet */

  append_file(f->dir, "events-2026-04.jsonl",
              "{\"event\":\"a\",\"i\":1}\n{\"event\":\"b\",\"i\":2}\n");
  const char *const only_b[] = { "b", NULL };
  g_autoptr(ArEventsFollower) late = ar_events_follower_new(f->dir, only_b, TRUE);
  g_autoptr(GPtrArray) l0 = ar_events_follower_read(late, NULL);
  g_assert_cmpuint(l0->len, ==, 0); /* from the end: old lines skipped */

  g_autoptr(GPtrArray) r1 = ar_events_follower_read(all, NULL);
  g_assert_cmpuint(r1->len, ==, 2);
  g_assert_cmpstr(r1->pdata[1], ==, "{\"event\":\"b\",\"i\":2}");

  /* Half a line is held back until its "\n" arrives. */
  append_file(f->dir, "events-2026-04.jsonl", "{\"event\":\"b\",\"i\":");
  g_autoptr(GPtrArray) r2 = ar_events_follower_read(all, NULL);
  g_assert_cmpuint(r2->len, ==, 0);
  append_file(f->dir, "events-2026-04.jsonl", "3}\n");
  g_autoptr(GPtrArray) r3 = ar_events_follower_read(all, NULL);
  g_assert_cmpuint(r3->len, ==, 1);
  g_assert_cmpstr(r3->pdata[0], ==, "{\"event\":\"b\",\"i\":3}");

  /* A new month: the follower moves on to it. */
  append_file(f->dir, "events-2026-05.jsonl",
              "{\"event\":\"a\",\"i\":4}\n{\"event\":\"b\",\"i\":5}\n");
  g_autoptr(GPtrArray) r4 = ar_events_follower_read(all, NULL);
  g_assert_cmpuint(r4->len, ==, 2);
  g_autoptr(GPtrArray) l1 = ar_events_follower_read(late, NULL);
  g_assert_cmpuint(l1->len, ==, 2);
  g_assert_cmpstr(l1->pdata[0], ==, "{\"event\":\"b\",\"i\":3}");
  g_assert_cmpstr(l1->pdata[1], ==, "{\"event\":\"b\",\"i\":5}");
  g_autoptr(GPtrArray) r5 = ar_events_follower_read(all, NULL);
  g_assert_cmpuint(r5->len, ==, 0);
}

/* The follower and the emitter agree: what one writes the other reads. */
static void
test_follow_emitter(Fixture *f, gconstpointer data)
{
  g_autoptr(ArEventsFollower) fol = ar_events_follower_new(f->dir, NULL, TRUE);
  g_autoptr(GPtrArray) r0 = ar_events_follower_read(fol, NULL);
  g_assert_cmpuint(r0->len, ==, 0);
  g_assert_true(ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", 9), NULL));
  g_autoptr(GPtrArray) r1 = ar_events_follower_read(fol, NULL);
  g_assert_cmpuint(r1->len, ==, 1);
  g_autoptr(GPtrArray) t = ar_events_tail(f->dir, NULL, 1, NULL);
  g_assert_cmpstr(t->pdata[0], ==, r1->pdata[0]);
}

#define ADD(name, func) g_test_add(name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/events/line-kind", test_line_kind);
  ADD("/events/tail-months", test_tail_months);
  ADD("/events/tail-large", test_tail_large);
  ADD("/events/tail-bounded", test_tail_bounded);
  ADD("/events/follower", test_follower);
  ADD("/events/follow-emitter", test_follow_emitter);
  return g_test_run();
}
