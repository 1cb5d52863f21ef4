/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-test-util.h"

/* Unit tests of the daemon's building blocks (src/daemon): the bounded line
 * scanner, state.json and round numbering, retention, the project lock and
 * the process-tree walk. The end-to-end behaviour is in daemon/test_daemon.py. */

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "ar-prompt.h"
#include "ar-util.h"
#include "ard-lock.h"
#include "ard-output.h"
#include "ard-reap.h"
#include "ard-retention.h"
#include "ard-state.h"

typedef struct {
  GPtrArray *lines;
  guint truncated;
} Collected;

static void
collect(const char *line, gsize len, gboolean truncated, gpointer user_data)
{
  Collected *c = user_data;
  g_ptr_array_add(c->lines, g_strndup(line, len));
  if (truncated)
    c->truncated++;
}

static void
test_scanner_lines(void)
{
  Collected c = { g_ptr_array_new_with_free_func(g_free), 0 };
  ArdLineScanner sc;
  ard_line_scanner_init(&sc);
  const char *chunks[] = { "one\ntw", "o\n", "", "three\nfour", NULL };
  for (guint i = 0; chunks[i]; i++)
    ard_line_scanner_feed(&sc, chunks[i], strlen(chunks[i]), collect, &c);
  g_assert_cmpuint(c.lines->len, ==, 3);
  ard_line_scanner_finish(&sc, collect, &c);
  g_assert_cmpuint(c.lines->len, ==, 4);
  g_assert_cmpstr(g_ptr_array_index(c.lines, 0), ==, "one");
  g_assert_cmpstr(g_ptr_array_index(c.lines, 1), ==, "two");
  g_assert_cmpstr(g_ptr_array_index(c.lines, 2), ==, "three");
  g_assert_cmpstr(g_ptr_array_index(c.lines, 3), ==, "four");
  g_assert_cmpuint(c.truncated, ==, 0);
  ard_line_scanner_clear(&sc);
  g_ptr_array_unref(c.lines);
}

/* A line longer than the buffer is handed over cut, flagged, and its rest
 * skipped; memory stays at the buffer size whatever the input. */
static void
test_scanner_long_line(void)
{
  Collected c = { g_ptr_array_new_with_free_func(g_free), 0 };
  ArdLineScanner sc;
  ard_line_scanner_init(&sc);
  g_autofree char *block = g_malloc(1 << 20);
  memset(block, 'x', 1 << 20);
  for (int i = 0; i < 64; i++) /* 64 MiB without a newline */
    ard_line_scanner_feed(&sc, block, 1 << 20, collect, &c);
  g_assert_cmpuint(c.lines->len, ==, 1);
  g_assert_cmpuint(strlen(g_ptr_array_index(c.lines, 0)), ==, ARD_LINE_MAX);
  g_assert_cmpuint(c.truncated, ==, 1);
  ard_line_scanner_feed(&sc, "tail\nnext\n", 10, collect, &c);
  g_assert_cmpuint(c.lines->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(c.lines, 1), ==, "next");

  /* Exactly ARD_LINE_MAX bytes and a newline: whole, not truncated. */
  g_autofree char *exact = g_malloc(ARD_LINE_MAX + 1);
  memset(exact, 'y', ARD_LINE_MAX);
  exact[ARD_LINE_MAX] = '\n';
  ard_line_scanner_feed(&sc, exact, 10, collect, &c);
  ard_line_scanner_feed(&sc, exact + 10, ARD_LINE_MAX + 1 - 10, collect, &c);
  g_assert_cmpuint(c.lines->len, ==, 3);
  g_assert_cmpuint(strlen(g_ptr_array_index(c.lines, 2)), ==, ARD_LINE_MAX);
  g_assert_cmpuint(c.truncated, ==, 1);
  g_assert_cmpuint(sc.truncated_lines, ==, 1);
  ard_line_scanner_clear(&sc);
  g_ptr_array_unref(c.lines);
}

static void
test_transcript_names(void)
{
  g_assert_cmpuint(ard_state_round_from_transcript_name("R12-20260517T021344.log"), ==, 12);
  g_assert_cmpuint(ard_state_round_from_transcript_name("R3.log"), ==, 3);
  g_assert_cmpuint(ard_state_round_from_transcript_name("R0-x.log"), ==, 0);
  g_assert_cmpuint(ard_state_round_from_transcript_name("R12-x.txt"), ==, 0);
  g_assert_cmpuint(ard_state_round_from_transcript_name("round-12.log"), ==, 0);
  g_assert_cmpuint(ard_state_round_from_transcript_name("Rx-1.log"), ==, 0);
}

static char *
make_tmpdir(void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp("ard-units-XXXXXX", &error);
  g_assert_no_error(error);
  return dir;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autoptr(GError) error = NULL;
  g_file_set_contents(path, text, -1, &error);
  g_assert_no_error(error);
}

static void
test_state_roundtrip(void)
{
  g_autofree char *dir = make_tmpdir();
  gboolean recovered = TRUE;
  g_autoptr(GError) error = NULL;
  g_autoptr(ArdState) fresh = ard_state_load(dir, &recovered, &error);
  g_assert_no_error(error);
  g_assert_false(recovered);
  g_assert_cmpuint(fresh->round_num, ==, 0);

  fresh->round_num = 41;
  fresh->crash_streak = 2;
  fresh->phase = g_strdup("review");
  fresh->stop_reason = g_strdup(ARD_STOP_REASON_DONE);
  fresh->last = g_new0(ArdRoundSummary, 1);
  fresh->last->round_num = 41;
  fresh->last->exit_code = -9;
  fresh->last->outcome = g_strdup("error");
  fresh->last->duration_s = 12.5;
  g_assert_true(ard_state_save(fresh, dir, &error));
  g_autoptr(ArdState) back = ard_state_load(dir, &recovered, &error);
  g_assert_no_error(error);
  g_assert_false(recovered);
  g_assert_cmpuint(back->round_num, ==, 41);
  g_assert_cmpuint(back->crash_streak, ==, 2);
  g_assert_cmpstr(back->phase, ==, "review");
  g_assert_cmpstr(back->stop_reason, ==, "done");
  g_assert_nonnull(back->last);
  g_assert_cmpint(back->last->exit_code, ==, -9);
  g_assert_cmpstr(back->last->outcome, ==, "error");

  write_file(dir, "state.json", "{\"round_num\": \"x\"");
  g_autoptr(ArdState) broken = ard_state_load(dir, &recovered, &error);
  g_assert_no_error(error);
  g_assert_true(recovered);
  g_assert_cmpuint(broken->round_num, ==, 0);
  ar_test_rm_rf(dir);
}

static void
test_scan_max_round(void)
{
  g_autofree char *dir = make_tmpdir();
  g_autofree char *rounds = g_build_filename(dir, "rounds", NULL);
  g_mkdir(rounds, 0755);
  write_file(rounds, "R7-20260101T000000.log", "");
  write_file(rounds, "R12-20260101T000000.log", "");
  write_file(rounds, "notes.txt", "");
  write_file(dir, "events-2026-01.jsonl",
             "{\"ts\":\"x\",\"event\":\"round_start\",\"round_num\":30,\"phase\":null}\n"
             "{\"ts\":\"x\",\"event\":\"max_rounds_reached\",\"rounds_completed\":99,"
             "\"max_rounds\":99}\n"
             "{\"ts\": \"x\", \"event\": \"round_end\", \"round_num\": 31}\n"
             "garbage line\n");
  g_assert_cmpuint(ard_state_scan_max_round(dir, FALSE), ==, 12);
  g_assert_cmpuint(ard_state_scan_max_round(dir, TRUE), ==, 31);
  ar_test_rm_rf(dir);
}

/* Without state.json the round number comes from the tail of the newest
 * events file that names a round: newer months first, lines longer than
 * the read-back block, a last line cut by a crash. */
static void
test_scan_max_round_tail(void)
{
  g_autofree char *dir = make_tmpdir();
  g_autoptr(GString) big = g_string_new(NULL);
  for (int i = 1; i <= 5000; i++)
    g_string_append_printf(big, "{\"ts\":\"x\",\"event\":\"round_start\",\"round_num\":%d}\n", i);
  /* A 200 KiB line after the last round line: wider than one block. */
  g_string_append(big, "{\"ts\":\"x\",\"event\":\"hook_failed\",\"note\":\"");
  for (int i = 0; i < 200 * 1024; i++)
    g_string_append_c(big, 'a');
  g_string_append(big, "\"}\n{\"ts\":\"x\",\"event\":\"round_end\",\"round_n");
  write_file(dir, "events-2026-02.jsonl", big->str);
  write_file(dir, "events-2026-01.jsonl",
             "{\"ts\":\"x\",\"event\":\"round_end\",\"round_num\":9000}\n");
  g_assert_cmpuint(ard_state_scan_max_round(dir, TRUE), ==, 5000);
  /* A newest month with no round yet: the month before answers. */
  write_file(dir, "events-2026-03.jsonl", "{\"ts\":\"x\",\"event\":\"daemon_start\"}\n");
  g_assert_cmpuint(ard_state_scan_max_round(dir, TRUE), ==, 5000);
  /* A file of one line without a newline. */
  write_file(dir, "events-2026-04.jsonl", "{\"event\":\"agent_spawn\",\"round_num\":5001}");
  g_assert_cmpuint(ard_state_scan_max_round(dir, TRUE), ==, 5001);
  ar_test_rm_rf(dir);
}

static void
test_retention_transcripts(void)
{
  g_autofree char *dir = make_tmpdir();
  g_autofree char *rounds = g_build_filename(dir, "rounds", NULL);
  g_mkdir(rounds, 0755);
  for (int i = 1; i <= 12; i++) {
    g_autofree char *name = g_strdup_printf("R%d-20260101T000000.log", i);
    write_file(rounds, name, "x");
  }
  g_assert_cmpuint(ard_retention_prune_transcripts(dir, 0, NULL), ==, 0);
  /* The live one survives even when it is not among the newest. */
  g_assert_cmpuint(ard_retention_prune_transcripts(dir, 3, "R2-20260101T000000.log"), ==, 8);
  g_autoptr(GDir) d = g_dir_open(rounds, 0, NULL);
  guint n = 0;
  const char *name;
  while ((name = g_dir_read_name(d))) {
    guint r = ard_state_round_from_transcript_name(name);
    g_assert_true(r == 2 || r >= 10);
    n++;
  }
  g_assert_cmpuint(n, ==, 4);
  ar_test_rm_rf(dir);
}

static void
test_retention_events(void)
{
  g_autofree char *dir = make_tmpdir();
  write_file(dir, "events-2026-01.jsonl", "");
  write_file(dir, "events-2026-02.jsonl", "");
  write_file(dir, "events-2026-03.jsonl", "");
  write_file(dir, "events-2026-3.jsonl", ""); /* not ours */
  write_file(dir, "metrics-2020-01.jsonl", "");
  g_autoptr(GDateTime) now = g_date_time_new_utc(2026, 3, 20, 12, 0, 0);
  gint64 now_us = g_date_time_to_unix(now) * G_USEC_PER_SEC;
  g_assert_cmpuint(ard_retention_prune_events(dir, 0, now_us), ==, 0);
  /* 30 days back is Feb 18: January ended before that, February did not. */
  g_assert_cmpuint(ard_retention_prune_events(dir, 30, now_us), ==, 1);
  g_autofree char *jan = g_build_filename(dir, "events-2026-01.jsonl", NULL);
  g_autofree char *feb = g_build_filename(dir, "events-2026-02.jsonl", NULL);
  g_assert_false(g_file_test(jan, G_FILE_TEST_EXISTS));
  g_assert_true(g_file_test(feb, G_FILE_TEST_EXISTS));
  /* Even 1 day keeps the current month. */
  g_assert_cmpuint(ard_retention_prune_events(dir, 1, now_us), ==, 1);
  g_autofree char *mar = g_build_filename(dir, "events-2026-03.jsonl", NULL);
  g_assert_true(g_file_test(mar, G_FILE_TEST_EXISTS));
  ar_test_rm_rf(dir);
}

static void
test_lock_exclusive(void)
{
  g_autofree char *dir = make_tmpdir();
  g_autoptr(GError) error = NULL;
  ArdLock *lock = ard_lock_acquire(dir, &error);
  g_assert_no_error(error);
  g_assert_nonnull(lock);
  ArdLock *second = ard_lock_acquire(dir, &error);
  g_assert_null(second);
  g_assert_error(error, AR_ERROR, AR_ERROR_LOCKED);
  g_autofree char *pid = g_strdup_printf("pid %d,", (int)getpid());
  g_assert_nonnull(strstr(error->message, pid));
  g_clear_error(&error);
  ard_lock_release(lock);
  lock = ard_lock_acquire(dir, &error);
  g_assert_no_error(error);
  ard_lock_release(lock);
  ar_test_rm_rf(dir);
}

/* A child with a grandchild: the walk finds both; killing them leaves none. */
static void
test_reap_descendants(void)
{
  int ready[2];
  g_assert_cmpint(pipe(ready), ==, 0);
  pid_t child = fork();
  g_assert_cmpint(child, >=, 0);
  if (child == 0) {
    close(ready[0]);
    pid_t grandchild = fork();
    if (grandchild == 0) {
      pause();
      _exit(0);
    }
    (void)!write(ready[1], &grandchild, sizeof grandchild);
    pause();
    _exit(0);
  }
  close(ready[1]);
  pid_t grandchild = 0;
  g_assert_cmpint(read(ready[0], &grandchild, sizeof grandchild), ==, sizeof grandchild);
  close(ready[0]);
  g_autoptr(GArray) found = ard_reap_descendants(child);
  g_assert_cmpuint(found->len, ==, 1);
  g_assert_cmpint(g_array_index(found, pid_t, 0), ==, grandchild);
  g_autofree char *name = ard_reap_proc_name(child);
  g_assert_cmpstr(name, !=, "?");
  g_assert_cmpuint(ard_reap_signal_descendants(getpid(), 0, SIGKILL), >=, 2);
  int status;
  g_assert_cmpint(waitpid(child, &status, 0), ==, child);
  g_assert_true(WIFSIGNALED(status));
  g_assert_cmpstr(ard_reap_signal_name(SIGTERM), ==, "TERM");
}

/* One reading of AGENT_RUNNER_SKIP_STARTUP_CHECK for the battery and
 * Peek: only 1/true/yes/on (any case) skip. */
static void
test_skip_startup_checks(void)
{
  static const struct {
    const char *value; /* NULL: unset */
    gboolean skipped;
  } cases[] = {
    { NULL, FALSE },  { "", FALSE },   { "0", FALSE }, { "false", FALSE }, { "no", FALSE },
    { "off", FALSE }, { "2", FALSE },  { "1", TRUE },  { "true", TRUE },   { "TRUE", TRUE },
    { "yes", TRUE },  { "Yes", TRUE }, { "on", TRUE },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    if (cases[i].value)
      g_setenv("AGENT_RUNNER_SKIP_STARTUP_CHECK", cases[i].value, TRUE);
    else
      g_unsetenv("AGENT_RUNNER_SKIP_STARTUP_CHECK");
    g_assert_cmpint(ar_startup_checks_skipped(), ==, cases[i].skipped);
  }
  g_unsetenv("AGENT_RUNNER_SKIP_STARTUP_CHECK");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/daemon/scanner/lines", test_scanner_lines);
  g_test_add_func("/daemon/scanner/long-line", test_scanner_long_line);
  g_test_add_func("/daemon/state/transcript-names", test_transcript_names);
  g_test_add_func("/daemon/state/roundtrip", test_state_roundtrip);
  g_test_add_func("/daemon/state/scan-max-round", test_scan_max_round);
  g_test_add_func("/daemon/state/scan-max-round-tail", test_scan_max_round_tail);
  g_test_add_func("/daemon/retention/transcripts", test_retention_transcripts);
  g_test_add_func("/daemon/retention/events", test_retention_events);
  g_test_add_func("/daemon/lock/exclusive", test_lock_exclusive);
  g_test_add_func("/daemon/reap/descendants", test_reap_descendants);
  g_test_add_func("/daemon/startup-checks/skip", test_skip_startup_checks);
  return g_test_run();
}
