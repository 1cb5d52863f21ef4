/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-history.h"

#include <string.h>

#include "ar-events.h"
#include "ar-json.h"

/* Rounds as the events files tell them. Used where memory has nothing:
 * Peek of a round of an earlier run, and status/peek/watch of a project
 * whose daemon is not running. Every read goes backwards from the end of
 * the newest file (ar_events_tail), so the cost follows how far back the
 * round is, never the size of the history. */

/* Reading further back than this many round_start/round_end lines is not
 * worth it for an interactive answer. */
#define MAX_LINES 20000

static JsonObject *
parse_line(const char *line)
{
  g_autoptr(JsonParser) p = json_parser_new();
  if (!json_parser_load_from_data(p, line, -1, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root(p);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root))
    return NULL;
  return json_object_ref(json_node_get_object(root));
}

static JsonObject *
new_round(guint round_num)
{
  JsonObject *r = json_object_new();
  json_object_set_int_member(r, "round_num", round_num);
  json_object_set_null_member(r, "phase");
  json_object_set_null_member(r, "outcome");
  json_object_set_null_member(r, "exit_code");
  json_object_set_null_member(r, "duration_s");
  json_object_set_null_member(r, "started_at");
  json_object_set_null_member(r, "ended_at");
  return r;
}

/* Fold one round_start / round_end line into the round it names. */
static void
fold(GHashTable *rounds, GPtrArray *order, JsonObject *ev)
{
  gboolean present = FALSE;
  gint64 num = ar_json_int(ev, "round_num", &present);
  const char *kind = ar_json_str(ev, "event");
  if (!present || num <= 0 || !kind)
    return;
  JsonObject *r = g_hash_table_lookup(rounds, GINT_TO_POINTER((gint)num));
  if (!r) {
    r = new_round((guint)num);
    g_hash_table_insert(rounds, GINT_TO_POINTER((gint)num), r);
    g_ptr_array_add(order, GINT_TO_POINTER((gint)num));
  }
  if (g_str_equal(kind, "round_start")) {
    ar_json_set_str(r, "phase", ar_json_str(ev, "phase"));
    ar_json_set_str(r, "started_at", ar_json_str(ev, "ts"));
  } else {
    ar_json_set_str(r, "outcome", ar_json_str(ev, "outcome"));
    ar_json_set_str(r, "ended_at", ar_json_str(ev, "ts"));
    gboolean have = FALSE;
    gint64 code = ar_json_int(ev, "exit_code", &have);
    if (have)
      json_object_set_int_member(r, "exit_code", code);
    double d = ar_json_double(ev, "duration_s", &have);
    if (have)
      json_object_set_double_member(r, "duration_s", d);
  }
}

static const char *const round_kinds[] = { "round_start", "round_end", NULL };

JsonObject *
ar_history_round(const char *log_dir, guint round_num, guint latest)
{
  guint back = latest > round_num ? latest - round_num : 0;
  guint n = MIN(2 * back + 8, MAX_LINES);
  g_autoptr(GPtrArray) lines = ar_events_tail(log_dir, round_kinds, n, NULL);
  if (!lines)
    return NULL;
  g_autoptr(GHashTable) rounds =
      g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)json_object_unref);
  g_autoptr(GPtrArray) order = g_ptr_array_new();
  for (guint i = 0; i < lines->len; i++) {
    g_autoptr(JsonObject) ev = parse_line(g_ptr_array_index(lines, i));
    gboolean present = FALSE;
    if (ev && ar_json_int(ev, "round_num", &present) == round_num && present)
      fold(rounds, order, ev);
  }
  JsonObject *r = g_hash_table_lookup(rounds, GINT_TO_POINTER((gint)round_num));
  return r ? json_object_ref(r) : NULL;
}

JsonArray *
ar_history_last_rounds(const char *log_dir, guint n)
{
  JsonArray *out = json_array_new();
  g_autoptr(GPtrArray) lines = ar_events_tail(log_dir, round_kinds, 2 * n + 2, NULL);
  if (!lines)
    return out;
  g_autoptr(GHashTable) rounds =
      g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)json_object_unref);
  g_autoptr(GPtrArray) order = g_ptr_array_new();
  for (guint i = 0; i < lines->len; i++) {
    g_autoptr(JsonObject) ev = parse_line(g_ptr_array_index(lines, i));
    if (ev)
      fold(rounds, order, ev);
  }
  /* Newest first, like Peek's last_rounds; only rounds that ended. */
  for (guint i = order->len; i-- > 0 && json_array_get_length(out) < n;) {
    JsonObject *r = g_hash_table_lookup(rounds, g_ptr_array_index(order, i));
    if (ar_json_str(r, "ended_at"))
      json_array_add_object_element(out, json_object_ref(r));
  }
  return out;
}

JsonArray *
ar_history_events(const char *log_dir, const char *const *kinds, guint n)
{
  JsonArray *out = json_array_new();
  g_autoptr(GPtrArray) lines = ar_events_tail(log_dir, kinds, n, NULL);
  for (guint i = 0; lines && i < lines->len; i++) {
    JsonObject *ev = parse_line(g_ptr_array_index(lines, i));
    if (ev)
      json_array_add_object_element(out, ev);
  }
  return out;
}
