/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-detect.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ar-cleanup.h"
#include "ar-json.h"

/* How much of the transcript's end the auth patterns read. */
#define AUTH_TAIL_BYTES 4096
/* A tool call's target is cut to this many characters (the Python tool's). */
#define TARGET_MAX 100

static char *
transcript_tail(const char *path)
{
  g_auto(ArFd) fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  if (fd < 0)
    return NULL;
  off_t end = lseek(fd, 0, SEEK_END);
  off_t from = end > AUTH_TAIL_BYTES ? end - AUTH_TAIL_BYTES : 0;
  char *buf = g_malloc(AUTH_TAIL_BYTES + 1);
  ssize_t n = pread(fd, buf, AUTH_TAIL_BYTES, from);
  buf[n > 0 ? n : 0] = '\0';
  /* Binary output: the patterns read text. */
  for (ssize_t i = 0; i < n; i++)
    if (buf[i] == '\0')
      buf[i] = ' ';
  return buf;
}

void
ard_detect_auth_patterns(const ArConfig *cfg, ArDialect dialect, const char *transcript_path,
                         int exit_code, gboolean ended_by_us, double duration_s,
                         ArClassification *c)
{
  if (dialect != AR_DIALECT_TEXT || exit_code == 0 || ended_by_us ||
      duration_s >= ARD_AUTH_SHORT_S || c->outcome != AR_OUTCOME_ERROR ||
      cfg->auth_fail_patterns == NULL || cfg->auth_fail_patterns[0] == NULL)
    return;
  g_autofree char *tail = transcript_tail(transcript_path);
  if (tail == NULL)
    return;
  for (guint i = 0; cfg->auth_fail_patterns[i]; i++) {
    g_autoptr(GRegex) re =
        g_regex_new(cfg->auth_fail_patterns[i], G_REGEX_CASELESS | G_REGEX_RAW, 0, NULL);
    g_autoptr(GMatchInfo) mi = NULL;
    if (re == NULL || !g_regex_match(re, tail, 0, &mi))
      continue;
    /* Evidence: the line that matched. */
    int start = 0, stop = 0;
    g_match_info_fetch_pos(mi, 0, &start, &stop);
    const char *line = tail + start;
    while (line > tail && line[-1] != '\n')
      line--;
    const char *eol = strchr(tail + start, '\n');
    gsize len = eol ? (gsize)(eol - line) : strlen(line);
    c->outcome = AR_OUTCOME_AUTH_FAILURE;
    g_free(c->evidence);
    c->evidence = g_utf8_make_valid(line, MIN(len, 200));
    return;
  }
}

struct ArdRepetition {
  guint round_num;
  guint window;
  guint threshold;
  GQueue recent;      /* char* keys "name\x1ftarget", oldest first */
  GHashTable *counts; /* key -> count within the window */
  GHashTable *reported;
};

ArdRepetition *
ard_repetition_new(const ArConfig *cfg, ArDialect dialect, guint round_num)
{
  if (dialect != AR_DIALECT_CLAUDE_STREAM_JSON || cfg->anomaly_repetitive_window == 0 ||
      cfg->anomaly_repetitive_threshold == 0)
    return NULL;
  ArdRepetition *rep = g_new0(ArdRepetition, 1);
  rep->round_num = round_num;
  rep->window = cfg->anomaly_repetitive_window;
  rep->threshold = cfg->anomaly_repetitive_threshold;
  g_queue_init(&rep->recent);
  rep->counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  rep->reported = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  return rep;
}

void
ard_repetition_free(ArdRepetition *rep)
{
  if (rep == NULL)
    return;
  g_queue_clear_full(&rep->recent, g_free);
  g_hash_table_unref(rep->counts);
  g_hash_table_unref(rep->reported);
  g_free(rep);
}

/* The first of file_path, path, pattern, command: what the call acts on. */
static char *
tool_target(JsonObject *input)
{
  static const char *const keys[] = { "file_path", "path", "pattern", "command" };
  for (gsize i = 0; input && i < G_N_ELEMENTS(keys); i++) {
    const char *v = ar_json_str(input, keys[i]);
    if (v)
      return g_utf8_substring(v, 0, MIN(g_utf8_strlen(v, -1), TARGET_MAX));
  }
  return g_strdup("");
}

static void
count_call(ArdRepetition *rep, ArEmitter *emitter, const char *name, const char *target)
{
  char *key = g_strdup_printf("%s\x1f%s", name, target);
  g_queue_push_tail(&rep->recent, key);
  guint n = GPOINTER_TO_UINT(g_hash_table_lookup(rep->counts, key)) + 1;
  g_hash_table_replace(rep->counts, g_strdup(key), GUINT_TO_POINTER(n));
  if (rep->recent.length > rep->window) {
    g_autofree char *old = g_queue_pop_head(&rep->recent);
    guint m = GPOINTER_TO_UINT(g_hash_table_lookup(rep->counts, old));
    if (m <= 1)
      g_hash_table_remove(rep->counts, old);
    else
      g_hash_table_replace(rep->counts, g_strdup(old), GUINT_TO_POINTER(m - 1));
    if (g_str_equal(old, key))
      n--;
  }
  if (n < rep->threshold || g_hash_table_contains(rep->reported, key))
    return;
  g_hash_table_add(rep->reported, g_strdup(key));
  /* No emitter: lines fed again after an upgrade in place, already reported. */
  if (emitter != NULL)
    ar_emit(emitter, "anomaly_repetitive_tool", AR_EV_I("round_num", rep->round_num),
            AR_EV_S("tool_name", name), AR_EV_S("target", target), AR_EV_I("count", n),
            AR_EV_I("window", rep->window), NULL);
}

void
ard_repetition_feed(ArdRepetition *rep, ArEmitter *emitter, const char *line, gsize len)
{
  static const char needle[] = "\"tool_use\"";
  /* Cheap test first: most lines carry no tool call. */
  if (rep == NULL || memmem(line, len, needle, sizeof needle - 1) == NULL)
    return;
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, line, len, NULL))
    return;
  JsonNode *root = json_parser_get_root(parser);
  JsonObject *obj = JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
  if (obj == NULL || g_strcmp0(ar_json_str(obj, "type"), "assistant") != 0)
    return;
  JsonArray *content = ar_json_array(ar_json_obj(obj, "message"), "content");
  for (guint i = 0; content && i < json_array_get_length(content); i++) {
    JsonNode *b = json_array_get_element(content, i);
    JsonObject *block = JSON_NODE_HOLDS_OBJECT(b) ? json_node_get_object(b) : NULL;
    if (block == NULL || g_strcmp0(ar_json_str(block, "type"), "tool_use") != 0)
      continue;
    const char *name = ar_json_str(block, "name");
    g_autofree char *target = tool_target(ar_json_obj(block, "input"));
    count_call(rep, emitter, name ? name : "?", target);
  }
}
