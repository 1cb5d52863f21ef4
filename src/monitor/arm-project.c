/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ar-json.h"
#include "ar-util.h"
#include "arm-monitor.h"

/* Per-project state, kept incrementally from the daemon's Event signals:
 * each event updates a few counters and the detectors are evaluated over
 * them. Nothing re-reads the history: at start-up the newest 200 events
 * the detectors read (the widest window is 10 rounds) are read backwards
 * from the end of the events files -- or, when the monitor may not read
 * them, taken from Peek's ring -- and replayed through the same code. The only file read is the
 * tail of a short failed round's transcript (bounded), for auth_fail_patterns. */

#define TRANSCRIPT_TAIL 8192

/* The Python tool's network patterns (monitor network_fail). */
static const char network_pattern[] =
    "connection refused|econnrefused|\\bdns\\b|name or service not known|"
    "connect(ion)? timed out|nodename nor servname|network (is )?unreachable|"
    "\\b50[023]\\b|bad gateway|service unavailable|internal server error|connection reset";

ArmProject *
arm_project_new(ArmMonitor *mon, const char *bus_name, const char *project)
{
  ArmProject *p = g_new0(ArmProject, 1);
  p->mon = mon;
  p->bus_name = g_strdup(bus_name);
  p->key = g_strdup(bus_name);
  p->name = g_strdup(project);
  p->repetitive = g_array_new(FALSE, FALSE, sizeof(guint));
  p->held = g_ptr_array_new_with_free_func(g_free);
  p->disk_pct = -1;
  p->mem_avail_mb = -1;
  return p;
}

void
arm_project_free(ArmProject *p)
{
  if (!p)
    return;
  sd_event_source_disable_unref(p->timer);
  sd_bus_slot_unref(p->match_slot);
  g_clear_pointer(&p->cfg, ar_config_unref);
  g_clear_pointer(&p->named_alerts, g_hash_table_unref);
  for (guint i = 0; i < G_N_ELEMENTS(p->immediate); i++)
    g_free(p->immediate[i]);
  for (guint i = 0; i < ARM_MAX_DETECTORS; i++)
    g_free(p->alerts[i].message);
  g_array_unref(p->repetitive);
  g_ptr_array_unref(p->held);
  g_clear_pointer(&p->start_lines, g_hash_table_unref);
  g_free(p->repetitive_tool);
  g_free(p->repetitive_target);
  g_free(p->throttle_class);
  g_free(p->throttle_agent);
  g_free(p->round_phase);
  g_free(p->last_head);
  g_free(p->log_dir);
  g_free(p->owner);
  g_free(p->bus_name);
  g_free(p->key);
  g_free(p->host);
  g_free(p->name);
  g_free(p);
}

sd_bus *
arm_project_bus(ArmProject *p)
{
  return p->remote ? p->remote->bus : p->mon->bus;
}

void
arm_project_set_config(ArmProject *p, const char *config_path, const char *log_dir)
{
  /* A remote project's paths are its host's: nothing local to read. */
  if (p->remote)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = ar_config_load(config_path, &error);
  if (cfg) {
    g_clear_pointer(&p->cfg, ar_config_unref);
    p->cfg = g_steal_pointer(&cfg);
  } else {
    /* The daemon runs with the config it loaded; the file may have been
     * edited since, or belong to a user the monitor cannot read as. */
    g_message(_("%s: cannot read its thresholds (%s); the detectors that need them stay quiet "
                "until it loads"),
              p->name, error->message);
  }
  g_free(p->log_dir);
  p->log_dir = g_strdup(log_dir && *log_dir ? log_dir : p->cfg ? p->cfg->log_dir : NULL);
}

/* ---- transcript tails (auth_fail_patterns, network) --------------------- */

static char *
transcript_tail(ArmProject *p, guint round_num)
{
  if (!p->log_dir)
    return NULL;
  g_autofree char *dir = g_build_filename(p->log_dir, "rounds", NULL);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  if (!d)
    return NULL;
  g_autofree char *prefix = g_strdup_printf("R%u-", round_num);
  const char *name;
  while ((name = g_dir_read_name(d))) {
    if (!g_str_has_prefix(name, prefix))
      continue;
    g_autofree char *path = g_build_filename(dir, name, NULL);
    FILE *f = fopen(path, "rb");
    if (!f)
      return NULL;
    char *buf = g_malloc0(TRANSCRIPT_TAIL + 1);
    if (fseek(f, -TRANSCRIPT_TAIL, SEEK_END) != 0)
      rewind(f);
    size_t n = fread(buf, 1, TRANSCRIPT_TAIL, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
  }
  return NULL;
}

static gboolean
tail_matches(const char *tail, const char *const *patterns)
{
  for (guint i = 0; tail && patterns && patterns[i]; i++) {
    g_autoptr(GRegex) re = g_regex_new(patterns[i], G_REGEX_CASELESS | G_REGEX_RAW, 0, NULL);
    if (re && g_regex_match(re, tail, 0, NULL))
      return TRUE;
  }
  return FALSE;
}

/* ---- events ------------------------------------------------------------- */

static void
push_exit(ArmProject *p, const ArmExit *e)
{
  if (p->n_exits < ARM_EXIT_WINDOW) {
    p->exits[(p->exits_head + p->n_exits) % ARM_EXIT_WINDOW] = *e;
    p->n_exits++;
  } else {
    p->exits[p->exits_head] = *e;
    p->exits_head = (p->exits_head + 1) % ARM_EXIT_WINDOW;
  }
}

static ArmExit *
newest_exit(ArmProject *p, guint round_num)
{
  if (p->n_exits == 0)
    return NULL;
  ArmExit *e = &p->exits[(p->exits_head + p->n_exits - 1) % ARM_EXIT_WINDOW];
  return e->round_num == round_num ? e : NULL;
}

static void
set_immediate(ArmProject *p, guint which, char *message)
{
  g_free(p->immediate[which]);
  p->immediate[which] = message;
}

static void
clear_throttle(ArmProject *p)
{
  p->throttled_until_s = 0;
  g_clear_pointer(&p->throttle_class, g_free);
  g_clear_pointer(&p->throttle_agent, g_free);
}

static void
on_round_start(ArmProject *p, JsonObject *o, gint64 ts_us)
{
  p->round_num = (guint)ar_json_int(o, "round_num", NULL);
  g_free(p->round_phase);
  p->round_phase = g_strdup(ar_json_str(o, "phase"));
  p->round_started_us = ts_us;
  p->round_orphaned = FALSE;
  p->round_dirty = FALSE;
  p->max_round = MAX(p->max_round, p->round_num);
  /* A new round means someone started the project again. */
  for (guint i = 0; i < G_N_ELEMENTS(p->immediate); i++)
    g_clear_pointer(&p->immediate[i], g_free);
}

static void
on_agent_exit(ArmProject *p, JsonObject *o)
{
  ArmExit e = { 0 };
  e.round_num = (guint)ar_json_int(o, "round_num", NULL);
  e.timed_out = ar_json_bool(o, "timed_out", FALSE);
  gint64 code = ar_json_int(o, "exit_code", NULL);
  double secs = ar_json_double(o, "duration_s", NULL);
  e.short_fail = code != 0 && !e.timed_out && secs < ARM_SHORT_EXIT_S;
  if (e.short_fail) {
    g_autofree char *tail = transcript_tail(p, e.round_num);
    const char *const net[] = { network_pattern, NULL };
    e.auth_match =
        tail_matches(tail, p->cfg ? (const char *const *)p->cfg->auth_fail_patterns : NULL);
    e.net_match = tail_matches(tail, net);
  }
  push_exit(p, &e);
}

static void
on_round_end(ArmProject *p, JsonObject *o)
{
  guint round_num = (guint)ar_json_int(o, "round_num", NULL);
  const char *outcome = ar_json_str(o, "outcome");
  ArmExit *e = newest_exit(p, round_num);
  if (e && e->short_fail && g_strcmp0(outcome, "auth_failure") == 0)
    e->auth_match = TRUE;
  if (e && e->short_fail && g_strcmp0(outcome, "network") == 0)
    e->net_match = TRUE;
  if (p->round_orphaned) {
    p->orphan_streak++;
    p->orphan_last_round = round_num;
  } else {
    p->orphan_streak = 0;
  }
  p->round_num = 0;
  p->round_started_us = 0;
}

static void
on_substrate_after(ArmProject *p, JsonObject *o)
{
  const char *head = ar_json_str(o, "git_head");
  /* An unborn HEAD (null) that stays unborn is no progress either. */
  if (p->seen_substrate && g_strcmp0(head, p->last_head) == 0 && !p->round_dirty)
    p->no_progress_streak++;
  else
    p->no_progress_streak = 0;
  g_free(p->last_head);
  p->last_head = g_strdup(head);
  p->seen_substrate = TRUE;
}

static void
on_transient(ArmProject *p, JsonObject *o)
{
  gboolean present = FALSE;
  gint64 until = ar_json_int(o, "throttled_until_epoch", &present);
  if (!present || until <= 0)
    until = ar_json_int(o, "reset_at_epoch", &present);
  if (!present || until <= 0)
    return;
  p->throttled_until_s = until;
  g_free(p->throttle_class);
  p->throttle_class = g_strdup(ar_json_str(o, "classification"));
  if (!p->throttle_class)
    p->throttle_class = g_strdup("quota_exhausted");
  g_free(p->throttle_agent);
  p->throttle_agent = g_strdup(ar_json_str(o, "agent"));
}

static void
on_repetitive(ArmProject *p, JsonObject *o)
{
  guint round_num = (guint)ar_json_int(o, "round_num", NULL);
  g_array_append_val(p->repetitive, round_num);
  g_free(p->repetitive_tool);
  p->repetitive_tool = g_strdup(ar_json_str(o, "tool_name"));
  g_free(p->repetitive_target);
  p->repetitive_target = g_strdup(ar_json_str(o, "target"));
  /* Keep only what the 5-round window can still see. */
  while (p->repetitive->len > 64)
    g_array_remove_index(p->repetitive, 0);
}

static gint64
datetime_us(GDateTime *dt)
{
  return g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
}

static gint64
event_time(JsonObject *o)
{
  const char *ts = ar_json_str(o, "ts");
  g_autoptr(GDateTime) dt = ts ? g_date_time_new_from_iso8601(ts, NULL) : NULL;
  return dt ? datetime_us(dt) : g_get_real_time();
}

void
arm_project_ingest(ArmProject *p, const char *kind, const char *json_line)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, json_line, -1, NULL))
    return;
  JsonNode *root = json_parser_get_root(parser);
  if (!JSON_NODE_HOLDS_OBJECT(root))
    return;
  JsonObject *o = json_node_get_object(root);
  gint64 ts_us = event_time(o);
  p->last_event_us = MAX(p->last_event_us, ts_us);

  if (g_str_equal(kind, "round_start")) {
    on_round_start(p, o, ts_us);
  } else if (g_str_equal(kind, "agent_exit")) {
    on_agent_exit(p, o);
  } else if (g_str_equal(kind, "agent_network_blip")) {
    ArmExit *e = newest_exit(p, (guint)ar_json_int(o, "round_num", NULL));
    if (e && e->short_fail)
      e->net_match = TRUE;
  } else if (g_str_equal(kind, "dirty_detected")) {
    p->round_dirty = TRUE;
  } else if (g_str_equal(kind, "orphan_stashed") || g_str_equal(kind, "orphan_idempotent_skip")) {
    p->round_orphaned = TRUE;
  } else if (g_str_equal(kind, "round_end")) {
    on_round_end(p, o);
  } else if (g_str_equal(kind, "round_substrate_after")) {
    on_substrate_after(p, o);
  } else if (g_str_equal(kind, "transient_error_detected")) {
    on_transient(p, o);
  } else if (g_str_equal(kind, "transient_error_recovered") ||
             g_str_equal(kind, "backoff_ended_early")) {
    /* Over at its end, or when an operator ended it early (Serve). */
    clear_throttle(p);
  } else if (g_str_equal(kind, "anomaly_repetitive_tool")) {
    on_repetitive(p, o);
  } else if (g_str_equal(kind, "crash_loop")) {
    set_immediate(p, ARM_IMM_CRASH,
                  g_strdup_printf(_("the agent crashed %" PRId64
                                    " times in a row (last exit %" PRId64 "); the service stopped"),
                                  ar_json_int(o, "consecutive", NULL),
                                  ar_json_int(o, "exit_code", NULL)));
  } else if (g_str_equal(kind, "auth_failed")) {
    set_immediate(p, ARM_IMM_AUTH,
                  g_strdup_printf(_("%s cannot authenticate: %s"), ar_json_str(o, "agent"),
                                  ar_json_str(o, "hint")));
  } else if (g_str_equal(kind, "quota_exhausted")) {
    gboolean has_reset = FALSE;
    ar_json_int(o, "reset_at_epoch", &has_reset);
    if (has_reset)
      on_transient(p, o);
    else
      set_immediate(p, ARM_IMM_QUOTA,
                    g_strdup_printf(_("%s's quota is exhausted; the service stopped"),
                                    ar_json_str(o, "agent")));
  } else if (g_str_equal(kind, "config_broken")) {
    set_immediate(p, ARM_IMM_CONFIG,
                  g_strdup_printf(_("the configuration is broken: %s"), ar_json_str(o, "reason")));
  } else if (g_str_equal(kind, "config_reloaded") && !p->replaying) {
    /* New thresholds apply from now on, as the daemon's own settings do. */
    g_autofree char *log_dir = g_strdup(p->log_dir);
    arm_project_set_config(p, ar_json_str(o, "config_path"), log_dir);
  } else if (g_str_equal(kind, "serve_started")) {
    p->stopping_seen = FALSE;
    p->vanished = FALSE;
  } else if (g_str_equal(kind, "serve_stopping")) {
    p->stopping_seen = TRUE;
  }
  arm_sinks_event(p, kind, json_line, o);
  if (!p->replaying)
    arm_alerts_evaluate(p);
}

/* ---- start-up from Peek ------------------------------------------------- */

void
arm_project_hold(ArmProject *p, const char *kind, const char *json_line)
{
  g_ptr_array_add(p->held, g_strconcat(kind, "\n", json_line, NULL));
}

/* The signals that came while Peek was on its way: those emitted before
 * the daemon answered are in the ring already (its ring sink runs before
 * its bus sink, and the reply follows them on the bus); the rest are new. */
static void
release_held(ArmProject *p, GHashTable *in_ring)
{
  g_autoptr(GPtrArray) held = g_steal_pointer(&p->held);
  p->held = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < held->len; i++) {
    char *kind = g_ptr_array_index(held, i);
    char *nl = strchr(kind, '\n');
    *nl = '\0';
    if (!in_ring || !g_hash_table_contains(in_ring, nl + 1))
      arm_project_ingest(p, kind, nl + 1);
    else
      /* Replayed into the detectors already, but it came live: the
       * foreground stream shows it all the same. */
      arm_sinks_line(p->mon, p->name, kind, nl + 1);
  }
}

/* The kinds the detectors read, and how many of the newest to replay at
 * start-up: 200 covers the widest window (10 rounds) with room to spare. */
static const char *const window_kinds[] = {
  "round_start",
  "agent_exit",
  "agent_network_blip",
  "dirty_detected",
  "orphan_stashed",
  "orphan_idempotent_skip",
  "round_end",
  "round_substrate_after",
  "transient_error_detected",
  "transient_error_recovered",
  "backoff_ended_early",
  "anomaly_repetitive_tool",
  "crash_loop",
  "auth_failed",
  "quota_exhausted",
  "config_broken",
  "serve_started",
  "serve_stopping",
  NULL,
};
#define WINDOW_EVENTS 200

/* The newest window_kinds lines of the events files, read backwards from
 * the end (ar_events_tail), so the cost does not grow with the history.
 * NULL when log_dir cannot be read (another user's project): then Peek's
 * ring is the start-up. */
static GPtrArray *
file_tail(ArmProject *p)
{
  if (!p->log_dir || g_access(p->log_dir, R_OK | X_OK) != 0)
    return NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) lines = ar_events_tail(p->log_dir, window_kinds, WINDOW_EVENTS, &error);
  if (!lines || lines->len == 0)
    return NULL;
  return g_steal_pointer(&lines);
}

/* Before a replay from the file: the detector inputs are rebuilt from it
 * (the alerts' states stay, so a condition that still holds does not
 * alert again). */
static void
reset_inputs(ArmProject *p)
{
  p->n_exits = 0;
  p->exits_head = 0;
  p->round_num = 0;
  p->round_started_us = 0;
  p->round_orphaned = p->round_dirty = FALSE;
  p->orphan_streak = p->orphan_last_round = 0;
  clear_throttle(p);
  p->max_round = 0;
  g_array_set_size(p->repetitive, 0);
  for (guint i = 0; i < G_N_ELEMENTS(p->immediate); i++)
    g_clear_pointer(&p->immediate[i], g_free);
  g_clear_pointer(&p->last_head, g_free);
  p->seen_substrate = FALSE;
  p->no_progress_streak = 0;
}

gboolean
arm_project_seen_at_start(ArmProject *p, const char *json_line)
{
  if (!p->start_lines)
    return FALSE;
  if (g_hash_table_contains(p->start_lines, json_line))
    return TRUE;
  /* Signals come in order: after the first new one, all are new. */
  g_clear_pointer(&p->start_lines, g_hash_table_unref);
  return FALSE;
}

/* monitor_started goes to the monitor's own journal entries (the
 * project's events are the daemon's to write) and to --mode events and
 * narrate, like the events it watches. */
static void
print_own_event(const ArEvent *event, gpointer user_data)
{
  ArmProject *p = user_data;
  arm_sinks_line(p->mon, p->name, event->kind->name, event->json_line);
}

/* Once per project and monitor run, when the monitor starts watching it
 * (its log_dir known from the daemon's properties when it answered). */
static void
emit_started(ArmProject *p)
{
  static const char *const modes[] = {
    [ARM_OUT_ALERTS] = "alerts",
    [ARM_OUT_EVENTS] = "events",
    [ARM_OUT_NARRATE] = "narrate",
    [ARM_OUT_NONE] = "service",
  };
  if (p->started_emitted)
    return;
  p->started_emitted = TRUE;
  g_autoptr(ArEmitter) em = ar_emitter_new(NULL, p->name);
  ar_emitter_set_journal(em, p->mon->opts.journal);
  ar_emitter_add_sink(em, print_own_event, p);
  ar_emit(em, "monitor_started", "host", AR_EV_NULL, AR_EV_I("interval_s", p->mon->opts.interval_s),
          AR_EV_S("log_dir", p->log_dir ? p->log_dir : ""),
          AR_EV_S("mode", modes[p->mon->opts.output]), NULL);
}

void
arm_project_load_peek(ArmProject *p, const char *peek_json)
{
  p->peek_pending = FALSE;
  emit_started(p);
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *doc = NULL;
  /* No answer (a frozen or vanished daemon): the file alone. */
  if (peek_json && json_parser_load_from_data(parser, peek_json, -1, NULL) &&
      JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
    doc = json_node_get_object(json_parser_get_root(parser));
  /* The events file holds every line a signal carried before Peek
   * answered (the file sink runs before the bus sink); Peek's ring only
   * this process's. */
  g_autoptr(GPtrArray) lines = file_tail(p);
  if (lines)
    reset_inputs(p);
  else if (doc) {
    /* A remote project after an outage: its daemon's ring holds what the
     * detectors saw before it as well as what came meanwhile. */
    if (p->remote)
      reset_inputs(p);
    lines = g_ptr_array_new_with_free_func(g_free);
    JsonArray *events = ar_json_array(doc, "recent_events");
    for (guint i = 0; events && i < json_array_get_length(events); i++) {
      JsonNode *n = json_array_get_element(events, i);
      if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
        g_ptr_array_add(lines, g_strdup(json_node_get_string(n)));
      else if (JSON_NODE_HOLDS_OBJECT(n))
        g_ptr_array_add(lines, json_to_string(n, FALSE));
    }
  }
  if (!lines)
    lines = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GHashTable) in_ring = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  p->replaying = TRUE;
  for (guint i = 0; i < lines->len; i++) {
    const char *line = g_ptr_array_index(lines, i);
    g_autofree char *kind = ar_event_line_kind(line, -1);
    if (kind)
      arm_project_ingest(p, kind, line);
    g_hash_table_add(in_ring, g_strdup(line));
  }
  p->replaying = FALSE;
  /* The ring may begin after the running round's round_start. */
  JsonObject *cur = doc ? ar_json_obj(doc, "current_round") : NULL;
  if (cur && ar_json_bool(cur, "running", FALSE) && p->round_num == 0) {
    p->round_num = (guint)ar_json_int(cur, "round_num", NULL);
    g_free(p->round_phase);
    p->round_phase = g_strdup(ar_json_str(cur, "phase"));
    const char *started = ar_json_str(cur, "started_at");
    g_autoptr(GDateTime) dt = started ? g_date_time_new_from_iso8601(started, NULL) : NULL;
    p->round_started_us = dt ? datetime_us(dt) : g_get_real_time();
  }
  gboolean present = FALSE;
  gint64 max_round = 0;
  JsonArray *last = doc ? ar_json_array(doc, "last_rounds") : NULL;
  if (last && json_array_get_length(last) > 0) {
    JsonObject *r = json_array_get_object_element(last, 0);
    max_round = ar_json_int(r, "round_num", &present);
  }
  p->max_round = MAX(p->max_round, (guint)MAX(max_round, 0));
  /* No event in the ring yet (a fresh daemon): count silence from now. */
  if (p->last_event_us == 0)
    p->last_event_us = g_get_real_time();
  release_held(p, in_ring);
  /* Lines read from the file may still come as signals after the answer. */
  g_clear_pointer(&p->start_lines, g_hash_table_unref);
  p->start_lines = g_steal_pointer(&in_ring);
  arm_alerts_evaluate(p);
  /* The first judgement of the detector hooks too: a round that ended
   * during the start-up came from the file, not as a trigger. */
  arm_sinks_judged(p);
}

/* ---- owner changes ------------------------------------------------------ */

void
arm_project_set_owner(ArmProject *p, const char *owner)
{
  g_free(p->owner);
  p->owner = g_strdup(owner && *owner ? owner : NULL);
  if (p->owner) {
    p->vanished = FALSE;
    p->stopping_seen = FALSE;
    p->last_event_us = g_get_real_time();
  } else {
    /* Gone without serve_stopping: killed, crashed, OOM. */
    p->vanished = !p->stopping_seen;
    p->round_num = 0;
    p->round_started_us = 0;
  }
  arm_alerts_evaluate(p);
}
