#include "config.h"

#include <inttypes.h>

#include "ar-json.h"
#include "ard-console.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ar-util.h"

static void
print_line(const char *text)
{
  char stamp[16];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
  fprintf(stderr, "[%s] %s\n", stamp, text);
}

static void
console_sink(const ArEventKind *kind, JsonObject *p, const char *json_line, gpointer user_data)
{
  const char *k = kind->name;
  g_autofree char *text = NULL;
  if (g_str_equal(k, "round_start")) {
    const char *phase = ar_json_str(p, "phase");
    text = phase
               ? g_strdup_printf(_("round %" PRId64 " started (phase %s)"),
                                 ar_json_int(p, "round_num", NULL), phase)
               : g_strdup_printf(_("round %" PRId64 " started"), ar_json_int(p, "round_num", NULL));
  } else if (g_str_equal(k, "round_progress")) {
    g_autofree char *age = ar_format_duration((gint64)ar_json_double(p, "wall_age_s", NULL));
    text = g_strdup_printf(_("round %" PRId64 " running for %s, %" PRId64 " KB of output"),
                           ar_json_int(p, "round_num", NULL), age,
                           ar_json_int(p, "log_size_kb", NULL));
  } else if (g_str_equal(k, "round_end")) {
    g_autofree char *dur =
        ar_format_duration((gint64)(ar_json_double(p, "duration_s", NULL) + 0.5));
    text = g_strdup_printf(_("round %" PRId64 " ended: %s (exit %" PRId64 ") after %s"),
                           ar_json_int(p, "round_num", NULL), ar_json_str(p, "outcome"),
                           ar_json_int(p, "exit_code", NULL), dur);
  } else if (g_str_equal(k, "serve_started") || g_str_equal(k, "serve_stopping") ||
             g_str_equal(k, "smoke_check_failed") || g_str_equal(k, "config_broken") ||
             g_str_equal(k, "crash_loop") || g_str_equal(k, "agent_self_terminated") ||
             g_str_equal(k, "stop_file_detected") || g_str_equal(k, "max_rounds_reached") ||
             g_str_equal(k, "round_timeout_kill") || g_str_equal(k, "round_grace_kill") ||
             g_str_equal(k, "round_grace_extended") || g_str_equal(k, "round_cancelled") ||
             g_str_equal(k, "config_reloaded") || g_str_equal(k, "config_reload_failed") ||
             g_str_equal(k, "status_recovered")) {
    text = ar_event_format_message(kind, p);
  }
  if (text)
    print_line(text);
}

void
ard_console_attach(ArEmitter *emitter, gboolean force)
{
  if (force || isatty(STDERR_FILENO))
    ar_emitter_add_sink(emitter, console_sink, NULL);
}
