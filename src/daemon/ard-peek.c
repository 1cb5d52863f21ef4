/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-peek.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ar-history.h"
#include "ar-json.h"
#include "ar-prompt.h"
#include "ar-redact.h"
#include "ar-util.h"
#include "ard-reaction.h"

struct ArdPeek {
  ArdLoop *loop;
  char *mode;
  gint64 started_mono_us;
  GQueue events; /* char *json_line, oldest first, <= ARD_PEEK_EVENTS */
};

/* ---- the defenses table ---------------------------------------------- */

typedef char *(*DefenseValue)(const ArConfig *cfg);
typedef const char *(*DefenseState)(const ArConfig *cfg);

typedef struct {
  const char *name;
  DefenseValue value;
  const char *prevents;
  DefenseState state;
} Defense;

static char *
v_round_timeout(const ArConfig *c)
{
  return g_strdup_printf("%u", c->round_timeout_s);
}
static char *
v_crash_loop(const ArConfig *c)
{
  return g_strdup_printf("stop after %d consecutive failing rounds shorter than %.0fs",
                         ARD_CRASH_LOOP_THRESHOLD, ARD_CRASH_SHORT_S);
}
static char *
v_pgroup(const ArConfig *c)
{
  return g_strdup("own session and process group per round; subreaper");
}
static char *
v_lock(const ArConfig *c)
{
  return g_build_filename(c->log_dir, "agent-runner.lock", NULL);
}
static char *
v_smoke(const ArConfig *c)
{
  return g_strdup("config, log_dir, agent CLI, git, prompt files");
}
static char *
v_grace(const ArConfig *c)
{
  return g_strdup_printf("%u", c->max_grace_after_result_s);
}
static char *
v_idle(const ArConfig *c)
{
  return g_strdup_printf("%u", c->idle_timeout_s);
}
static char *
v_atomic(const ArConfig *c)
{
  return g_strdup("tmp + fsync + rename");
}
static char *
v_redaction(const ArConfig *c)
{
  return g_strdup("secrets and free-text fields redacted before every sink");
}
static char *
v_retention(const ArConfig *c)
{
  return g_strdup_printf("%u transcripts, %u days of events", c->round_log_retention,
                         c->events_retention_days);
}
static char *
v_stop_intent(const ArConfig *c)
{
  return g_strdup(".agent-done, crash_loop and config_broken stay stopped across restarts");
}

static char *
v_backoff(const ArConfig *c)
{
  static const char *const actions[] = { "back_off", "skip", "stop" };
  return g_strdup_printf("transient_error_action=%s; reset time verbatim, else 60/30 s x2^n "
                         "capped at 30 min, jitter 5-30 s, at most 8 h",
                         actions[c->transient_error_action]);
}

static char *
v_auth_stop(const ArConfig *c)
{
  return g_strdup_printf("stop (exit %d) after %u auth failure(s) in a row", AR_EXIT_AUTH,
                         MAX(c->auth_fail_threshold, 1u));
}

static const char *
s_backoff(const ArConfig *c)
{
  return c->transient_error_action == AR_TRANSIENT_SKIP ? "off" : "active";
}

static const char *
s_active(const ArConfig *c)
{
  return "active";
}
static const char *
s_timeout(const ArConfig *c)
{
  return c->round_timeout_s ? "active" : "off";
}
static const char *
s_grace(const ArConfig *c)
{
  return c->max_grace_after_result_s ? "active" : "off";
}
static const char *
s_idle(const ArConfig *c)
{
  return c->idle_timeout_s ? "active" : "off";
}
static const char *
s_smoke(const ArConfig *c)
{
  return ar_startup_checks_skipped() ? "off" : "active";
}

static const Defense defenses[] = {
  { "round_timeout_s", v_round_timeout, "a stuck round running forever", s_timeout },
  { "crash_loop_breaker", v_crash_loop, "hundreds of empty rounds respawned by a crashing agent",
    s_active },
  { "process_group_isolation", v_pgroup, "descendants of the agent outliving its round", s_active },
  { "single_supervisor_lock", v_lock, "two supervisors corrupting one project", s_active },
  { "startup_smoke_check", v_smoke, "hours of silent rounds with a broken config or prompt",
    s_smoke },
  { "max_grace_after_result_s", v_grace, "an agent lingering after it reported its result",
    s_grace },
  { "idle_timeout_s", v_idle, "a round that produces no output for too long", s_idle },
  { "atomic_state_writes", v_atomic, "a crash leaving a half-written state file", s_active },
  { "secret_redaction", v_redaction, "secrets reaching a log, the journal or the bus", s_active },
  { "log_retention", v_retention, "logs filling the disk", s_active },
  { "deliberate_stop_sticks", v_stop_intent, "the unit resurrecting a deliberate stop", s_active },
  { "transient_backoff", v_backoff, "retrying into a rate limit or an outage", s_backoff },
  { "auth_failure_stop", v_auth_stop, "burning rounds on rejected credentials", s_active },
};

/* ---- ring buffer of events -------------------------------------------- */

static void
peek_sink(const ArEvent *ev, gpointer user_data)
{
  ArdPeek *peek = user_data;
  g_queue_push_tail(&peek->events, g_strdup(ev->json_line));
  while (g_queue_get_length(&peek->events) > ARD_PEEK_EVENTS)
    g_free(g_queue_pop_head(&peek->events));
}

ArdPeek *
ard_peek_new(ArdLoop *loop, const char *mode)
{
  ArdPeek *peek = g_new0(ArdPeek, 1);
  peek->loop = loop;
  peek->mode = g_strdup(mode);
  peek->started_mono_us = g_get_monotonic_time();
  g_queue_init(&peek->events);
  ar_emitter_add_sink(ard_loop_get_emitter(loop), peek_sink, peek);
  return peek;
}

void
ard_peek_free(ArdPeek *peek)
{
  if (!peek)
    return;
  ar_emitter_remove_sink(ard_loop_get_emitter(peek->loop), peek_sink, peek);
  g_queue_clear_full(&peek->events, g_free);
  g_free(peek->mode);
  g_free(peek);
}

/* x rounded to 1/scale (no libm for this). */
static double
round_to(double x, double scale)
{
  return (double)(gint64)(x * scale + (x >= 0 ? 0.5 : -0.5)) / scale;
}

/* ---- files and the system --------------------------------------------- */

GPtrArray *
ard_peek_file_tail(const char *path, guint n, gsize max_bytes)
{
  g_auto(ArFd) fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    return NULL;
  /* Read as far back as the longest secret value reaches: one cut by the
   * byte bound is then whole in the buffer and redacted, not half shown. */
  gsize len = MIN((gsize)st.st_size, max_bytes + ar_redact_max_secret_len());
  off_t from = st.st_size - (off_t)len;
  g_autofree char *buf = g_malloc(len + 1);
  gsize got = 0;
  while (got < len) {
    ssize_t r = pread(fd, buf + got, len - got, from + (off_t)got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    got += (gsize)r;
  }
  /* The transcript is the agent's raw output: every line served leaves
   * through the redactor, the registered values over the whole buffer
   * (a value may hold a newline), the patterns line by line. */
  g_autofree char *clean = ar_redact_literals_len(buf, got);
  char *start_of_buf = clean;
  char *end = clean + strlen(clean);
  GPtrArray *lines = g_ptr_array_new_with_free_func(g_free);
  if (end > start_of_buf && end[-1] == '\n')
    end--;
  /* Walk back n line starts; a line cut by the byte bound is dropped
   * unless the read began at the start of the file. */
  while (lines->len < n && end > start_of_buf) {
    char *start = end;
    while (start > start_of_buf && start[-1] != '\n')
      start--;
    if (start == start_of_buf && from > 0)
      break;
    g_autofree char *raw = g_strndup(start, (gsize)(end - start));
    g_ptr_array_insert(lines, 0, ar_redact(raw));
    end = start > start_of_buf ? start - 1 : start_of_buf;
  }
  return lines;
}

static char *
transcript_for_round(const char *log_dir, guint round_num)
{
  g_autofree char *dir = g_build_filename(log_dir, "rounds", NULL);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  if (!d)
    return NULL;
  g_autofree char *prefix = g_strdup_printf("R%u-", round_num);
  g_autofree char *best = NULL;
  for (const char *name; (name = g_dir_read_name(d));) {
    if (g_str_has_prefix(name, prefix) && g_str_has_suffix(name, ".log") &&
        (!best || strcmp(name, best) > 0)) {
      g_free(best);
      best = g_strdup(name);
    }
  }
  return best ? g_build_filename(dir, best, NULL) : NULL;
}

static gint64
meminfo_kb(const char *text, const char *key)
{
  const char *p = text ? strstr(text, key) : NULL;
  if (!p)
    return -1;
  return g_ascii_strtoll(p + strlen(key), NULL, 10);
}

static void
add_system(JsonBuilder *b, const char *log_dir)
{
  json_builder_set_member_name(b, "system");
  json_builder_begin_object(b);
  g_autofree char *mem = NULL;
  (void)g_file_get_contents("/proc/meminfo", &mem, NULL, NULL);
  gint64 total = meminfo_kb(mem, "MemTotal:");
  gint64 avail = meminfo_kb(mem, "MemAvailable:");
  json_builder_set_member_name(b, "mem_total_mb");
  if (total >= 0)
    json_builder_add_int_value(b, total / 1024);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "mem_available_mb");
  if (avail >= 0)
    json_builder_add_int_value(b, avail / 1024);
  else
    json_builder_add_null_value(b);
  struct statvfs vfs;
  gboolean have_vfs = statvfs(log_dir, &vfs) == 0 && vfs.f_blocks > 0;
  json_builder_set_member_name(b, "disk_used_pct");
  if (have_vfs)
    json_builder_add_double_value(
        b, round_to(100.0 * (double)(vfs.f_blocks - vfs.f_bfree) / (double)vfs.f_blocks, 10.0));
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "disk_free_gb");
  if (have_vfs)
    json_builder_add_double_value(
        b, round_to((double)vfs.f_bavail * (double)vfs.f_frsize / 1e9, 100.0));
  else
    json_builder_add_null_value(b);
  double load[3] = { 0 };
  gboolean have_load = getloadavg(load, 3) == 3;
  const char *names[] = { "load_1m", "load_5m", "load_15m" };
  for (int i = 0; i < 3; i++) {
    json_builder_set_member_name(b, names[i]);
    if (have_load)
      json_builder_add_double_value(b, load[i]);
    else
      json_builder_add_null_value(b);
  }
  json_builder_end_object(b);
}

/* ---- the document ------------------------------------------------------ */

static void
member_time(JsonBuilder *b, const char *name, gint64 realtime_us)
{
  g_autofree char *iso = realtime_us > 0 ? ar_utc_iso_ms(realtime_us) : NULL;
  ar_json_add_str(b, name, iso);
}

static void
add_log(JsonBuilder *b, const char *log_path, guint log_tail, gboolean withheld)
{
  ar_json_add_str(b, "log_path", log_path);
  if (withheld) {
    /* Said, not silently empty: the caller knows to ask for access. */
    json_builder_set_member_name(b, "log_withheld");
    json_builder_add_boolean_value(b, TRUE);
    log_tail = 0;
  }
  json_builder_set_member_name(b, "log_tail");
  g_autoptr(GPtrArray) tail =
      log_tail && log_path ? ard_peek_file_tail(log_path, MIN(log_tail, ARD_PEEK_MAX_LOG_TAIL),
                                                ARD_PEEK_TAIL_MAX_BYTES)
                           : NULL;
  if (!tail) {
    json_builder_add_null_value(b);
    return;
  }
  json_builder_begin_array(b);
  for (guint i = 0; i < tail->len; i++)
    json_builder_add_string_value(b, g_ptr_array_index(tail, i));
  json_builder_end_array(b);
}

static void
add_summary(JsonBuilder *b, const ArdRoundSummary *s)
{
  json_builder_begin_object(b);
  ar_json_add_int(b, "round_num", s->round_num);
  ar_json_add_str(b, "phase", s->phase);
  ar_json_add_str(b, "outcome", s->outcome);
  ar_json_add_int(b, "exit_code", s->exit_code);
  json_builder_set_member_name(b, "duration_s");
  json_builder_add_double_value(b, s->duration_s);
  ar_json_add_str(b, "started_at", s->started_at);
  ar_json_add_str(b, "ended_at", s->ended_at);
  json_builder_end_object(b);
}

static const ArdRoundSummary *
find_summary(const ArdStatus *st, guint round_num)
{
  for (GList *l = st->recent.head; l; l = l->next) {
    const ArdRoundSummary *s = l->data;
    if (s->round_num == round_num)
      return s;
  }
  return NULL;
}

static void
add_current_round(ArdPeek *peek, JsonBuilder *b, const ArdPeekOptions *opts)
{
  const ArdStatus *st = ard_loop_get_status(peek->loop);
  const ArConfig *cfg = ard_loop_get_config(peek->loop);
  json_builder_set_member_name(b, "current_round");
  gboolean running = st->round_started_at_us > 0;
  guint round_num = ard_status_round_num(st);
  if (opts->round && !(running && opts->round == round_num)) {
    /* A finished round from memory (the last ARD_RECENT_ROUNDS). */
    const ArdRoundSummary *s = find_summary(st, opts->round);
    g_autofree char *path = transcript_for_round(cfg->log_dir, opts->round);
    /* A round of an earlier run: its events tell what memory cannot
     * (read backwards, bounded by how far back the round is). */
    g_autoptr(JsonObject) h =
        s ? NULL : ar_history_round(cfg->log_dir, opts->round, MAX(round_num, opts->round));
    if (!s && !path && !h) {
      json_builder_add_null_value(b);
      return;
    }
    json_builder_begin_object(b);
    ar_json_add_int(b, "round_num", opts->round);
    ar_json_add_str(b, "phase", s ? s->phase : ar_json_str(h, "phase"));
    ar_json_add_str(b, "started_at", s ? s->started_at : ar_json_str(h, "started_at"));
    ar_json_add_str(b, "ended_at", s ? s->ended_at : ar_json_str(h, "ended_at"));
    json_builder_set_member_name(b, "agent_pid");
    json_builder_add_null_value(b);
    json_builder_set_member_name(b, "elapsed_s");
    gboolean have_d = FALSE;
    double hd = ar_json_double(h, "duration_s", &have_d);
    if (s || have_d)
      json_builder_add_double_value(b, s ? s->duration_s : hd);
    else
      json_builder_add_null_value(b);
    json_builder_set_member_name(b, "running");
    json_builder_add_boolean_value(b, FALSE);
    ar_json_add_str(b, "outcome", s ? s->outcome : ar_json_str(h, "outcome"));
    json_builder_set_member_name(b, "exit_code");
    gboolean have_x = FALSE;
    gint64 hx = ar_json_int(h, "exit_code", &have_x);
    if (s || have_x)
      json_builder_add_int_value(b, s ? s->exit_code : hx);
    else
      json_builder_add_null_value(b);
    add_log(b, path, opts->log_tail, opts->log_withheld);
    json_builder_end_object(b);
    return;
  }
  if (!running) {
    json_builder_add_null_value(b);
    return;
  }
  g_autofree char *path = transcript_for_round(cfg->log_dir, round_num);
  json_builder_begin_object(b);
  ar_json_add_int(b, "round_num", round_num);
  ar_json_add_str(b, "phase", ard_status_phase(st));
  member_time(b, "started_at", st->round_started_at_us);
  json_builder_set_member_name(b, "agent_pid");
  if (st->agent_pid > 0)
    json_builder_add_int_value(b, st->agent_pid);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "elapsed_s");
  json_builder_add_double_value(
      b, round_to((double)(g_get_real_time() - st->round_started_at_us) / 1e6, 10.0));
  json_builder_set_member_name(b, "running");
  json_builder_add_boolean_value(b, TRUE);
  ar_json_add_str(b, "outcome", NULL);
  add_log(b, path, opts->log_tail, opts->log_withheld);
  json_builder_end_object(b);
}

static void
add_defenses(JsonBuilder *b, const ArConfig *cfg)
{
  json_builder_set_member_name(b, "defenses");
  json_builder_begin_array(b);
  for (gsize i = 0; i < G_N_ELEMENTS(defenses); i++) {
    g_autofree char *value = defenses[i].value(cfg);
    json_builder_begin_object(b);
    ar_json_add_str(b, "name", defenses[i].name);
    ar_json_add_str(b, "value", value);
    ar_json_add_str(b, "prevents", defenses[i].prevents);
    ar_json_add_str(b, "state", defenses[i].state(cfg));
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
}

/* {until, throttled_until, until_epoch, classification, agent,
 * since_round, reason}, null when no back-off is pending. */
static void
add_throttle(JsonBuilder *b, const ArdThrottle *t)
{
  json_builder_set_member_name(b, "throttle");
  if (t->until_us <= 0) {
    json_builder_add_null_value(b);
    return;
  }
  g_autofree char *until = ar_utc_iso_ms(t->until_us);
  json_builder_begin_object(b);
  /* throttled_until is the schema 2.0 name, kept for older clients. */
  const char *names[] = { "until", "throttled_until" };
  for (gsize i = 0; i < G_N_ELEMENTS(names); i++) {
    ar_json_add_str(b, names[i], until);
  }
  ar_json_add_int(b, "until_epoch", t->until_us / G_USEC_PER_SEC);
  ar_json_add_str(b, "classification", t->classification);
  ar_json_add_str(b, "agent", t->agent ? t->agent : "");
  ar_json_add_int(b, "since_round", t->since_round);
  ar_json_add_str(b, "reason", t->reason ? t->reason : "");
  json_builder_end_object(b);
}

/* The last round's agent_usage_recorded figures ({recorded: true, ...})
 * or why there are none ({recorded: false, reason}); null before the
 * first round of this process. */
static void
add_usage(JsonBuilder *b, const ArdUsage *u)
{
  json_builder_set_member_name(b, "usage");
  if (!u->present) {
    json_builder_add_null_value(b);
    return;
  }
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "recorded");
  json_builder_add_boolean_value(b, u->recorded);
  ar_json_add_int(b, "round_num", u->round_num);
  if (!u->recorded) {
    ar_json_add_str(b, "reason", u->reason);
    json_builder_end_object(b);
    return;
  }
  const struct {
    const char *name;
    gint64 value;
  } ints[] = {
    { "input_tokens", u->input_tokens },   { "output_tokens", u->output_tokens },
    { "cached_tokens", u->cached_tokens }, { "cache_creation_tokens", u->cache_creation_tokens },
    { "duration_ms", u->duration_ms },     { "tool_call_count", u->tool_call_count },
  };
  ar_json_add_str(b, "agent", u->agent);
  json_builder_set_member_name(b, "model");
  if (u->model)
    json_builder_add_string_value(b, u->model);
  else
    json_builder_add_null_value(b);
  for (gsize i = 0; i < G_N_ELEMENTS(ints); i++) {
    ar_json_add_int(b, ints[i].name, ints[i].value);
  }
  json_builder_set_member_name(b, "cost_usd");
  if (u->has_cost)
    json_builder_add_double_value(b, u->cost_usd);
  else
    json_builder_add_null_value(b);
  json_builder_set_member_name(b, "success");
  json_builder_add_boolean_value(b, u->success);
  json_builder_end_object(b);
}

static void
add_recent_events(ArdPeek *peek, JsonBuilder *b, guint n)
{
  json_builder_set_member_name(b, "recent_events");
  json_builder_begin_array(b);
  guint len = g_queue_get_length(&peek->events);
  guint skip = n < len ? len - n : 0;
  guint i = 0;
  for (GList *l = peek->events.head; l; l = l->next, i++) {
    if (i < skip)
      continue;
    JsonNode *node = json_from_string(l->data, NULL);
    if (node)
      json_builder_add_value(b, node);
  }
  json_builder_end_array(b);
}

char *
ard_peek_to_json(ArdPeek *peek, const ArdPeekOptions *opts)
{
  const ArdStatus *st = ard_loop_get_status(peek->loop);
  const ArConfig *cfg = ard_loop_get_config(peek->loop);
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_str(b, "schema_version", ARD_PEEK_SCHEMA_VERSION);
  ar_json_add_str(b, "project", cfg->project);

  json_builder_set_member_name(b, "service");
  json_builder_begin_object(b);
  ar_json_add_str(b, "state", ard_run_state_to_string(st->state));
  if (st->state == ARD_RUN_WAITING_FOR_SECRET)
    ar_json_add_str(b, "waiting_for_secret", st->waiting_secret);
  ar_json_add_int(b, "pid", getpid());
  ar_json_add_int(b, "uptime_s", (g_get_monotonic_time() - peek->started_mono_us) / G_USEC_PER_SEC);
  ar_json_add_str(b, "config_path", cfg->config_path);
  ar_json_add_str(b, "work_dir", cfg->work_dir);
  ar_json_add_str(b, "log_dir", cfg->log_dir);
  ar_json_add_str(b, "mode", peek->mode);
  ar_json_add_str(b, "version", PACKAGE_VERSION);
  ar_json_add_int(b, "rounds_completed", st->rounds_completed);
  ar_json_add_int(b, "crash_streak", ard_status_crash_streak(st));
  member_time(b, "next_round_at", st->next_round_at_us);
  ar_json_add_str(b, "stop_reason", ard_status_stop_reason(st));
  json_builder_end_object(b);

  add_current_round(peek, b, opts);

  json_builder_set_member_name(b, "last_rounds");
  json_builder_begin_array(b);
  for (GList *l = st->recent.tail; l; l = l->prev)
    add_summary(b, l->data);
  json_builder_end_array(b);

  add_defenses(b, cfg);

  add_throttle(b, ard_loop_get_throttle(peek->loop));
  add_usage(b, ard_loop_get_usage(peek->loop));
  json_builder_set_member_name(b, "orphan");
  JsonNode *orphan = ard_loop_get_orphan(peek->loop);
  if (orphan)
    json_builder_add_value(b, json_node_copy(orphan));
  else
    json_builder_add_null_value(b);

  add_system(b, cfg->log_dir);
  add_recent_events(peek, b, opts->events);

  json_builder_set_member_name(b, "plugins");
  json_builder_begin_object(b);
  json_builder_end_object(b);
  json_builder_end_object(b);

  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autoptr(GString) out = g_string_new(NULL);
  ar_json_append(out, root);
  return g_string_free(g_steal_pointer(&out), FALSE);
}
