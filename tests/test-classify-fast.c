/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The classifier's shortcuts (src/common/classify/ar-classify-prefilter.c, the
 * unparsed claude lines, the bulk path for floods of short lines) must
 * never change an answer: every input here goes through two classifiers,
 * one with the shortcuts and one without, and everything they report must
 * be equal. Inputs: the captured CLI output of tests/fixtures/agent-cli (every case
 * in every dialect), claude lines mutated at random, text built from the
 * patterns' own anchors, and floods of short lines. */

#include <string.h>

#include "ar-classify-private.h"
#include "ar-classify.h"

typedef struct {
  ArClassifier *fast;
  ArClassifier *slow;
} Pair;

static void
pair_init(Pair *p, ArDialect d)
{
  p->fast = ar_classifier_new(d);
  p->slow = ar_classifier_new(d);
}

static void
pair_clear(Pair *p)
{
  g_clear_pointer(&p->fast, ar_classifier_free);
  g_clear_pointer(&p->slow, ar_classifier_free);
}

static void
assert_same_running(Pair *p)
{
  gint64 a = 0, b = 0;
  g_assert_cmpint(ar_classifier_saw_result(p->fast), ==, ar_classifier_saw_result(p->slow));
  g_assert_cmpint(ar_classifier_retry_loop(p->fast, &a), ==, ar_classifier_retry_loop(p->slow, &b));
  g_assert_cmpint(a, ==, b);
}

static void
pair_feed(Pair *p, const char *line, gsize len, gint64 now)
{
  ar_classify_set_fast_paths(TRUE);
  ar_classifier_feed_line(p->fast, line, len, now);
  ar_classify_set_fast_paths(FALSE);
  ar_classifier_feed_line(p->slow, line, len, now);
  ar_classify_set_fast_paths(TRUE);
  assert_same_running(p);
}

static void
assert_same_result(Pair *p)
{
  static const struct {
    int exit_code, sig;
    gboolean timed_out, stalled;
  } ends[] = { { 0, 0, FALSE, FALSE },
               { 1, 0, FALSE, FALSE },
               { 0, 15, TRUE, FALSE },
               { 0, 9, FALSE, TRUE },
               { 41, 0, FALSE, FALSE } };
  for (gsize i = 0; i < G_N_ELEMENTS(ends); i++) {
    g_auto(ArClassification) a = { 0 };
    g_auto(ArClassification) b = { 0 };
    ar_classifier_finish(p->fast, ends[i].exit_code, ends[i].sig, ends[i].timed_out,
                         ends[i].stalled, &a);
    ar_classifier_finish(p->slow, ends[i].exit_code, ends[i].sig, ends[i].timed_out,
                         ends[i].stalled, &b);
    g_assert_cmpint(a.outcome, ==, b.outcome);
    g_assert_cmpint(a.http_status, ==, b.http_status);
    g_assert_cmpint(a.reset_at_epoch, ==, b.reset_at_epoch);
    g_assert_cmpstr(a.evidence, ==, b.evidence);
    g_assert_cmpint(a.has_usage, ==, b.has_usage);
    g_assert_cmpstr(a.model, ==, b.model);
    g_assert_cmpint(a.input_tokens, ==, b.input_tokens);
    g_assert_cmpint(a.output_tokens, ==, b.output_tokens);
    g_assert_cmpint(a.cached_tokens, ==, b.cached_tokens);
    g_assert_cmpint(a.tool_call_count, ==, b.tool_call_count);
    g_assert_cmpint(a.num_turns, ==, b.num_turns);
  }
}

static void
feed_text(Pair *p, const char *text, gsize len)
{
  const char *end = text + len;
  gint64 now = 1000;
  while (text < end) {
    const char *nl = memchr(text, '\n', end - text);
    gsize n = (nl ? nl : end) - text;
    pair_feed(p, text, n, now++);
    text = nl ? nl + 1 : end;
  }
}

/* ---- the captured output ---- */

static void
test_fixtures(void)
{
  /* The copy carried in the repository, so a plain clone runs this case. */
  const char *env_dir = g_getenv("AR_FIXTURES_DIR");
  const char *root = g_getenv("AR_SOURCE_ROOT");
  g_autofree char *dir =
      env_dir ? g_strdup(env_dir)
              : g_build_filename(root ? root : ".", "tests", "fixtures", "agent-cli", NULL);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  if (d == NULL) {
    g_test_skip("no captured CLI output in $AR_FIXTURES_DIR (tests/fixtures/agent-cli)");
    return;
  }
  guint files = 0;
  const char *name;
  while ((name = g_dir_read_name(d)) != NULL) {
    if (!g_str_has_suffix(name, ".stdout.jsonl") && !g_str_has_suffix(name, ".stderr.txt"))
      continue;
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    for (int dialect = 0; dialect < AR_DIALECT_COUNT; dialect++) {
      Pair p;
      pair_init(&p, (ArDialect)dialect);
      feed_text(&p, data, len);
      assert_same_result(&p);
      pair_clear(&p);
    }
    files++;
  }
  g_assert_cmpuint(files, >, 10);
}

/* ---- claude lines, whole, cut and mutated ---- */

static const char *const claude_lines[] = {
  "{\"type\":\"system\",\"subtype\":\"init\",\"model\":\"claude-sonnet-4-5\"}",
  "{\"type\":\"assistant\",\"message\":{\"model\":\"claude-opus-4-1\",\"content\":[{\"type\":"
  "\"text\",\"text\":\"Let me look \\\"here\\\"\\n\"},{\"type\":\"tool_use\",\"id\":\"t1\","
  "\"input\":{\"a\":[1,2.5,-3,true,false,null,{\"type\":\"tool_use\"}]}}]},\"session_id\":\"s\"}",
  "{\"type\":\"assistant\",\"message\":{\"model\":\"<synthetic>\",\"content\":[{\"type\":\"text\","
  "\"text\":\"API Error: 529 overloaded\"}]},\"error\":\"overloaded\"}",
  "{\"type\":\"assistant\",\"error\":\"authentication_failed\",\"message\":{\"content\":[]}}",
  "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\"}],\"content\":[]}}",
  "{\"type\":\"assistant\",\"message\":{\"model\":\"m\\u00e9\",\"content\":[{\"type\":\"tool_use\"}"
  "]}}",
  "{\"type\":\"assistant\",\"message\":{\"model\":\"x\",\"content\":[{\"type\":\"tool_use\","
  "\"n\":1e5}]}}",
  "{\"type\":\"assistant\",\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_use\"}]}}",
  "{\"type\":\"assistant\",\"message\":{\"model\":\"a\",\"model\":7,\"content\":{\"type\":"
  "\"tool_use\"}}}",
  "{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\"content\":\"ok\"}]}}",
  "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\"}}",
  "{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":1,\"max_retries\":10,"
  "\"error_status\":529,\"error\":\"overloaded\"}",
  "{\"type\":\"rate_limit_event\",\"rate_limit_info\":{\"status\":\"rejected\",\"resetsAt\":"
  "1767225600,\"rateLimitType\":\"five_hour\"}}",
  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":true,\"api_error_status\":401,"
  "\"result\":\"Invalid API key · Please run /login\",\"usage\":{\"input_tokens\":3,"
  "\"output_tokens\":5},\"total_cost_usd\":0.01,\"num_turns\":1,\"duration_ms\":900}",
  "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"usage\":{\"input_tokens\":1}}",
  "Error: connect ECONNREFUSED 127.0.0.1:443",
  "[\"not\",\"an object\"]",
};

static const char mutations[] = "{}[],:\"\\ u0e5.-\xc3\xa9tn";

static void
test_claude_mutated(void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed(13);
  for (int round = 0; round < 3000; round++) {
    Pair p;
    pair_init(&p, round % 7 == 0 ? AR_DIALECT_GEMINI_STREAM_JSON : AR_DIALECT_CLAUDE_STREAM_JSON);
    for (int i = 0; i < 6; i++) {
      const char *src = claude_lines[g_rand_int_range(rand, 0, G_N_ELEMENTS(claude_lines))];
      g_autoptr(GString) line = g_string_new(src);
      int edits = round % 3 == 0 ? 0 : g_rand_int_range(rand, 1, 4);
      for (int e = 0; e < edits; e++) {
        gsize at = g_rand_int_range(rand, 0, (gint32)line->len);
        char c = mutations[g_rand_int_range(rand, 0, sizeof mutations - 1)];
        if (g_rand_boolean(rand))
          line->str[at] = c;
        else
          g_string_insert_c(line, (gssize)at, c);
      }
      /* Cut, as the daemon cuts overlong lines. */
      if (g_rand_int_range(rand, 0, 5) == 0)
        g_string_truncate(line, g_rand_int_range(rand, 0, (gint32)line->len + 1));
      pair_feed(&p, line->str, line->len, 1000 + i);
    }
    assert_same_result(&p);
    pair_clear(&p);
  }
}

/* ---- text: the anchors themselves, at every offset, in any case ---- */

static void
collect_anchor(const char *anchor, gpointer data)
{
  g_ptr_array_add(data, g_strdup(anchor));
}

static void
test_anchors(void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed(7);
  for (int d = 0; d < AR_DIALECT_COUNT; d++) {
    const ArLiteralSet *set = ar_classify_message_prefilter((ArDialect)d);
    g_autoptr(GPtrArray) anchors = g_ptr_array_new_with_free_func(g_free);
    /* Every row yields anchors: a pattern the parser cannot read would
     * silently turn the filter off. */
    g_assert_cmpuint(ar_literal_set_min_len(set), >=, 4);
    ar_literal_set_foreach_anchor(set, collect_anchor, anchors);
    g_assert_cmpuint(anchors->len, >, 10);
    for (guint i = 0; i < anchors->len; i++) {
      const char *a = g_ptr_array_index(anchors, i);
      for (int off = 0; off < 40; off++) {
        g_autoptr(GString) s = g_string_new(NULL);
        for (int k = 0; k < off; k++)
          g_string_append_c(s, "ab c-_9x"[k % 8]);
        for (const char *c = a; *c; c++)
          g_string_append_c(s, g_rand_boolean(rand) ? g_ascii_toupper(*c) : *c);
        for (int k = 0; k < off % 5; k++)
          g_string_append_c(s, '.');
        g_assert_true(ar_literal_set_maybe(set, s->str, s->len));
      }
    }
  }
}

static void
test_text_lines(void)
{
  static const char *const words[] = {
    "the",   "build",      "code",       "status",     "http",         "API",      "Error",
    "limit", "rate",       "Rate-Limit", "overloaded", "ECONNRESET",   "429",      "503",
    "401",   "200",        "exceeded",   "your",       "quota",        "Not",      "logged",
    "in",    "Invalid",    "api",        "key",        "unauthorized", "  ",       "\t",
    "{",     "}",          "HTTP/1.1",   "code:",      "status=",      "fetch",    "failed",
    "name",  "resolution", "Request",    "timed",      "out",          "\xff\xfe", "Attempt",
    "1",     "YOLO",       "mode",       "is",         "enabled",      "Warning:", "[STARTUP]",
  };
  g_autoptr(GRand) rand = g_rand_new_with_seed(42);
  for (int d = 0; d < AR_DIALECT_COUNT; d++) {
    Pair p;
    pair_init(&p, (ArDialect)d);
    for (int n = 0; n < 20000; n++) {
      g_autoptr(GString) line = g_string_new(NULL);
      int count = g_rand_int_range(rand, 0, 9);
      for (int w = 0; w < count; w++) {
        if (w > 0)
          g_string_append_c(line, g_rand_boolean(rand) ? ' ' : '_');
        g_string_append(line, words[g_rand_int_range(rand, 0, G_N_ELEMENTS(words))]);
      }
      pair_feed(&p, line->str, line->len, n);
      if (n % 997 == 0) {
        assert_same_result(&p);
        pair_clear(&p);
        pair_init(&p, (ArDialect)d);
      }
    }
    assert_same_result(&p);
    pair_clear(&p);
  }
}

/* ---- runs of whole lines through the bulk path ---- */

/* As the daemon's scanner does: lines longer than max_line are passed cut
 * to max_line. */
static void
feed_each(ArClassifier *c, const char *p, const char *end, gsize max_line)
{
  while (p < end) {
    const char *nl = memchr(p, '\n', end - p);
    gsize n = (nl ? nl : end) - p;
    ar_classifier_feed_line(c, p, MIN(n, max_line), 2);
    p = nl ? nl + 1 : end;
  }
}

static void
assert_bulk_same(ArDialect d, const char *data, gsize len, gsize max_line)
{
  ArClassifier *bulk = ar_classifier_new(d);
  ArClassifier *one = ar_classifier_new(d);
  /* Something notable first, then the run. */
  ar_classifier_feed_line(bulk, "Error: before", 13, 1);
  ar_classifier_feed_line(one, "Error: before", 13, 1);
  gsize took = ar_classifier_feed_lines_fast(bulk, data, len, max_line, 2);
  g_assert_cmpuint(took, <=, len);
  g_assert_true(took == 0 || data[took - 1] == '\n');
  feed_each(bulk, data + took, data + len, max_line);
  feed_each(one, data, data + len, max_line);
  Pair pair = { bulk, one };
  assert_same_result(&pair);
  pair_clear(&pair);
}

static void
test_bulk(void)
{
  static const char *const floods[] = {
    "y\ny\ny\n", "y\n\n\n",      "ok\n  \n}\n",           "a\nbb\nccc\n\t\n",
    "\n\n\n",    "ab\r\ncd\r\n", "y\nlong enough line\n", "{\n",
    "x\n401\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(floods); i++)
    for (int d = 0; d < AR_DIALECT_COUNT; d++)
      assert_bulk_same((ArDialect)d, floods[i], strlen(floods[i]), 65536);

  /* Big runs: blocks with and without candidate words, a status number far
   * from its word, a line longer than the cut, notable and blank lines at
   * block ends. */
  static const char *const lines[] = {
    "All 318 tests passed in 2.41 s; the coverage report is in build/coverage.",
    "Next I will update the documentation of the config loader.",
    "    at Object.<anonymous> (/app/index.js:12:5)",
    "",
    "HTTP/1.1 503 Service Unavailable",
    "Error: 429 Too Many Requests",
    "src/parser.c:412:9: warning: unused variable 'count'",
    "the status is fine, code 200",
    "You've hit your usage limit",
    "}",
    "connect ECONNREFUSED 127.0.0.1:443",
  };
  g_autoptr(GRand) rand = g_rand_new_with_seed(99);
  for (int round = 0; round < 60; round++) {
    g_autoptr(GString) text = g_string_new(NULL);
    int n = g_rand_int_range(rand, 50, 2000);
    gboolean quiet = round % 3 == 0; /* only lines no pattern matches */
    for (int k = 0; k < n; k++) {
      const char *l = lines[g_rand_int_range(rand, 0, quiet ? 4 : G_N_ELEMENTS(lines))];
      g_string_append(text, l);
      g_string_append_c(text, '\n');
      if (round % 5 == 1 && k == n / 2) {
        for (int j = 0; j < 9000; j++)
          g_string_append_c(text, "abc 45"[j % 6]);
        g_string_append_c(text, '\n');
      }
    }
    for (int d = 0; d < AR_DIALECT_COUNT; d++) {
      assert_bulk_same((ArDialect)d, text->str, text->len, 65536);
      assert_bulk_same((ArDialect)d, text->str, text->len, 6000);
    }
  }

  /* The text dialect takes a flood of "y" in one go, and a quiet block. */
  g_autoptr(ArClassifier) c = ar_classifier_new(AR_DIALECT_TEXT);
  g_assert_cmpuint(ar_classifier_feed_lines_fast(c, "y\ny\n", 4, 65536, 1), ==, 4);
  g_assert_cmpuint(ar_classifier_feed_lines_fast(c, "a much longer line\n", 19, 65536, 1), ==, 19);
  g_autoptr(ArClassifier) j = ar_classifier_new(AR_DIALECT_CLAUDE_STREAM_JSON);
  g_assert_cmpuint(ar_classifier_feed_lines_fast(j, "y\ny\n", 4, 65536, 1), ==, 0);
}

/* ---- the block prefilter's one-pass scan against the sets' own ---- */

static gboolean
block_reference(ArDialect d, const char *text, gsize len)
{
  return ar_literal_set_maybe(ar_classify_message_prefilter(d), text, len) ||
         (ar_text_has_status_digits(text, len) &&
          ar_literal_set_maybe(ar_classify_status_prefilter(), text, len));
}

static void
append_cased(GString *s, const char *word, GRand *rand)
{
  for (const char *c = word; *c; c++)
    g_string_append_c(s, g_rand_boolean(rand) ? g_ascii_toupper(*c) : *c);
}

static void
test_block_scan(void)
{
  static const char *const extra[] = { "status", "code: ", "HTTP/1.1 ", "api error", "45", "4",
                                       "500",    "429",    "5x9",       "\n",        "Ã©" };
  g_autoptr(GRand) rand = g_rand_new_with_seed(2026);
  guint hits = 0;
  for (int d = 0; d < AR_DIALECT_COUNT; d++) {
    g_autoptr(GPtrArray) anchors = g_ptr_array_new_with_free_func(g_free);
    ar_literal_set_foreach_anchor(ar_classify_message_prefilter((ArDialect)d), collect_anchor,
                                  anchors);
    if (ar_literal_set_scan(ar_classify_message_prefilter((ArDialect)d)) == NULL)
      g_test_message("dialect %d: no vector scan on this CPU, the sets answer", d);
    for (int n = 0; n < 30000; n++) {
      g_autoptr(GString) s = g_string_new(NULL);
      gsize target = (gsize)g_rand_int_range(rand, 0, n % 50 == 0 ? 6000 : 120);
      while (s->len < target) {
        int what = g_rand_int_range(rand, 0, 40);
        if (what == 0) {
          append_cased(s, g_ptr_array_index(anchors, g_rand_int_range(rand, 0, anchors->len)),
                       rand);
        } else if (what == 1) {
          /* An anchor cut short: must not count. */
          const char *a = g_ptr_array_index(anchors, g_rand_int_range(rand, 0, anchors->len));
          g_autofree char *cut = g_strndup(a, strlen(a) - 1);
          append_cased(s, cut, rand);
        } else if (what < 5) {
          append_cased(s, extra[g_rand_int_range(rand, 0, G_N_ELEMENTS(extra))], rand);
        } else {
          {
            static const char filler[] = "etaoin srhl\n_-.9ydcumfpgwb450\x80\xff";
            g_string_append_c(s, filler[g_rand_int_range(rand, 0, sizeof filler - 1)]);
          }
        }
      }
      /* An exact-size copy: a read past the end is an ASan error. */
      for (gsize off = 0; off < MIN(s->len, 3); off++) {
        gsize len = s->len - off;
        g_autofree char *copy = g_memdup2(s->str + off, MAX(len, 1));
        gboolean want = block_reference((ArDialect)d, copy, len);
        hits += want;
        if (ar_classify_text_may_match((ArDialect)d, copy, len) != want)
          g_error("dialect %d: scan %d, sets %d on \"%.*s\"", d, !want, want, (int)len, copy);
      }
    }
  }
  g_assert_cmpuint(hits, >, 1000);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/classify-fast/fixtures", test_fixtures);
  g_test_add_func("/classify-fast/claude-mutated", test_claude_mutated);
  g_test_add_func("/classify-fast/anchors", test_anchors);
  g_test_add_func("/classify-fast/text-lines", test_text_lines);
  g_test_add_func("/classify-fast/bulk", test_bulk);
  g_test_add_func("/classify-fast/block-scan", test_block_scan);
  return g_test_run();
}
