#include "config.h"

#include <inttypes.h>

#include "ard-console.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ar-util.h"

static gint64
get_int(JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_int(n) : 0;
}

static double
get_double(JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_double(n) : 0;
}

static const char *
get_str(JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member(o, name);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string(n);
}

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
    const char *phase = get_str(p, "phase");
    text = phase ? g_strdup_printf(_("round %" PRId64 " started (phase %s)"),
                                   get_int(p, "round_num"), phase)
                 : g_strdup_printf(_("round %" PRId64 " started"), get_int(p, "round_num"));
  } else if (g_str_equal(k, "round_progress")) {
    g_autofree char *age = ar_format_duration((gint64)get_double(p, "wall_age_s"));
    text = g_strdup_printf(_("round %" PRId64 " running for %s, %" PRId64 " KB of output"),
                           get_int(p, "round_num"), age, get_int(p, "log_size_kb"));
  } else if (g_str_equal(k, "round_end")) {
    g_autofree char *dur = ar_format_duration((gint64)(get_double(p, "duration_s") + 0.5));
    text = g_strdup_printf(_("round %" PRId64 " ended: %s (exit %" PRId64 ") after %s"),
                           get_int(p, "round_num"), get_str(p, "outcome"), get_int(p, "exit_code"),
                           dur);
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
