/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "ar-events.h"
#include "ar-redact.h"
#include "ar-test-util.h"

/* ---- helpers ---- */

/* The injectable clock: tests set it, the emitter reads it. */
static gint64 fake_now;

static gint64
fake_clock(void)
{
  return fake_now;
}

static gint64
utc_us(int y, int mo, int d, int h, int mi, double s)
{
  g_autoptr(GDateTime) dt = g_date_time_new_utc(y, mo, d, h, mi, s);
  return g_date_time_to_unix(dt) * G_USEC_PER_SEC + g_date_time_get_microsecond(dt);
}

typedef ArTestEvents Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
  ar_test_events_set_up(f, data);
  fake_now = utc_us(2026, 5, 17, 2, 13, 44.123);
  ar_emitter_set_clock(f->em, fake_clock);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
  ar_test_events_tear_down(f, data);
  ar_redact_clear_secrets();
}

static char *
read_events(Fixture *f, const char *month)
{
  g_autofree char *path = g_strdup_printf("%s/events-%s.jsonl", f->dir, month);
  char *contents = NULL;
  g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
  return contents;
}

static JsonObject *
parse_line(const char *line)
{
  g_autoptr(JsonParser) parser = json_parser_new();
  g_autoptr(GError) error = NULL;
  if (!json_parser_load_from_data(parser, line, -1, &error))
    g_error("not JSON: %s: %s", error->message, line);
  g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
  return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* ---- the table ---- */

static const char *const python_kinds[] = {
  "round_substrate_before",
  "fresh_eyes_round_triggered",
  "smoke_check_failed",
  "status_recovered",
  "hook_failed",
  "prompt_overwritten",
  "round_start",
  "agent_spawn",
  "round_progress",
  "round_grace_extended",
  "agent_exit",
  "agent_network_blip",
  "dirty_detected",
  "orphan_stashed",
  "orphan_idempotent_skip",
  "orphan_stash_failed",
  "dirty_auto_committed",
  "dirty_commit_failed",
  "round_grace_kill",
  "round_timeout_kill",
  "round_end",
  "transient_error_detected",
  "agent_usage_recorded",
  "anomaly_repetitive_tool",
  "round_substrate_after",
  "config_broken",
  "crash_loop",
  "agent_self_terminated",
  "stop_file_detected",
  "max_rounds_reached",
  "transient_error_backoff_capped",
  "transient_error_recovered",
  "serve_startup_hook_failed",
  "monitor_started",
  "monitor_alert_emitted",
  "monitor_auto_stop_triggered",
  "monitor_auto_stop_failed",
  "monitor_remote_blip",
  "monitor_remote_giveup",
  "service_upgraded",
  "package_upgraded",
  "service_upgrade_rolled_back",
  "service_upgrade_rollback_failed",
};

static const char *const new_kinds[] = {
  "serve_started",
  "serve_stopping",
  "round_stalled",
  "auth_failed",
  "quota_exhausted",
  "round_cancelled",
  "config_reloaded",
  "config_reload_failed",
  "backoff_ended_early",
  "monitor_alert_resolved",
  "round_leftovers_killed",
  "disk_full",
  "stale_index_lock_removed",
};

/* Issue 17 (the monitor on other hosts). */
static const char *const remote_kinds[] = { "monitor_remote_recovered" };

/* Issue 12 (secrets). */
static const char *const secret_kinds[] = { "waiting_for_secret", "log_permissions_tightened" };

static gboolean
is_identifier(const char *s)
{
  for (; *s; s++)
    if (!g_ascii_islower(*s) && !g_ascii_isdigit(*s) && *s != '_')
      return FALSE;
  return TRUE;
}

static void
test_table(void)
{
  gsize n;
  const ArEventKind *kinds = ar_event_kinds(&n);
  g_assert_cmpuint(n, ==,
                   G_N_ELEMENTS(python_kinds) + G_N_ELEMENTS(new_kinds) +
                       G_N_ELEMENTS(secret_kinds) + G_N_ELEMENTS(remote_kinds));
  for (gsize i = 0; i < G_N_ELEMENTS(remote_kinds); i++)
    g_assert_nonnull(ar_event_kind_lookup(remote_kinds[i]));
  for (gsize i = 0; i < G_N_ELEMENTS(secret_kinds); i++)
    g_assert_nonnull(ar_event_kind_lookup(secret_kinds[i]));
  g_assert_cmpuint(G_N_ELEMENTS(python_kinds), ==, 43);
  for (gsize i = 0; i < G_N_ELEMENTS(python_kinds); i++)
    g_assert_nonnull(ar_event_kind_lookup(python_kinds[i]));
  for (gsize i = 0; i < G_N_ELEMENTS(new_kinds); i++)
    g_assert_nonnull(ar_event_kind_lookup(new_kinds[i]));
  g_assert_null(ar_event_kind_lookup("sigterm_received"));
  g_assert_null(ar_event_kind_lookup(NULL));

  g_autoptr(GHashTable) ids = g_hash_table_new(g_str_hash, g_str_equal);
  for (gsize i = 0; i < n; i++) {
    const ArEventKind *k = &kinds[i];
    g_assert_true(ar_event_kind_lookup(k->name) == k);
    g_assert_true(is_identifier(k->name));
    g_assert_cmpuint(strlen(k->message_id), ==, 32);
    for (const char *c = k->message_id; *c; c++)
      g_assert_true(g_ascii_isdigit(*c) || (*c >= 'a' && *c <= 'f'));
    g_assert_true(g_hash_table_add(ids, (gpointer)k->message_id));
    g_assert_cmpint(k->priority, >=, LOG_ERR);
    g_assert_cmpint(k->priority, <=, LOG_DEBUG);
    g_assert_true(k->summary[0] && k->description[0] && k->message[0] && k->origin[0]);
    g_assert_cmpuint(ar_event_kind_n_fields(k), <, AR_EVENT_MAX_FIELDS);
    for (const ArEventField *f = k->fields; f->name; f++) {
      g_assert_true(is_identifier(f->name));
      g_assert_true(ar_event_kind_field(k, f->name) == f);
    }
    /* Every %{field} of the journal sentence is a field of the kind. */
    for (const char *p = strstr(k->message, "%{"); p; p = strstr(p + 1, "%{")) {
      const char *end = strchr(p, '}');
      g_assert_nonnull(end);
      g_autofree char *name = g_strndup(p + 2, end - p - 2);
      if (ar_event_kind_field(k, name) == NULL)
        g_error("%s: message uses unknown field %s", k->name, name);
    }
  }
}

/* Extended payloads keep the Python tool's fields first (append-only). */
static void
test_table_append_only(void)
{
  static const struct {
    const char *kind;
    const char *fields;
  } expected[] = {
    { "agent_exit",
      "round_num exit_code duration_s timed_out exit_cause cpu_user_s cpu_sys_s max_rss_kb" },
    { "dirty_detected", "round_num files count" },
    { "orphan_stashed", "round_num ref reason files" },
    { "round_end", "round_num outcome exit_code duration_s" },
    { "serve_started", "pid version config_path max_rounds" },
    { "auth_failed", "round_num agent raw hint" },
    { "quota_exhausted", "round_num agent raw reset_at_epoch throttled_until_epoch" },
    { "transient_error_detected",
      "classification agent reset_at_epoch round_num raw action throttled_until_epoch" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
    const ArEventKind *k = ar_event_kind_lookup(expected[i].kind);
    g_autoptr(GString) names = g_string_new(NULL);
    for (const ArEventField *f = k->fields; f->name; f++)
      g_string_append_printf(names, "%s%s", names->len ? " " : "", f->name);
    g_assert_cmpstr(names->str, ==, expected[i].fields);
  }
  g_assert_true(ar_event_field_is_free_text("raw"));
  g_assert_true(ar_event_field_is_free_text("traceback"));
  g_assert_false(ar_event_field_is_free_text("round_num"));
}

/* ---- the file sink ---- */

static void
test_line_format(Fixture *f, gconstpointer data)
{
  /* Given out of order: the file has the table's order. */
  g_assert_true(ar_emit(f->em, "round_end", AR_EV_D("duration_s", 812.4),
                        AR_EV_S("outcome", "clean"), AR_EV_I("exit_code", 0),
                        AR_EV_I("round_num", 3), NULL));
  fake_now += 1000; /* +1 ms */
  g_assert_true(
      ar_emit(f->em, "round_start", AR_EV_I("round_num", 4), AR_EV_S("phase", NULL), NULL));
  g_autofree char *text = read_events(f, "2026-05");
  g_assert_cmpstr(
      text, ==,
      "{\"ts\": \"2026-05-17T02:13:44.123Z\", \"event\": \"round_end\", \"round_num\": 3, "
      "\"outcome\": \"clean\", \"exit_code\": 0, \"duration_s\": 812.4}\n"
      "{\"ts\": \"2026-05-17T02:13:44.124Z\", \"event\": \"round_start\", \"round_num\": 4, "
      "\"phase\": null}\n");
  g_autofree char *expected_path = g_build_filename(f->dir, "events-2026-05.jsonl", NULL);
  g_assert_cmpstr(ar_emitter_get_path(f->em), ==, expected_path);
  ar_emitter_sync(f->em);
}

static void
test_payload_types(Fixture *f, gconstpointer data)
{
  const char *files[] = { "a.c", "dir/ü.c", NULL };
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "name");
  json_builder_add_string_value(b, "node");
  json_builder_set_member_name(b, "pid");
  json_builder_add_int_value(b, 42);
  json_builder_end_object(b);
  json_builder_end_array(b);
  g_autoptr(JsonNode) children = json_builder_get_root(b);
  g_autoptr(JsonArray) empty_array = json_array_new();
  g_autoptr(JsonNode) empty = json_node_init_array(json_node_alloc(), empty_array);

  g_assert_true(ar_emit(f->em, "dirty_detected", AR_EV_I("round_num", 1), AR_EV_SV("files", files),
                        AR_EV_I("count", 2), NULL));
  g_assert_true(ar_emit(f->em, "round_grace_extended", AR_EV_I("round_num", 1),
                        AR_EV_D("grace_s", 30.0), AR_EV_N("live_children", children),
                        AR_EV_N("ignored_children", empty), NULL));
  g_assert_true(ar_emit(f->em, "agent_usage_recorded", AR_EV_S("agent", "claude"),
                        AR_EV_S("model", "opus"), AR_EV_I("round_num", 1),
                        AR_EV_I("input_tokens", G_GINT64_CONSTANT(5000000000)),
                        AR_EV_I("output_tokens", 2), AR_EV_I("cached_tokens", 3), "cost_usd",
                        AR_EV_NULL, AR_EV_I("duration_ms", 4), AR_EV_N("models_breakdown", NULL),
                        AR_EV_I("cache_creation_tokens", 5), AR_EV_I("tool_call_count", 6),
                        AR_EV_S("phase", ""), AR_EV_B("success", TRUE), NULL));
  g_autofree char *text = read_events(f, "2026-05");
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 4);
  g_assert_cmpstr(lines[3], ==, "");

  g_autoptr(JsonObject) dirty = parse_line(lines[0]);
  JsonArray *fa = json_object_get_array_member(dirty, "files");
  g_assert_cmpuint(json_array_get_length(fa), ==, 2);
  g_assert_cmpstr(json_array_get_string_element(fa, 1), ==, "dir/ü.c");

  g_autoptr(JsonObject) grace = parse_line(lines[1]);
  g_assert_nonnull(strstr(lines[1], "\"grace_s\": 30.0,"));
  g_assert_nonnull(strstr(lines[1], "\"live_children\": [{\"name\": \"node\", \"pid\": 42}]"));
  g_assert_cmpuint(json_array_get_length(json_object_get_array_member(grace, "ignored_children")),
                   ==, 0);

  g_autoptr(JsonObject) usage = parse_line(lines[2]);
  g_assert_cmpint(json_object_get_int_member(usage, "input_tokens"), ==, 5000000000);
  g_assert_true(json_object_get_null_member(usage, "cost_usd"));
  g_assert_true(json_object_get_null_member(usage, "models_breakdown"));
  g_assert_true(json_object_get_boolean_member(usage, "success"));
  g_assert_cmpstr(json_object_get_string_member(usage, "phase"), ==, "");
}

static void
test_json_numbers(void)
{
  static const struct {
    double value;
    const char *text;
  } cases[] = {
    { 1.0, "1.0" },
    { 0.1, "0.1" },
    { 812.4, "812.4" },
    { 3600.0, "3600.0" },
    { -0.5, "-0.5" },
    { 0.0, "0.0" },
    { 1e16, "1e+16" },
    { 1.5e-7, "1.5e-07" },
    { 0.0001, "0.0001" },
    { 1.0 / 3, "0.3333333333333333" },
    { 123456789.0, "123456789.0" },
    { 2.5e300, "2.5e+300" },
    { NAN, "null" },
    { INFINITY, "null" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(JsonNode) node = json_node_init_double(json_node_alloc(), cases[i].value);
    g_autoptr(GString) out = g_string_new(NULL);
    ar_json_append(out, node);
    g_assert_cmpstr(out->str, ==, cases[i].text);
  }
}

static void
test_unicode_and_escapes(Fixture *f, gconstpointer data)
{
  g_assert_true(ar_emit(f->em, "serve_stopping",
                        AR_EV_S("reason", "héllo — 世界 🚀 \"q\" \\ \n\t\x01"), NULL));
  g_autofree char *text = read_events(f, "2026-05");
  g_assert_nonnull(strstr(text, "\"reason\": \"héllo — 世界 🚀 \\\"q\\\" \\\\ \\n\\t\\u0001\"}\n"));
  g_assert_null(strstr(text, "\\u00e9"));
  g_autoptr(JsonObject) o = parse_line(text);
  g_assert_cmpstr(json_object_get_string_member(o, "reason"), ==,
                  "héllo — 世界 🚀 \"q\" \\ \n\t\x01");
}

static void
test_unknown_kind(Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_test_expect_message("agent-runner-common", G_LOG_LEVEL_CRITICAL,
                        "*unknown event kind*no_such_kind*");
  g_assert_false(ar_emitter_emit(f->em, "no_such_kind", NULL, &error));
  g_test_assert_expected_messages();
  g_assert_nonnull(error);
  g_test_expect_message("agent-runner-common", G_LOG_LEVEL_CRITICAL, "*unknown event kind*");
  g_assert_false(ar_emit(f->em, "sigterm_received", NULL));
  g_test_assert_expected_messages();
  g_autoptr(GPtrArray) files = ar_events_list_files(f->dir, NULL);
  g_assert_cmpuint(files->len, ==, 0);
}

static void
test_field_checks(Fixture *f, gconstpointer data)
{
#ifdef NDEBUG
  g_test_skip("field checks are for debug builds");
  return;
#endif
  g_test_expect_message("agent-runner-common", G_LOG_LEVEL_WARNING,
                        "*round_cancelled*unknown field*bogus*");
  g_assert_true(
      ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", 1), AR_EV_S("bogus", "x"), NULL));
  g_test_assert_expected_messages();

  g_test_expect_message("agent-runner-common", G_LOG_LEVEL_WARNING,
                        "*round_cancelled*round_num*must be integer*");
  g_assert_true(ar_emit(f->em, "round_cancelled", AR_EV_S("round_num", "1"), NULL));
  g_test_assert_expected_messages();

  g_test_expect_message("agent-runner-common", G_LOG_LEVEL_WARNING,
                        "*round_end*required field*outcome*");
  g_assert_true(ar_emit(f->em, "round_end", AR_EV_I("round_num", 1), AR_EV_I("exit_code", 0),
                        AR_EV_D("duration_s", 1), NULL));
  g_test_assert_expected_messages();

  g_test_expect_message("agent-runner-common", G_LOG_LEVEL_WARNING,
                        "*dirty_detected*files*must be array of strings*");
  g_assert_true(ar_emit(f->em, "dirty_detected", AR_EV_I("round_num", 1), AR_EV_SV("files", NULL),
                        AR_EV_I("count", 0), NULL));
  g_test_assert_expected_messages();

  /* Nullable and optional fields raise nothing; integers are numbers. */
  g_assert_true(ar_emit(f->em, "transient_error_backoff_capped", AR_EV_S("classification", "x"),
                        AR_EV_S("agent", "claude"), AR_EV_I("requested_sleep_s", 10),
                        AR_EV_D("applied_sleep_s", 1800.0), NULL));

  /* Unknown fields are still written, after the known ones. */
  g_autofree char *text = read_events(f, "2026-05");
  g_assert_nonnull(
      strstr(text, "\"event\": \"round_cancelled\", \"round_num\": 1, \"bogus\": \"x\"}"));
  g_assert_nonnull(strstr(text, "\"files\": null,"));
}

static gint64 rollover_times[3];
static guint rollover_i;

static gint64
rollover_clock(void)
{
  return rollover_times[rollover_i++ % 3];
}

static void
test_month_rollover(Fixture *f, gconstpointer data)
{
  rollover_times[0] = utc_us(2025, 12, 31, 23, 59, 59.999);
  rollover_times[1] = utc_us(2026, 1, 1, 0, 0, 0.0);
  rollover_times[2] = utc_us(2026, 2, 1, 0, 0, 0.5);
  rollover_i = 0;
  ar_emitter_set_clock(f->em, rollover_clock);
  for (int i = 1; i <= 3; i++)
    g_assert_true(ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", i), NULL));

  g_autofree char *dec = read_events(f, "2025-12");
  g_autofree char *jan = read_events(f, "2026-01");
  g_autofree char *feb = read_events(f, "2026-02");
  g_assert_cmpstr(
      dec, ==,
      "{\"ts\": \"2025-12-31T23:59:59.999Z\", \"event\": \"round_cancelled\", \"round_num\": 1}\n");
  g_assert_cmpstr(
      jan, ==,
      "{\"ts\": \"2026-01-01T00:00:00.000Z\", \"event\": \"round_cancelled\", \"round_num\": 2}\n");
  g_assert_cmpstr(
      feb, ==,
      "{\"ts\": \"2026-02-01T00:00:00.500Z\", \"event\": \"round_cancelled\", \"round_num\": 3}\n");

  g_autoptr(GPtrArray) files = ar_events_list_files(f->dir, NULL);
  g_assert_cmpuint(files->len, ==, 3);
  g_assert_true(g_str_has_suffix(files->pdata[0], "events-2025-12.jsonl"));
  g_assert_true(g_str_has_suffix(files->pdata[2], "events-2026-02.jsonl"));
}

/* The file removed (e.g. compressed by hand) under an open emitter: the next
 * event recreates it instead of going into the unlinked inode. */
static void
test_file_replaced(Fixture *f, gconstpointer data)
{
  g_assert_true(ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", 1), NULL));
  g_autofree char *path = g_build_filename(f->dir, "events-2026-05.jsonl", NULL);
  g_assert_cmpint(g_unlink(path), ==, 0);
  g_assert_true(ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", 2), NULL));
  g_autofree char *text = read_events(f, "2026-05");
  g_assert_nonnull(strstr(text, "\"round_num\": 2"));
  g_assert_null(strstr(text, "\"round_num\": 1"));
}

/* A crash left half a line: our first line must not be glued to it. */
static void
test_fragment_terminated(Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename(f->dir, "events-2026-05.jsonl", NULL);
  g_assert_true(g_file_set_contents(path, "{\"ts\":\"x\",\"event\":\"round_st", -1, NULL));
  g_assert_true(ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", 1), NULL));
  g_autofree char *text = read_events(f, "2026-05");
  g_assert_true(g_str_has_suffix(text,
                                 "round_st\n{\"ts\": \"2026-05-17T02:13:44.123Z\", \"event\": "
                                 "\"round_cancelled\", \"round_num\": 1}\n"));
}

/* A full disk in the middle of a line: RLIMIT_FSIZE gives the same short
 * write, then EFBIG, without root or a small file system. */
static void
test_short_write_truncated(Fixture *f, gconstpointer data)
{
  g_assert_true(ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", 1), NULL));
  g_autofree char *path = g_build_filename(f->dir, "events-2026-05.jsonl", NULL);
  struct stat st;
  g_assert_cmpint(stat(path, &st), ==, 0);
  off_t before = st.st_size;
  struct rlimit old;
  g_assert_cmpint(getrlimit(RLIMIT_FSIZE, &old), ==, 0);
  struct rlimit tight = { .rlim_cur = before + 20, .rlim_max = old.rlim_max };
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &tight), ==, 0);
  g_test_expect_message("agent-runner-common", G_LOG_LEVEL_MESSAGE,
                        "events: Cannot write to the events file*");
  gboolean ok = ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", 2), NULL);
  g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &old), ==, 0);
  signal(SIGXFSZ, old_handler);
  g_test_assert_expected_messages();
  g_assert_false(ok);
  /* No fragment: the file is as it was. */
  g_assert_cmpint(stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_size, ==, before);
  g_assert_true(ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", 3), NULL));
  g_autofree char *text = read_events(f, "2026-05");
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 3); /* two lines and the empty tail */
  for (guint i = 0; i < 2; i++) {
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, lines[i], -1, NULL));
  }
  g_assert_nonnull(strstr(lines[1], "\"round_num\": 3"));
}

typedef struct {
  const char *dir;
  const char *tag;
} WriterArgs;

#define WRITER_EVENTS 1000

static gpointer
writer_thread(gpointer data)
{
  WriterArgs *a = data;
  g_autoptr(ArEmitter) em = ar_emitter_new(a->dir, "proj");
  ar_emitter_set_journal(em, FALSE);
  ar_emitter_set_clock(em, fake_clock);
  /* Long lines make a torn write likely if writes were not whole. */
  g_autofree char *filler = g_strnfill(3000, a->tag[0]);
  for (int i = 0; i < WRITER_EVENTS; i++) {
    g_autofree char *reason = g_strdup_printf("%s-%d-%s", a->tag, i, filler);
    ar_emit(em, "serve_stopping", AR_EV_S("reason", reason), NULL);
  }
  return NULL;
}

static void
test_two_writers(Fixture *f, gconstpointer data)
{
  WriterArgs a = { f->dir, "a" }, b = { f->dir, "b" };
  GThread *ta = g_thread_new("a", writer_thread, &a);
  GThread *tb = g_thread_new("b", writer_thread, &b);
  g_thread_join(ta);
  g_thread_join(tb);

  g_autofree char *text = read_events(f, "2026-05");
  g_assert_true(g_str_has_suffix(text, "\n"));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  guint next[2] = { 0, 0 };
  for (guint i = 0; lines[i] != NULL; i++) {
    /* An empty line is the documented worst case of the fragment repair
     * racing a writer that could not get the lock; a torn line is a bug. */
    if (lines[i][0] == '\0')
      continue;
    g_autoptr(JsonObject) o = parse_line(lines[i]);
    const char *reason = json_object_get_string_member(o, "reason");
    guint w = reason[0] == 'a' ? 0 : 1;
    g_autofree char *prefix = g_strdup_printf("%c-%u-", reason[0], next[w]);
    /* Each writer's lines are whole and in its own order. */
    g_assert_true(g_str_has_prefix(reason, prefix));
    next[w]++;
  }
  g_assert_cmpuint(next[0], ==, WRITER_EVENTS);
  g_assert_cmpuint(next[1], ==, WRITER_EVENTS);
}

static void
test_redaction_in_line(Fixture *f, gconstpointer data)
{
  ar_redact_add_secret("literal-secret-value");
  g_autofree char *long_reason = g_strnfill(500, 'x');
  g_assert_true(ar_emit(
      f->em, "hook_failed", AR_EV_S("hook_name", "h-literal-secret-value"),
      AR_EV_S("hook_kind", "pre_round"), AR_EV_S("error_type", "Error"),
      AR_EV_S("error_message", "failed with ANTHROPIC_API_KEY=sk-ant-api03-AAAAAAAAAAAAAAAAAAAA"),
      AR_EV_S("traceback", "curl -H 'Authorization: Bearer abcdefghijklmnopqrstu'"), NULL));
  g_assert_true(ar_emit(f->em, "agent_self_terminated", AR_EV_S("reason", long_reason), NULL));
  /* Cut after redaction: the secret near the limit never shows half. */
  g_autofree char *pad = g_strnfill(190, 'y');
  g_autofree char *near = g_strdup_printf("%s ghp_AbCdEfGhIjKlMnOpQrStUv12", pad);
  g_assert_true(ar_emit(f->em, "agent_self_terminated", AR_EV_S("reason", near), NULL));

  g_autofree char *text = read_events(f, "2026-05");
  g_assert_null(strstr(text, "sk-ant-api03"));
  g_assert_null(strstr(text, "abcdefghijklmnopqrstu"));
  g_assert_null(strstr(text, "literal-secret-value"));
  g_assert_null(strstr(text, "ghp_"));
  g_assert_nonnull(strstr(text, "\"hook_name\": \"h-<redacted>\""));
  g_assert_nonnull(strstr(text, "ANTHROPIC_API_KEY=<redacted>"));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_autoptr(JsonObject) cut = parse_line(lines[1]);
  g_assert_cmpuint(strlen(json_object_get_string_member(cut, "reason")), ==, 200);
}

typedef struct {
  guint calls;
  char *kind;
  char *line;
  char *file_at_call;
  const char *path;
} SinkSeen;

static void
record_sink(const ArEvent *ev, gpointer data)
{
  const ArEventKind *kind = ev->kind;
  JsonObject *payload = ev->payload;
  const char *json_line = ev->json_line;
  SinkSeen *s = data;
  s->calls++;
  g_free(s->kind);
  s->kind = g_strdup(kind->name);
  g_free(s->line);
  s->line = g_strdup(json_line);
  g_assert_cmpstr(json_object_get_string_member(payload, "raw"), ==, "TOKEN=<redacted>");
  g_free(s->file_at_call);
  g_file_get_contents(s->path, &s->file_at_call, NULL, NULL);
}

static void
test_extra_sinks(Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename(f->dir, "events-2026-05.jsonl", NULL);
  SinkSeen seen = { .path = path };
  ar_emitter_add_sink(f->em, record_sink, &seen);
  g_assert_true(ar_emit(f->em, "auth_failed", AR_EV_I("round_num", 2), AR_EV_S("agent", "claude"),
                        AR_EV_S("raw", "TOKEN=abc"), AR_EV_S("hint", "run claude login"), NULL));
  g_assert_cmpuint(seen.calls, ==, 1);
  g_assert_cmpstr(seen.kind, ==, "auth_failed");
  /* The sink gets the file's line without "\n", after the file has it. */
  g_autofree char *with_nl = g_strconcat(seen.line, "\n", NULL);
  g_assert_cmpstr(seen.file_at_call, ==, with_nl);

  ar_emitter_remove_sink(f->em, record_sink, &seen);
  g_assert_true(ar_emit(f->em, "round_cancelled", AR_EV_I("round_num", 2), NULL));
  g_assert_cmpuint(seen.calls, ==, 1);
  g_free(seen.kind);
  g_free(seen.line);
  g_free(seen.file_at_call);
}

static void
count_sink(const ArEvent *ev, gpointer data)
{
  (*(guint *)data)++;
}

/* No log dir: only the other sinks; no journald: still fine. */
static void
test_no_file_no_journal(void)
{
  g_autoptr(ArEmitter) em = ar_emitter_new(NULL, NULL);
  guint calls = 0;
  ar_emitter_add_sink(em, count_sink, &calls);
  ar_emitter_set_context(em, 7, "diverge");
  g_assert_true(ar_emit(em, "config_reloaded", AR_EV_S("config_path", "/x.toml"), NULL));
  g_assert_cmpuint(calls, ==, 1);
  g_assert_null(ar_emitter_get_path(em));
  ar_emitter_sync(em);
}

static void
test_missing_log_dir(void)
{
  g_autoptr(ArEmitter) em = ar_emitter_new("/nonexistent/agent-runner-test", "p");
  ar_emitter_set_journal(em, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) payload = json_object_new();
  json_object_set_string_member(payload, "config_path", "/x");
  g_assert_false(ar_emitter_emit(em, "config_reloaded", payload, &error));
  g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  /* The varargs form logs the failure once per streak. */
  g_assert_false(ar_emit(em, "config_reloaded", AR_EV_S("config_path", "/x"), NULL));
  g_assert_false(ar_emit(em, "config_reloaded", AR_EV_S("config_path", "/x"), NULL));
}

static void
test_journal_sink(Fixture *f, gconstpointer data)
{
  /* Whether or not journald listens here, emitting must succeed. */
  ar_emitter_set_journal(f->em, TRUE);
  ar_emitter_set_context(f->em, 3, "diverge");
  g_assert_true(ar_emit(f->em, "round_end", AR_EV_I("round_num", 3), AR_EV_S("outcome", "clean"),
                        AR_EV_I("exit_code", 0), AR_EV_D("duration_s", 1.5), NULL));
}

/* Parse journald's native datagram: NAME=value lines, or NAME, a newline,
 * a 64-bit little-endian length and the value (for values with newlines). */
static GHashTable *
parse_journal_datagram(const char *buf, gsize len)
{
  GHashTable *fields = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  const char *p = buf, *end = buf + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', end - p);
    g_assert_nonnull(nl);
    const char *eq = memchr(p, '=', nl - p);
    if (eq != NULL) {
      char *name = g_strndup(p, eq - p);
      if (g_hash_table_contains(fields, name))
        g_error("journal field %s sent twice", name);
      g_hash_table_insert(fields, name, g_strndup(eq + 1, nl - eq - 1));
      p = nl + 1;
      continue;
    }
    guint64 vlen = 0;
    for (int i = 7; i >= 0; i--)
      vlen = (vlen << 8) | (guint8)nl[1 + i];
    g_hash_table_insert(fields, g_strndup(p, nl - p), g_strndup(nl + 9, vlen));
    p = nl + 9 + vlen + 1;
  }
  return fields;
}

/* What journald would receive, seen from a socket of our own in a private
 * mount namespace (needs CAP_SYS_ADMIN, else skipped). */
static int
journal_fields_child(void)
{
  if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
      mount("tmpfs", "/run", "tmpfs", 0, NULL) < 0 ||
      g_mkdir_with_parents("/run/systemd/journal", 0755) < 0) {
    return 77;
  }
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
  g_assert_cmpint(bind(sock, (struct sockaddr *)&sa, sizeof sa), ==, 0);

  g_autoptr(ArEmitter) em = ar_emitter_new(NULL, "proj");
  ar_emitter_set_context(em, 7, "context-phase");
  g_assert_true(ar_emit(em, "orphan_stash_failed", AR_EV_I("round_num", 3),
                        AR_EV_S("phase", "diverge"), AR_EV_S("reason", "two\nlines TOKEN=abc"),
                        NULL));
  const char *files[] = { "a.c", "b.c", NULL };
  g_assert_true(ar_emit(em, "dirty_detected", AR_EV_I("round_num", 3), AR_EV_SV("files", files),
                        AR_EV_I("count", 2), NULL));
  ar_emitter_set_context(em, 0, NULL);
  g_assert_true(ar_emit(em, "config_reloaded", AR_EV_S("config_path", "/c.toml"), NULL));

  static char buf[65536];
  ssize_t n = recv(sock, buf, sizeof buf, 0);
  g_assert_cmpint(n, >, 0);
  g_autoptr(GHashTable) a = parse_journal_datagram(buf, n);
  g_assert_cmpstr(g_hash_table_lookup(a, "MESSAGE"), ==,
                  "Round 3: stashing orphaned changes failed: two\nlines TOKEN=<redacted>");
  g_assert_cmpstr(g_hash_table_lookup(a, "MESSAGE_ID"), ==, "f1643b05f4f0466e8d48fe679eb89031");
  g_assert_cmpstr(g_hash_table_lookup(a, "PRIORITY"), ==, "3");
  g_assert_cmpstr(g_hash_table_lookup(a, "AGENT_RUNNER_EVENT"), ==, "orphan_stash_failed");
  g_assert_cmpstr(g_hash_table_lookup(a, "AGENT_RUNNER_PROJECT"), ==, "proj");
  /* The event's own round and phase win over the context. */
  g_assert_cmpstr(g_hash_table_lookup(a, "AGENT_RUNNER_ROUND"), ==, "3");
  g_assert_cmpstr(g_hash_table_lookup(a, "AGENT_RUNNER_PHASE"), ==, "diverge");
  /* one round field, not AGENT_RUNNER_ROUND_NUM too */
  g_assert_false(g_hash_table_contains(a, "AGENT_RUNNER_ROUND_NUM"));
  g_assert_cmpstr(g_hash_table_lookup(a, "AGENT_RUNNER_REASON"), ==, "two\nlines TOKEN=<redacted>");
  g_assert_cmpstr(
      g_hash_table_lookup(a, "AGENT_RUNNER_PAYLOAD"), ==,
      "{\"round_num\": 3, \"phase\": \"diverge\", \"reason\": \"two\\nlines TOKEN=<redacted>\"}");

  n = recv(sock, buf, sizeof buf, 0);
  g_autoptr(GHashTable) b = parse_journal_datagram(buf, n);
  g_assert_cmpstr(g_hash_table_lookup(b, "AGENT_RUNNER_PHASE"), ==, "context-phase");
  g_assert_cmpstr(g_hash_table_lookup(b, "AGENT_RUNNER_FILES"), ==, "[\"a.c\", \"b.c\"]");
  g_assert_cmpstr(g_hash_table_lookup(b, "AGENT_RUNNER_COUNT"), ==, "2");
  g_assert_cmpstr(g_hash_table_lookup(b, "PRIORITY"), ==, "5");

  n = recv(sock, buf, sizeof buf, 0);
  g_autoptr(GHashTable) c = parse_journal_datagram(buf, n);
  g_assert_false(g_hash_table_contains(c, "AGENT_RUNNER_ROUND"));
  g_assert_false(g_hash_table_contains(c, "AGENT_RUNNER_PHASE"));
  g_assert_cmpstr(g_hash_table_lookup(c, "AGENT_RUNNER_CONFIG_PATH"), ==, "/c.toml");
  close(sock);
  return 0;
}

static void
test_journal_fields(void)
{
  /* unshare() changes the whole process: do it in a child. A failed
   * assertion there aborts it. */
  pid_t pid = fork();
  g_assert_cmpint(pid, >=, 0);
  if (pid == 0)
    _exit(journal_fields_child());
  int status = 0;
  g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    g_test_skip("no private mount namespace (needs CAP_SYS_ADMIN)");
    return;
  }
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void
test_format_message(void)
{
  const ArEventKind *k = ar_event_kind_lookup("round_end");
  g_autoptr(JsonObject) p = json_object_new();
  json_object_set_int_member(p, "round_num", 3);
  json_object_set_string_member(p, "outcome", "clean");
  json_object_set_double_member(p, "duration_s", 812.4);
  g_autofree char *m = ar_event_format_message(k, p);
  g_assert_cmpstr(m, ==, "Round 3 ended: clean after 812.4 s");
  /* An optional part goes away with its null field: no "phase -". */
  const ArEventKind *rs = ar_event_kind_lookup("round_start");
  g_autoptr(JsonObject) r = json_object_new();
  json_object_set_int_member(r, "round_num", 7);
  json_object_set_null_member(r, "phase");
  g_autofree char *m3 = ar_event_format_message(rs, r);
  g_assert_cmpstr(m3, ==, "Round 7 started");
  json_object_set_string_member(r, "phase", "diverge");
  g_autofree char *m4 = ar_event_format_message(rs, r);
  g_assert_cmpstr(m4, ==, "Round 7 started (phase diverge)");
  /* Every message of the table renders without a "-" for a missing value
   * when its optional parts are bracketed. */
  const ArEventKind *re = ar_event_kind_lookup("round_end");
  g_autoptr(JsonObject) e = json_object_new();
  json_object_set_int_member(e, "round_num", 7);
  json_object_set_string_member(e, "outcome", "ok");
  json_object_set_double_member(e, "duration_s", 2.0);
  json_object_set_int_member(e, "exit_code", 0);
  g_autofree char *m5 = ar_event_format_message(re, e);
  g_assert_cmpstr(m5, ==, "Round 7 ended: ok after 2.0 s");

  const ArEventKind *d = ar_event_kind_lookup("dirty_detected");
  g_autoptr(JsonObject) q = json_object_new();
  json_object_set_int_member(q, "round_num", 1);
  json_object_set_int_member(q, "count", 2);
  g_autofree char *m2 = ar_event_format_message(d, q);
  g_assert_cmpstr(m2, ==, "Round 1: 2 uncommitted file(s) left in the work tree");
}

#define ADD(name, func) g_test_add(name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/events/table", test_table);
  g_test_add_func("/events/table-append-only", test_table_append_only);
  g_test_add_func("/events/json-numbers", test_json_numbers);
  g_test_add_func("/events/format-message", test_format_message);
  g_test_add_func("/events/no-file-no-journal", test_no_file_no_journal);
  g_test_add_func("/events/missing-log-dir", test_missing_log_dir);
  g_test_add_func("/events/journal-fields", test_journal_fields);
  ADD("/events/line-format", test_line_format);
  ADD("/events/payload-types", test_payload_types);
  ADD("/events/unicode", test_unicode_and_escapes);
  ADD("/events/unknown-kind", test_unknown_kind);
  ADD("/events/field-checks", test_field_checks);
  ADD("/events/month-rollover", test_month_rollover);
  ADD("/events/file-replaced", test_file_replaced);
  ADD("/events/fragment-terminated", test_fragment_terminated);
  ADD("/events/short-write-truncated", test_short_write_truncated);
  ADD("/events/two-writers", test_two_writers);
  ADD("/events/redaction", test_redaction_in_line);
  ADD("/events/extra-sinks", test_extra_sinks);
  ADD("/events/journal", test_journal_sink);
  return g_test_run();
}
