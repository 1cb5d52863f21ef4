/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Between two rounds: the stop triggers, the start-up battery, and what
 * the loop keeps of a finished round. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-prompt.h"
#include "ar-redact.h"
#include "ar-util.h"
#include "ard-between.h"

/* Excerpts of sentinel/stop-file content in events. */
#define EXCERPT_CHARS 200
/* crash_loop.reason: the end of the last transcript. */
#define CRASH_TAIL_CHARS 2000

static char *
read_excerpt(const char *path, gboolean *exists)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  *exists = g_file_test(path, G_FILE_TEST_EXISTS);
  if (!*exists || !g_file_get_contents(path, &text, &len, NULL))
    return g_strdup("");
  g_autofree char *valid = g_utf8_make_valid(text, len);
  g_strstrip(valid);
  return ar_redact_truncate(valid, EXCERPT_CHARS);
}

ArdTrigger
ard_between_check_triggers(const ArConfig *cfg, ArEmitter *emitter, guint rounds_completed,
                           guint max_rounds, char **why)
{
  gboolean exists = FALSE;
  g_autofree char *done_path = g_build_filename(cfg->log_dir, ARD_AGENT_DONE_FILE, NULL);
  g_autofree char *done_reason = read_excerpt(done_path, &exists);
  if (exists) {
    ar_emit(emitter, "agent_self_terminated", AR_EV_S("reason", done_reason), NULL);
    *why = g_strdup("agent_done");
    return ARD_TRIGGER_DONE;
  }
  g_autofree char *mstop_path = g_build_filename(cfg->log_dir, ARD_MONITOR_STOP_FILE, NULL);
  g_autofree char *mstop = read_excerpt(mstop_path, &exists);
  if (exists) {
    *why = g_strdup_printf("monitor_auto_stop:%s", mstop);
    return ARD_TRIGGER_MONITOR;
  }
  if (cfg->stop_file) {
    g_autofree char *content = read_excerpt(cfg->stop_file, &exists);
    if (exists) {
      ar_emit(emitter, "stop_file_detected", AR_EV_S("stop_file", cfg->stop_file),
              AR_EV_S("content", content), AR_EV_I("rounds_completed", rounds_completed), NULL);
      *why = g_strdup("stop_file");
      return ARD_TRIGGER_STOP_FILE;
    }
  }
  if (max_rounds > 0 && rounds_completed >= max_rounds) {
    ar_emit(emitter, "max_rounds_reached", AR_EV_I("rounds_completed", rounds_completed),
            AR_EV_I("max_rounds", max_rounds), NULL);
    *why = g_strdup("max_rounds");
    return ARD_TRIGGER_MAX_ROUNDS;
  }
  return ARD_TRIGGER_NONE;
}

gboolean
ard_between_explicit_start(const char *log_dir, gboolean clear_done)
{
  /* `agent-runner start` of an installed unit cannot pass --clear-done
   * through systemd; it leaves this marker instead, honoured once. */
  g_autofree char *start_marker = g_build_filename(log_dir, ".start-requested", NULL);
  if (unlink(start_marker) == 0)
    clear_done = TRUE;
  if (!clear_done)
    return FALSE;
  g_autofree char *done = g_build_filename(log_dir, ARD_AGENT_DONE_FILE, NULL);
  (void)unlink(done);
  g_autofree char *mstop = g_build_filename(log_dir, ARD_MONITOR_STOP_FILE, NULL);
  (void)unlink(mstop);
  return TRUE;
}

ArdBattery
ard_between_run_battery(const ArConfig *cfg, ArEmitter *emitter)
{
  if (ar_startup_checks_skipped())
    return ARD_BATTERY_OK;
  gboolean all_ok = TRUE;
  g_autoptr(GPtrArray) checks = ar_startup_checks(cfg, NULL, &all_ok);
  if (all_ok)
    return ARD_BATTERY_OK;
  g_autoptr(GString) names = g_string_new(NULL);
  for (guint i = 0; i < checks->len; i++) {
    ArCheck *c = g_ptr_array_index(checks, i);
    if (c->ok)
      continue;
    g_autofree char *reason = g_strdup_printf("%s: %s", c->name, c->detail ? c->detail : "");
    /* The Python tool's stderr line, kept for people grepping for it. */
    fprintf(stderr, "STARTUP FAIL: %s | how-to-fix: %s\n", reason, c->hint ? c->hint : "");
    ar_emit(emitter, "smoke_check_failed", AR_EV_S("reason", reason), NULL);
    g_string_append_printf(names, "%s%s", names->len ? ", " : "", c->name);
  }
  g_autofree char *reason = g_strdup_printf("startup checks failed: %s", names->str);
  guint64 free_bytes = 0;
  if (ar_check_dir_full(cfg->log_dir, &free_bytes)) {
    /* Not a broken config: a full disk, said as such (the events file may
     * not take this line; the journal, the bus and stderr do). */
    fprintf(stderr,
            _("DISK FULL: %s has %" PRIu64 " bytes free | how-to-fix: free "
              "space there (old rounds/ logs, events files), then run agent-runner "
              "start\n"),
            cfg->log_dir, free_bytes);
    ar_emit(emitter, "disk_full", AR_EV_S("path", cfg->log_dir), AR_EV_I("free_bytes", free_bytes),
            AR_EV_S("reason", reason), NULL);
    return ARD_BATTERY_DISK_FULL;
  }
  ar_emit(emitter, "config_broken", AR_EV_S("reason", reason), NULL);
  return ARD_BATTERY_BROKEN;
}

char *
ard_between_transcript_tail(const char *path)
{
  if (!path)
    return g_strdup("");
  g_auto(ArFd) fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return g_strdup("");
  /* Up to 4 bytes per character, so this many bytes hold 2000 of them;
   * plus the longest secret, so one cut at the start is redacted whole. */
  const off_t want = CRASH_TAIL_CHARS * 4 + (off_t)ar_redact_max_secret_len();
  off_t size = lseek(fd, 0, SEEK_END);
  off_t from = size > want ? size - want : 0;
  g_autofree char *buf = g_malloc(want + 1);
  ssize_t n = pread(fd, buf, want, from);
  if (n <= 0)
    return g_strdup("");
  g_autofree char *literal = ar_redact_literals_len(buf, (gsize)n);
  g_autofree char *valid = g_utf8_make_valid(literal, -1);
  glong chars = g_utf8_strlen(valid, -1);
  const char *start =
      chars > CRASH_TAIL_CHARS ? g_utf8_offset_to_pointer(valid, chars - CRASH_TAIL_CHARS) : valid;
  /* The emitter redacts free-text fields; redact here too so the text is
   * clean whatever sink gets it. */
  return ar_redact(start);
}

ArdRoundSummary *
ard_between_summarize(const ArdRoundResult *res)
{
  ArdRoundSummary *s = g_new0(ArdRoundSummary, 1);
  s->round_num = res->round_num;
  s->phase = g_strdup(res->phase);
  s->exit_code = res->exit_code;
  s->exit_cause = g_strdup(res->exit_cause);
  s->outcome = g_strdup(res->outcome);
  s->duration_s = res->duration_s;
  s->started_at = ar_utc_iso_ms(res->started_realtime_us);
  s->ended_at = ar_utc_iso_ms(res->ended_realtime_us);
  s->timed_out = res->timed_out || res->grace_killed || res->stalled;
  return s;
}

int
ard_between_round_mode_exit_code(const ArdRoundResult *res)
{
  if (res->term_signal)
    return 128 + res->term_signal;
  return res->exit_code & 0xff;
}
