/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ar-events.h"
#include "ar-json.h"
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

void
ard_state_save_or_warn(const ArdState *state, const char *log_dir)
{
  g_autoptr(GError) error = NULL;
  /* The in-memory state and the transcripts still keep round numbers
   * monotonic while this process lives. */
  if (!ard_state_save(state, log_dir, &error))
    g_warning("%s", error->message);
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

/* The round number of one events line, 0 if it names none: a
 * round_start, round_end or agent_spawn line (its kind read by the events
 * reader, then the JSON parser). */
static guint
round_of_event_line(JsonParser *parser, const char *line, gsize len)
{
  static const char *const round_kinds[] = { "round_start", "round_end", "agent_spawn", NULL };
  if (!ar_event_line_matches(line, (gssize)len, round_kinds))
    return 0;
  if (!json_parser_load_from_data(parser, line, (gssize)len, NULL))
    return 0;
  JsonNode *root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return 0;
  gint64 r = ar_json_int(json_node_get_object(root), "round_num", NULL);
  return r > 0 && r <= G_MAXUINT ? (guint)r : 0;
}

/* Block size of the backward read; a line longer than the window grows it. */
#define TAIL_BLOCK (64 * 1024)

/* The round number of the last round line of an events file, read from
 * its end backwards: rounds are numbered in the order they run and a
 * number is never reused, so the last one is the highest. Costs the tail
 * of the file, whatever its length (a partial last line, cut by a crash,
 * is skipped). */
static guint
scan_events_file_tail(const char *path)
{
  g_auto(ArFd) fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    return 0;
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GByteArray) win = g_byte_array_new(); /* bytes [pos, end of the unread part) */
  off_t pos = st.st_size;
  for (;;) {
    if (pos > 0) {
      gsize want = (gsize)MIN((off_t)TAIL_BLOCK, pos);
      guint old = win->len;
      g_byte_array_set_size(win, old + want);
      memmove(win->data + want, win->data, old);
      if (pread(fd, win->data, want, pos - (off_t)want) != (ssize_t)want)
        return 0;
      pos -= (off_t)want;
    }
    /* Complete lines, last first; end is just past the line's "\n". */
    gsize end = win->len;
    for (;;) {
      gsize line_end = end > 0 && win->data[end - 1] == '\n' ? end - 1 : end;
      const guint8 *nl = line_end > 0 ? memrchr(win->data, '\n', line_end) : NULL;
      /* No "\n" in front: the line may start in the part not read yet. */
      if (nl == NULL && pos > 0)
        break;
      gsize from = nl ? (gsize)(nl - win->data) + 1 : 0;
      guint r = round_of_event_line(parser, (const char *)win->data + from, line_end - from);
      if (r > 0)
        return r;
      if (from == 0)
        return 0;
      end = from;
    }
    g_byte_array_set_size(win, end);
  }
}

static gint
compare_names_desc(gconstpointer a, gconstpointer b)
{
  return -g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* The newest events files first (events-YYYY-MM.jsonl sort by name); the
 * first one that mentions a round has the highest round number. */
static guint
scan_events(const char *log_dir)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GDir) ldir = g_dir_open(log_dir, 0, NULL);
  const char *name;
  while (ldir && (name = g_dir_read_name(ldir))) {
    if (g_str_has_prefix(name, "events-") && g_str_has_suffix(name, ".jsonl"))
      g_ptr_array_add(names, g_strdup(name));
  }
  g_ptr_array_sort(names, compare_names_desc);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *path = g_build_filename(log_dir, g_ptr_array_index(names, i), NULL);
    guint r = scan_events_file_tail(path);
    if (r > 0)
      return r;
  }
  return 0;
}

guint
ard_state_scan_max_round(const char *log_dir, gboolean scan_events_files)
{
  guint max = 0;
  g_autofree char *rounds = g_build_filename(log_dir, "rounds", NULL);
  g_autoptr(GDir) dir = g_dir_open(rounds, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name(dir))) {
    guint n = ard_state_round_from_transcript_name(name);
    max = MAX(max, n);
  }
  if (!scan_events_files)
    return max;
  return MAX(max, scan_events(log_dir));
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

guint
ard_state_next_round_num(const ArdState *st, const char *log_dir, gboolean recovered)
{
  gboolean fresh = st->round_num == 0 || recovered;
  guint max = ard_state_scan_max_round(log_dir, fresh);
  return MAX(max, st->round_num) + 1;
}
