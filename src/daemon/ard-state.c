#include "config.h"

#include "ar-events.h"
#include "ar-json.h"
#include "ard-state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ar-util.h"

#define STATE_SCHEMA_VERSION 1

ArdRoundSummary *
ard_round_summary_copy(const ArdRoundSummary *s)
{
  if (!s)
    return NULL;
  ArdRoundSummary *c = g_new0(ArdRoundSummary, 1);
  *c = *s;
  c->phase = g_strdup(s->phase);
  c->exit_cause = g_strdup(s->exit_cause);
  c->outcome = g_strdup(s->outcome);
  c->started_at = g_strdup(s->started_at);
  c->ended_at = g_strdup(s->ended_at);
  return c;
}

void
ard_round_summary_free(ArdRoundSummary *s)
{
  if (!s)
    return;
  g_free(s->phase);
  g_free(s->exit_cause);
  g_free(s->outcome);
  g_free(s->started_at);
  g_free(s->ended_at);
  g_free(s);
}

JsonNode *
ard_round_summary_to_json(const ArdRoundSummary *s)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_int(b, "round_num", s->round_num);
  ar_json_add_str(b, "phase", s->phase);
  ar_json_add_int(b, "exit_code", s->exit_code);
  ar_json_add_str(b, "exit_cause", s->exit_cause);
  ar_json_add_str(b, "outcome", s->outcome);
  json_builder_set_member_name(b, "duration_s");
  json_builder_add_double_value(b, s->duration_s);
  ar_json_add_str(b, "started_at", s->started_at);
  ar_json_add_str(b, "ended_at", s->ended_at);
  json_builder_set_member_name(b, "timed_out");
  json_builder_add_boolean_value(b, s->timed_out);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

ArdRoundSummary *
ard_round_summary_from_json(JsonObject *o)
{
  ArdRoundSummary *s = g_new0(ArdRoundSummary, 1);
  s->round_num = (guint)CLAMP(ar_json_int(o, "round_num", NULL), 0, G_MAXUINT);
  s->phase = g_strdup(ar_json_str(o, "phase"));
  s->exit_code = (int)ar_json_int(o, "exit_code", NULL);
  s->exit_cause = g_strdup(ar_json_str(o, "exit_cause"));
  s->outcome = g_strdup(ar_json_str(o, "outcome"));
  JsonNode *d = json_object_get_member(o, "duration_s");
  if (d && JSON_NODE_HOLDS_VALUE(d))
    s->duration_s = json_node_get_double(d);
  s->started_at = g_strdup(ar_json_str(o, "started_at"));
  s->ended_at = g_strdup(ar_json_str(o, "ended_at"));
  s->timed_out = json_object_get_boolean_member_with_default(o, "timed_out", FALSE);
  return s;
}

ArdState *
ard_state_new(void)
{
  return g_new0(ArdState, 1);
}

void
ard_state_free(ArdState *state)
{
  if (!state)
    return;
  g_free(state->phase);
  g_free(state->stop_reason);
  ard_round_summary_free(state->last);
  g_clear_pointer(&state->throttle, json_node_unref);
  g_clear_pointer(&state->orphan, json_node_unref);
  g_clear_pointer(&state->round_procs, json_node_unref);
  g_free(state);
}

static gboolean
parse_state(const char *text, gsize len, ArdState *state)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, text, len, NULL))
    return FALSE;
  JsonNode *root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return FALSE;
  JsonObject *o = json_node_get_object(root);
  gboolean has_round = FALSE;
  gint64 round = ar_json_int(o, "round_num", &has_round);
  if (!has_round || round < 0 || round > G_MAXUINT)
    return FALSE;
  state->round_num = (guint)round;
  state->round_running = json_object_get_boolean_member_with_default(o, "round_running", FALSE);
  state->phase_index = (guint)CLAMP(ar_json_int(o, "phase_index", NULL), 0, G_MAXUINT);
  state->phase = g_strdup(ar_json_str(o, "phase"));
  state->crash_streak = (guint)CLAMP(ar_json_int(o, "crash_streak", NULL), 0, G_MAXUINT);
  state->stop_reason = g_strdup(ar_json_str(o, "stop_reason"));
  JsonNode *last = json_object_get_member(o, "last_round");
  if (last && JSON_NODE_HOLDS_OBJECT(last))
    state->last = ard_round_summary_from_json(json_node_get_object(last));
  JsonNode *n = json_object_get_member(o, "throttle");
  if (n && !JSON_NODE_HOLDS_NULL(n))
    state->throttle = json_node_copy(n);
  n = json_object_get_member(o, "orphan");
  if (n && !JSON_NODE_HOLDS_NULL(n))
    state->orphan = json_node_copy(n);
  n = json_object_get_member(o, "round_procs");
  if (n && JSON_NODE_HOLDS_OBJECT(n))
    state->round_procs = json_node_copy(n);
  return TRUE;
}

ArdState *
ard_state_load(const char *log_dir, gboolean *recovered, GError **error)
{
  *recovered = FALSE;
  g_autofree char *path = g_build_filename(log_dir, "state.json", NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  g_autoptr(ArdState) state = ard_state_new();
  if (!g_file_get_contents(path, &text, &len, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return g_steal_pointer(&state);
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  if (!parse_state(text, len, state)) {
    *recovered = TRUE;
    return ard_state_new();
  }
  return g_steal_pointer(&state);
}

gboolean
ard_state_save(const ArdState *state, const char *log_dir, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_int(b, "schema_version", STATE_SCHEMA_VERSION);
  ar_json_add_int(b, "round_num", state->round_num);
  json_builder_set_member_name(b, "round_running");
  json_builder_add_boolean_value(b, state->round_running);
  ar_json_add_int(b, "phase_index", state->phase_index);
  ar_json_add_str(b, "phase", state->phase);
  ar_json_add_int(b, "crash_streak", state->crash_streak);
  ar_json_add_str(b, "stop_reason", state->stop_reason);
  json_builder_set_member_name(b, "last_round");
  if (state->last)
    json_builder_add_value(b, ard_round_summary_to_json(state->last));
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "throttle");
  if (state->throttle)
    json_builder_add_value(b, json_node_copy(state->throttle));
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "orphan");
  if (state->orphan)
    json_builder_add_value(b, json_node_copy(state->orphan));
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "round_procs");
  if (state->round_procs)
    json_builder_add_value(b, json_node_copy(state->round_procs));
  else
    json_builder_add_null_value(b);
  g_autofree char *now = ar_utc_iso_ms(g_get_real_time());
  ar_json_add_str(b, "updated_at", now);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  /* Shortest round-trip numbers, integers as integers (ar_json_pretty). */
  g_autofree char *text = ar_json_pretty(root);
  g_autofree char *withnl = g_strconcat(text, "\n", NULL);
  g_autofree char *path = g_build_filename(log_dir, "state.json", NULL);
  return ar_write_file_atomic_mode(path, withnl, -1, 0600, error);
}

guint
ard_state_round_from_transcript_name(const char *name)
{
  if (name[0] != 'R' || !g_ascii_isdigit(name[1]))
    return 0;
  char *end = NULL;
  guint64 n = g_ascii_strtoull(name + 1, &end, 10);
  if (n == 0 || n > G_MAXUINT || (*end != '-' && *end != '.'))
    return 0;
  if (!g_str_has_suffix(end, ".log"))
    return 0;
  return (guint)n;
}

/* Round numbers that events mention. Cheap filter first (substring), JSON
 * parse only on candidate lines; run only when state.json was lost. */
static guint
scan_events_file(const char *path)
{
  FILE *f = fopen(path, "re");
  if (!f)
    return 0;
  guint max = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  g_autoptr(JsonParser) parser = json_parser_new();
  while ((n = getline(&line, &cap, f)) > 0) {
    if (!strstr(line, "\"round_num\""))
      continue;
    if (!strstr(line, "\"round_start\"") && !strstr(line, "\"round_end\"") &&
        !strstr(line, "\"agent_spawn\""))
      continue;
    if (!json_parser_load_from_data(parser, line, n, NULL))
      continue;
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
      continue;
    gint64 r = ar_json_int(json_node_get_object(root), "round_num", NULL);
    if (r > 0 && r <= G_MAXUINT && (guint)r > max)
      max = (guint)r;
  }
  free(line);
  fclose(f);
  return max;
}

guint
ard_state_scan_max_round(const char *log_dir, gboolean scan_events)
{
  guint max = 0;
  g_autofree char *rounds = g_build_filename(log_dir, "rounds", NULL);
  g_autoptr(GDir) dir = g_dir_open(rounds, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name(dir))) {
    guint n = ard_state_round_from_transcript_name(name);
    max = MAX(max, n);
  }
  if (!scan_events)
    return max;
  g_autoptr(GDir) ldir = g_dir_open(log_dir, 0, NULL);
  while (ldir && (name = g_dir_read_name(ldir))) {
    if (!g_str_has_prefix(name, "events-") || !g_str_has_suffix(name, ".jsonl"))
      continue;
    g_autofree char *path = g_build_filename(log_dir, name, NULL);
    max = MAX(max, scan_events_file(path));
  }
  return max;
}

gboolean
ard_write_file_replace(const char *path, const char *data, gssize len, GError **error)
{
  if (len < 0)
    len = strlen(data);
  g_autofree char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
  g_auto(ArFd) fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0)
    return ar_set_error_errno(error, errno, "create %s", tmp);
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int errsv = errno;
      (void)unlink(tmp);
      return ar_set_error_errno(error, errsv, "write %s", tmp);
    }
    data += n;
    len -= n;
  }
  if (rename(tmp, path) < 0) {
    int errsv = errno;
    (void)unlink(tmp);
    return ar_set_error_errno(error, errsv, "rename %s", path);
  }
  return TRUE;
}
