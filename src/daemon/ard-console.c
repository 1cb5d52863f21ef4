#include "config.h"

#include <inttypes.h>

#include "ar-json.h"
#include "ard-console.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ar-util.h"

/* One line per notable event on stderr for a daemon in the foreground
 * (agent-runner serve / round): a person watching sees each round, each
 * wait and why, without reading the events file. Colour only when stderr
 * is a terminal. */

#define RED    "\033[31m"
#define GREEN  "\033[32m"
#define YELLOW "\033[33m"
#define RESET  "\033[0m"

static gboolean use_color;

static const char *
color(const char *sgr)
{
  return use_color ? sgr : "";
}

static void
print_line(const char *sgr, const char *text)
{
  char stamp[16];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  fprintf(stderr, "[%s] %s%s%s\n", stamp, color(sgr), text, color(sgr[0] ? RESET : ""));
}

/* "until 15:20 (1 h 2 min)", local time. */
static char *
until_text(gint64 epoch)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(epoch);
  g_autofree char *hhmm = t ? g_date_time_format(t, "%H:%M") : g_strdup("?");
  g_autofree char *in = ar_format_duration(MAX(epoch - g_get_real_time() / G_USEC_PER_SEC, 0));
  return g_strdup_printf(_("until %s (%s)"), hhmm, in);
}

typedef char *(*ConsoleFormat)(const ArEventKind *kind, JsonObject *p, const char **sgr);

static char *
fmt_round_start(const ArEventKind *kind, JsonObject *p, const char **sgr)
{
  const char *phase = ar_json_str(p, "phase");
  gint64 n = ar_json_int(p, "round_num", NULL);
  return phase ? g_strdup_printf(_("round %" PRId64 " started (phase %s)"), n, phase)
               : g_strdup_printf(_("round %" PRId64 " started"), n);
}

static char *
fmt_round_progress(const ArEventKind *kind, JsonObject *p, const char **sgr)
{
  g_autofree char *age = ar_format_duration((gint64)ar_json_double(p, "wall_age_s", NULL));
  return g_strdup_printf(_("round %" PRId64 " running for %s, %" PRId64 " KB of output"),
                         ar_json_int(p, "round_num", NULL), age,
                         ar_json_int(p, "log_size_kb", NULL));
}

static char *
fmt_round_end(const ArEventKind *kind, JsonObject *p, const char **sgr)
{
  const char *outcome = ar_json_str(p, "outcome");
  *sgr = g_strcmp0(outcome, "ok") == 0 ? GREEN : RED;
  g_autofree char *dur = ar_format_duration((gint64)(ar_json_double(p, "duration_s", NULL) + 0.5));
  return g_strdup_printf(_("round %" PRId64 " ended: %s (exit %" PRId64 ") after %s"),
                         ar_json_int(p, "round_num", NULL), outcome,
                         ar_json_int(p, "exit_code", NULL), dur);
}

static char *
fmt_transient(const ArEventKind *kind, JsonObject *p, const char **sgr)
{
  *sgr = YELLOW;
  const char *cls = ar_json_str(p, "classification");
  gboolean have = FALSE;
  gint64 until = ar_json_int(p, "throttled_until_epoch", &have);
  if (!have)
    return g_strdup_printf(_("round %" PRId64 ": %s from %s (%s)"),
                           ar_json_int(p, "round_num", NULL), cls, ar_json_str(p, "agent"),
                           ar_json_str(p, "action"));
  g_autofree char *when = until_text(until);
  return g_str_has_prefix(cls, "rate_limit")
             ? g_strdup_printf(_("waiting for the rate limit %s"), when)
             : g_strdup_printf(_("backing off after %s %s"), cls, when);
}

static char *
fmt_capped(const ArEventKind *kind, JsonObject *p, const char **sgr)
{
  *sgr = YELLOW;
  gint64 secs = (gint64)ar_json_double(p, "applied_sleep_s", NULL);
  g_autofree char *when = until_text(g_get_real_time() / G_USEC_PER_SEC + secs);
  return g_strdup_printf(_("backing off after %s %s"), ar_json_str(p, "classification"), when);
}

static char *
fmt_quota(const ArEventKind *kind, JsonObject *p, const char **sgr)
{
  *sgr = YELLOW;
  gboolean have = FALSE;
  gint64 until = ar_json_int(p, "throttled_until_epoch", &have);
  if (!have)
    return g_strdup_printf(_("%s quota exhausted, no reset time: stopping"),
                           ar_json_str(p, "agent"));
  g_autofree char *when = until_text(until);
  return g_strdup_printf(_("%s quota exhausted: waiting %s"), ar_json_str(p, "agent"), when);
}

static char *
fmt_message(const ArEventKind *kind, JsonObject *p, const char **sgr)
{
  if (kind->priority <= LOG_ERR)
    *sgr = RED;
  else if (kind->priority <= LOG_WARNING)
    *sgr = YELLOW;
  return ar_event_format_message(kind, p);
}

/* The events worth a line, and how each reads; the rest stay in the
 * events file and the journal. */
static const struct {
  const char *kind;
  ConsoleFormat format;
} console_kinds[] = {
  { "round_start", fmt_round_start },
  { "round_progress", fmt_round_progress },
  { "round_end", fmt_round_end },
  { "transient_error_detected", fmt_transient },
  { "transient_error_backoff_capped", fmt_capped },
  { "quota_exhausted", fmt_quota },
  { "transient_error_recovered", fmt_message },
  { "backoff_ended_early", fmt_message },
  { "auth_failed", fmt_message },
  { "serve_started", fmt_message },
  { "serve_stopping", fmt_message },
  { "smoke_check_failed", fmt_message },
  { "config_broken", fmt_message },
  { "crash_loop", fmt_message },
  { "agent_self_terminated", fmt_message },
  { "stop_file_detected", fmt_message },
  { "max_rounds_reached", fmt_message },
  { "round_timeout_kill", fmt_message },
  { "round_grace_kill", fmt_message },
  { "round_grace_extended", fmt_message },
  { "round_stalled", fmt_message },
  { "round_cancelled", fmt_message },
  { "orphan_stashed", fmt_message },
  { "config_reloaded", fmt_message },
  { "config_reload_failed", fmt_message },
  { "status_recovered", fmt_message },
};

static void
console_sink(const ArEventKind *kind, JsonObject *p, const char *json_line, gpointer user_data)
{
  for (gsize i = 0; i < G_N_ELEMENTS(console_kinds); i++) {
    if (!g_str_equal(kind->name, console_kinds[i].kind))
      continue;
    const char *sgr = "";
    g_autofree char *text = console_kinds[i].format(kind, p, &sgr);
    if (text)
      print_line(sgr, text);
    return;
  }
}

void
ard_console_attach(ArEmitter *emitter, ArdConsoleMode mode)
{
  gboolean tty = isatty(STDERR_FILENO);
  use_color = tty && g_getenv("NO_COLOR") == NULL && g_strcmp0(g_getenv("TERM"), "dumb") != 0;
  if (mode == ARD_CONSOLE_ALWAYS || (mode == ARD_CONSOLE_AUTO && tty))
    ar_emitter_add_sink(emitter, console_sink, NULL);
}
