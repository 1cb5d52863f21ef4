/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-console.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <glib/gi18n.h>

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

typedef char *(*ConsoleFormat)(const ArEvent *ev, const char **sgr);

static char *
fmt_round_start(const ArEvent *ev, const char **sgr)
{
  const char *phase = ar_event_get_string(ev, "phase");
  gint64 n = ar_event_get_int(ev, "round_num", NULL);
  return phase ? g_strdup_printf(_("round %" PRId64 " started (phase %s)"), n, phase)
               : g_strdup_printf(_("round %" PRId64 " started"), n);
}

static char *
fmt_round_progress(const ArEvent *ev, const char **sgr)
{
  g_autofree char *age = ar_format_duration((gint64)ar_event_get_number(ev, "wall_age_s", NULL));
  return g_strdup_printf(_("round %" PRId64 " running for %s, %" PRId64 " KB of output"),
                         ar_event_get_int(ev, "round_num", NULL), age,
                         ar_event_get_int(ev, "log_size_kb", NULL));
}

static char *
fmt_round_end(const ArEvent *ev, const char **sgr)
{
  const char *outcome = ar_event_get_string(ev, "outcome");
  *sgr = g_strcmp0(outcome, "ok") == 0 ? GREEN : RED;
  g_autofree char *dur =
      ar_format_duration((gint64)(ar_event_get_number(ev, "duration_s", NULL) + 0.5));
  return g_strdup_printf(_("round %" PRId64 " ended: %s (exit %" PRId64 ") after %s"),
                         ar_event_get_int(ev, "round_num", NULL), outcome,
                         ar_event_get_int(ev, "exit_code", NULL), dur);
}

static char *
fmt_transient(const ArEvent *ev, const char **sgr)
{
  *sgr = YELLOW;
  const char *cls = ar_event_get_string(ev, "classification");
  gboolean have = FALSE;
  gint64 until = ar_event_get_int(ev, "throttled_until_epoch", &have);
  if (!have)
    return g_strdup_printf(_("round %" PRId64 ": %s from %s (%s)"),
                           ar_event_get_int(ev, "round_num", NULL), cls,
                           ar_event_get_string(ev, "agent"), ar_event_get_string(ev, "action"));
  g_autofree char *when = until_text(until);
  return g_str_has_prefix(cls, "rate_limit")
             ? g_strdup_printf(_("waiting for the rate limit %s"), when)
             : g_strdup_printf(_("backing off after %s %s"), cls, when);
}

static char *
fmt_capped(const ArEvent *ev, const char **sgr)
{
  *sgr = YELLOW;
  gint64 secs = (gint64)ar_event_get_number(ev, "applied_sleep_s", NULL);
  g_autofree char *when = until_text(g_get_real_time() / G_USEC_PER_SEC + secs);
  return g_strdup_printf(_("backing off after %s %s"), ar_event_get_string(ev, "classification"),
                         when);
}

static char *
fmt_quota(const ArEvent *ev, const char **sgr)
{
  *sgr = YELLOW;
  gboolean have = FALSE;
  gint64 until = ar_event_get_int(ev, "throttled_until_epoch", &have);
  if (!have)
    return g_strdup_printf(_("%s quota exhausted, no reset time: stopping"),
                           ar_event_get_string(ev, "agent"));
  g_autofree char *when = until_text(until);
  return g_strdup_printf(_("%s quota exhausted: waiting %s"), ar_event_get_string(ev, "agent"),
                         when);
}

/* Every kind at notice priority or above gets a line: the table's
 * sentence, coloured by priority. */
static char *
fmt_message(const ArEvent *ev, const char **sgr)
{
  if (ev->kind->priority <= LOG_ERR)
    *sgr = RED;
  else if (ev->kind->priority <= LOG_WARNING)
    *sgr = YELLOW;
  return ar_event_format_message(ev->kind, ev->payload);
}

/* Kinds that read better in their own words. The round's lifecycle gets a
 * line at any priority: it is what a person watching follows. */
static const struct {
  const char *kind;
  ConsoleFormat format;
} console_formats[] = {
  { "round_start", fmt_round_start },
  { "round_progress", fmt_round_progress },
  { "round_end", fmt_round_end },
  { "transient_error_detected", fmt_transient },
  { "transient_error_backoff_capped", fmt_capped },
  { "quota_exhausted", fmt_quota },
};

static void
console_sink(const ArEvent *ev, gpointer user_data)
{
  ConsoleFormat format = ev->kind->priority <= LOG_NOTICE ? fmt_message : NULL;
  for (gsize i = 0; i < G_N_ELEMENTS(console_formats); i++) {
    if (g_str_equal(ev->kind->name, console_formats[i].kind))
      format = console_formats[i].format;
  }
  if (format == NULL)
    return;
  const char *sgr = "";
  g_autofree char *text = format(ev, &sgr);
  if (text)
    print_line(sgr, text);
}

void
ard_console_attach(ArEmitter *emitter, ArdConsoleMode mode)
{
  gboolean tty = isatty(STDERR_FILENO);
  use_color = tty && g_getenv("NO_COLOR") == NULL && g_strcmp0(g_getenv("TERM"), "dumb") != 0;
  if (mode == ARD_CONSOLE_ALWAYS || (mode == ARD_CONSOLE_AUTO && tty))
    ar_emitter_add_sink(emitter, console_sink, NULL);
}
