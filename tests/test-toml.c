/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "ar-toml.h"

/* Unit tests for the TOML parser: what toml-test does not look at, i.e.
 * positions, error messages, the access functions and the limits. */

static ArTomlNode *
parse_ok(const char *text)
{
  g_autoptr(GError) error = NULL;
  ArTomlNode *root = ar_toml_parse(text, -1, "t.toml", &error);
  g_assert_no_error(error);
  g_assert_nonnull(root);
  return root;
}

static void
assert_error(const char *text, gssize len, ArTomlVersion version, const char *want)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ArTomlNode) root = ar_toml_parse_full(text, len, "agent-runner.toml", version, &error);
  g_assert_null(root);
  g_assert_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX);
  g_assert_cmpstr(error->message, ==, want);
}

static const ArTomlNode *
get_path(const ArTomlNode *node, const char *path)
{
  g_auto(GStrv) parts = g_strsplit(path, ".", -1);
  for (guint i = 0; parts[i] != NULL && node != NULL; i++)
    node = ar_toml_get(node, parts[i]);
  g_assert_nonnull(node);
  return node;
}

static void
assert_pos(const ArTomlNode *node, guint line, guint col, guint key_line, guint key_col)
{
  g_assert_cmpuint(node->line, ==, line);
  g_assert_cmpuint(node->col, ==, col);
  g_assert_cmpuint(node->key_line, ==, key_line);
  g_assert_cmpuint(node->key_col, ==, key_col);
}

static void
test_positions_tree(void)
{
  g_autoptr(ArTomlNode) root = parse_ok("# comment\n"
                                        "name = \"x\"\n"
                                        "  indented   =   42\n"
                                        "\"é\" = \"ü\"\n"
                                        "[server.http]\n"
                                        "port.number = 8080\n"
                                        "list = [\n"
                                        "  1,\n"
                                        "     { a = true },\n"
                                        "]\n"
                                        "[[jobs]]\n"
                                        "id = 1\n"
                                        "[[jobs]]\n"
                                        "id = 2\n");

  assert_pos(root, 1, 1, 0, 0);
  g_assert_null(root->key);
  assert_pos(ar_toml_get(root, "name"), 2, 8, 2, 1);
  assert_pos(ar_toml_get(root, "indented"), 3, 18, 3, 3);
  /* Columns count characters, not bytes. */
  assert_pos(ar_toml_get(root, "é"), 4, 7, 4, 1);

  /* [server.http]: the implicit "server" and the defined "http" both point
   * at the header; their keys at their own names. */
  assert_pos(get_path(root, "server"), 5, 1, 5, 2);
  assert_pos(get_path(root, "server.http"), 5, 1, 5, 9);
  assert_pos(get_path(root, "server.http.port"), 6, 1, 6, 1);
  assert_pos(get_path(root, "server.http.port.number"), 6, 15, 6, 6);

  const ArTomlNode *list = get_path(root, "server.http.list");
  assert_pos(list, 7, 8, 7, 1);
  assert_pos(ar_toml_at(list, 0), 8, 3, 0, 0);
  assert_pos(ar_toml_at(list, 1), 9, 6, 0, 0);
  assert_pos(ar_toml_get(ar_toml_at(list, 1), "a"), 9, 12, 9, 8);

  const ArTomlNode *jobs = ar_toml_get(root, "jobs");
  g_assert_cmpint(jobs->type, ==, AR_TOML_ARRAY);
  assert_pos(jobs, 11, 1, 11, 3);
  assert_pos(ar_toml_at(jobs, 0), 11, 1, 0, 0);
  assert_pos(ar_toml_at(jobs, 1), 13, 1, 0, 0);
  assert_pos(ar_toml_get(ar_toml_at(jobs, 1), "id"), 14, 6, 14, 1);
}

static void
test_positions_crlf_bom(void)
{
  g_autoptr(ArTomlNode) root = parse_ok("\xEF\xBB\xBF"
                                        "a = 1\r\n"
                                        "b = '''x\r\ny'''\r\n"
                                        "c = 3\r\n");

  assert_pos(ar_toml_get(root, "a"), 1, 5, 1, 1);
  assert_pos(ar_toml_get(root, "c"), 4, 5, 4, 1);
  /* Content newlines come out as LF. */
  g_assert_cmpstr(ar_toml_get(root, "b")->v.str, ==, "x\ny");
}

static void
test_errors(void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "a = 1\n\n[agent]\n    round_timeout_s 60\n",
      "agent-runner.toml:4:21: expected '=' after key \"round_timeout_s\"" },
    { "x = 1\ny = 2\n  x = 3\n",
      "agent-runner.toml:3:3: duplicate key \"x\" (first defined at 1:1)" },
    { "[srv]\nport = 1\nport = 2\n",
      "agent-runner.toml:3:1: duplicate key \"srv.port\" (first defined at 2:1)" },
    { "[[x]]\n[x.y]\nz = {q = [1, {r = 1, r = 2}]}\n",
      "agent-runner.toml:3:22: duplicate key \"x.y.z.q[1].r\" (first defined at 3:15)" },
    { "s = \"a\\qb\"\n", "agent-runner.toml:1:7: invalid escape \"\\q\"" },
    { "s = \"abc\nt = 1\n", "agent-runner.toml:1:5: unterminated string" },
    { "s = '''abc\n", "agent-runner.toml:1:5: unterminated multi-line string" },
    { "[a]\nb = 1\n[a]\n", "agent-runner.toml:3:1: table \"a\" already defined at 1:1" },
    { "a.b = 1\n[a]\n", "agent-runner.toml:2:1: table \"a\" already defined at 1:1" },
    { "a = { b = 1 }\na.c = 2\n",
      "agent-runner.toml:2:1: cannot add to inline table \"a\" (defined at 1:1): inline tables "
      "are complete as written" },
    { "a = 1\na.b = 2\n",
      "agent-runner.toml:2:1: key \"a\" is already an integer (defined at 1:1), not a table" },
    { "a = [1, 2\n", "agent-runner.toml:1:5: unterminated array" },
    { "a = [1 2]\n", "agent-runner.toml:1:8: expected ',' or ']' in array, found '2'" },
    { "n = 007\n", "agent-runner.toml:1:5: invalid number \"007\": leading zeros are not allowed" },
    { "d = 2023-02-29\n", "agent-runner.toml:1:5: invalid date \"2023-02-29\": no such day" },
    { "b = yes\n",
      "agent-runner.toml:1:5: invalid value \"yes\" (strings need quotes; booleans are true and "
      "false)" },
    { "a =\n", "agent-runner.toml:1:4: missing value for key \"a\"" },
    { "a = 1 b = 2\n", "agent-runner.toml:1:7: expected end of line after value, found 'b'" },
    { "[table\n",
      "agent-runner.toml:1:7: expected ']' after table name \"table\", found end of line" },
    { "= 1\n", "agent-runner.toml:1:1: expected a key, found '='" },
    { "a. = 1\n", "agent-runner.toml:1:4: expected a key after '.', found '='" },
    { "a = 1 # \x7f\n",
      "agent-runner.toml:1:9: control character U+007F is not allowed in a comment" },
    { "a = 1\rb = 2\n", "agent-runner.toml:1:6: carriage return not followed by a line feed" },
    { "s = \"\\u00e9\\uD800\"\n",
      "agent-runner.toml:1:12: invalid escape \"\\uD800\": not a Unicode scalar value" },
    { "t = { a = 1, }\n",
      "agent-runner.toml:1:12: trailing comma in inline table (allowed from TOML 1.1)" },
    { "t = {\n a = 1 }\n",
      "agent-runner.toml:1:6: an inline table must stay on one line (newlines allowed from TOML "
      "1.1)" },
    { "\"é\" = \"ü\" x\n", "agent-runner.toml:1:11: expected end of line after value, found 'x'" },
    { "a = \"\xff\"\n", "agent-runner.toml:1:6: invalid UTF-8 (byte 0xFF)" },
    { "[[a]]\n[a]\n",
      "agent-runner.toml:2:1: cannot define table \"a\": it is already an array of tables "
      "(defined at 1:3)" },
    { "a = []\n[[a]]\n",
      "agent-runner.toml:2:1: cannot define array of tables \"a\": it is already an array "
      "(defined at 1:1)" },
    { "[a.b.c]\n[a]\nb.c.d = 1\n",
      "agent-runner.toml:3:3: cannot add to table \"a.b.c\" with dotted keys: it was already "
      "defined at 1:1" },
    { "\"a b\".c = 1\n\"a b\".c = 2\n",
      "agent-runner.toml:2:7: duplicate key \"'a b'.c\" (first defined at 1:7)" },
    { "t = 12:30\n",
      "agent-runner.toml:1:5: invalid time in \"12:30\": seconds are required (optional from TOML "
      "1.1)" },
    { "i = 0x\n", "agent-runner.toml:1:5: invalid integer \"0x\"" },
    { "f = 1.e5\n", "agent-runner.toml:1:5: invalid float \"1.e5\": a digit must follow the '.'" },
    { "f = 1e999\n", "agent-runner.toml:1:5: float 1e999 is too large" },
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_test_message("case %u: %s", i, cases[i].text);
    assert_error(cases[i].text, -1, AR_TOML_1_0, cases[i].message);
  }
}

static void
test_error_default_filename(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ArTomlNode) root = ar_toml_parse("a = ", -1, NULL, &error);
  g_assert_null(root);
  g_assert_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX);
  g_assert_cmpstr(error->message, ==, "<input>:1:5: missing value for key \"a\"");
}

static void
test_dotted_keys(void)
{
  g_autoptr(ArTomlNode) root = parse_ok("fruit.apple.color = \"red\"\n"
                                        "fruit.apple.taste.sweet = true\n"
                                        "fruit . \"orange\" . 'size' = 3\n"
                                        "[fruit.apple.texture]\n"
                                        "smooth = true\n"
                                        "[dog.\"tater.man\"]\n"
                                        "type.name = \"pug\"\n");

  const ArTomlNode *fruit = ar_toml_get(root, "fruit");
  g_assert_cmpint(fruit->type, ==, AR_TOML_TABLE);
  g_assert_cmpuint(ar_toml_len(fruit), ==, 2);
  g_assert_cmpstr(ar_toml_at(fruit, 0)->key, ==, "apple");
  g_assert_cmpstr(ar_toml_at(fruit, 1)->key, ==, "orange");
  g_assert_cmpstr(get_path(root, "fruit.apple.color")->v.str, ==, "red");
  g_assert_true(get_path(root, "fruit.apple.taste.sweet")->v.boolean);
  g_assert_cmpint(get_path(root, "fruit.orange.size")->v.integer, ==, 3);
  g_assert_true(get_path(root, "fruit.apple.texture.smooth")->v.boolean);

  const ArTomlNode *dog = ar_toml_get(root, "dog");
  const ArTomlNode *tater = ar_toml_get(dog, "tater.man");
  g_assert_nonnull(tater);
  g_assert_cmpstr(get_path(tater, "type.name")->v.str, ==, "pug");

  /* Headers and dotted keys may not reopen tables already defined. */
  assert_error("[fruit]\napple.color = 1\n[fruit.apple]\n", -1, AR_TOML_1_0,
               "agent-runner.toml:3:1: table \"fruit.apple\" already defined at 2:1");
  assert_error("a = { b.c = 1, b = 2 }\n", -1, AR_TOML_1_0,
               "agent-runner.toml:1:16: duplicate key \"a.b\" (first defined at 1:7)");
}

static void
test_arrays_of_tables(void)
{
  g_autoptr(ArTomlNode) root = parse_ok("[[fruits]]\n"
                                        "name = \"apple\"\n"
                                        "[fruits.physical]\n"
                                        "color = \"red\"\n"
                                        "[[fruits.varieties]]\n"
                                        "name = \"red delicious\"\n"
                                        "[[fruits.varieties]]\n"
                                        "name = \"granny smith\"\n"
                                        "[[fruits]]\n"
                                        "name = \"banana\"\n"
                                        "[[fruits.varieties]]\n"
                                        "name = \"plantain\"\n");

  const ArTomlNode *fruits = ar_toml_get(root, "fruits");
  g_assert_cmpint(fruits->type, ==, AR_TOML_ARRAY);
  g_assert_cmpuint(ar_toml_len(fruits), ==, 2);

  const ArTomlNode *apple = ar_toml_at(fruits, 0);
  g_assert_null(apple->key);
  g_assert_cmpstr(ar_toml_get(apple, "name")->v.str, ==, "apple");
  g_assert_cmpstr(get_path(apple, "physical.color")->v.str, ==, "red");
  const ArTomlNode *varieties = ar_toml_get(apple, "varieties");
  g_assert_cmpuint(ar_toml_len(varieties), ==, 2);
  g_assert_cmpstr(ar_toml_get(ar_toml_at(varieties, 1), "name")->v.str, ==, "granny smith");

  const ArTomlNode *banana = ar_toml_at(fruits, 1);
  g_assert_cmpuint(ar_toml_len(ar_toml_get(banana, "varieties")), ==, 1);
  g_assert_null(ar_toml_at(fruits, 2));
}

static void
test_access(void)
{
  g_autoptr(ArTomlNode) root = parse_ok("s = 'x'\n"
                                        "a = [1, 'two', 3.0, [4]]\n"
                                        "[t]\n"
                                        "k = 1\n");
  const ArTomlNode *s = ar_toml_get(root, "s");
  const ArTomlNode *a = ar_toml_get(root, "a");

  g_assert_null(ar_toml_get(NULL, "s"));
  g_assert_null(ar_toml_get(root, "missing"));
  g_assert_null(ar_toml_get(s, "x"));
  g_assert_null(ar_toml_get(a, "0"));
  g_assert_cmpuint(ar_toml_len(NULL), ==, 0);
  g_assert_cmpuint(ar_toml_len(s), ==, 0);
  g_assert_null(ar_toml_at(s, 0));
  g_assert_null(ar_toml_at(NULL, 0));

  g_assert_cmpuint(ar_toml_len(root), ==, 3);
  g_assert_cmpstr(ar_toml_at(root, 0)->key, ==, "s");
  g_assert_cmpstr(ar_toml_at(root, 2)->key, ==, "t");
  g_assert_null(ar_toml_at(root, 3));

  g_assert_cmpuint(ar_toml_len(a), ==, 4);
  g_assert_cmpint(ar_toml_at(a, 0)->type, ==, AR_TOML_INTEGER);
  g_assert_cmpint(ar_toml_at(a, 1)->type, ==, AR_TOML_STRING);
  g_assert_cmpint(ar_toml_at(a, 2)->type, ==, AR_TOML_FLOAT);
  g_assert_cmpint(ar_toml_at(ar_toml_at(a, 3), 0)->v.integer, ==, 4);
  g_assert_null(ar_toml_at(a, 4));

  g_assert_cmpstr(ar_toml_type_name(AR_TOML_TABLE), ==, "table");
  g_assert_cmpstr(ar_toml_type_name(AR_TOML_BOOL), ==, "bool");
  g_assert_cmpstr(ar_toml_type_name(AR_TOML_DATETIME_LOCAL), ==, "datetime-local");
  g_assert_cmpstr(ar_toml_type_name(AR_TOML_TIME_LOCAL), ==, "time-local");
}

static void
test_values(void)
{
  g_autoptr(ArTomlNode) root = parse_ok("s1 = \"tab\\there \\u00e9 \\U0001F600 \\\"q\\\"\"\n"
                                        "s2 = \"\"\"\n"
                                        "one \\\n"
                                        "    two\"\"\"\"\n"
                                        "s3 = 'C:\\path'\n"
                                        "i1 = 1_000\n"
                                        "i2 = 0xdead_BEEF\n"
                                        "i3 = 0o755\n"
                                        "i4 = 0b1010\n"
                                        "i5 = -17\n"
                                        "f1 = 6.626e-34\n"
                                        "f2 = -inf\n"
                                        "f3 = nan\n"
                                        "f4 = 1_0.2_5\n"
                                        "d1 = 1979-05-27 07:32:00.999999-07:00\n"
                                        "d2 = 1979-05-27t07:32:00z\n"
                                        "d3 = 1979-05-27T07:32:00\n"
                                        "d4 = 1979-05-27\n"
                                        "d5 = 00:32:00.5\n");

  g_assert_cmpstr(ar_toml_get(root, "s1")->v.str, ==, "tab\there é \xF0\x9F\x98\x80 \"q\"");
  g_assert_cmpstr(ar_toml_get(root, "s2")->v.str, ==, "one two\"");
  g_assert_cmpstr(ar_toml_get(root, "s3")->v.str, ==, "C:\\path");
  g_assert_cmpint(ar_toml_get(root, "i1")->v.integer, ==, 1000);
  g_assert_cmpint(ar_toml_get(root, "i2")->v.integer, ==, 0xdeadbeef);
  g_assert_cmpint(ar_toml_get(root, "i3")->v.integer, ==, 0755);
  g_assert_cmpint(ar_toml_get(root, "i4")->v.integer, ==, 10);
  g_assert_cmpint(ar_toml_get(root, "i5")->v.integer, ==, -17);
  g_assert_cmpfloat(ar_toml_get(root, "f1")->v.fp, ==, 6.626e-34);
  g_assert_true(isinf(ar_toml_get(root, "f2")->v.fp) && ar_toml_get(root, "f2")->v.fp < 0);
  g_assert_true(isnan(ar_toml_get(root, "f3")->v.fp));
  g_assert_cmpfloat(ar_toml_get(root, "f4")->v.fp, ==, 10.25);

  static const struct {
    const char *key;
    ArTomlType type;
    const char *text;
  } dates[] = {
    { "d1", AR_TOML_DATETIME, "1979-05-27T07:32:00.999999-07:00" },
    { "d2", AR_TOML_DATETIME, "1979-05-27T07:32:00Z" },
    { "d3", AR_TOML_DATETIME_LOCAL, "1979-05-27T07:32:00" },
    { "d4", AR_TOML_DATE_LOCAL, "1979-05-27" },
    { "d5", AR_TOML_TIME_LOCAL, "00:32:00.5" },
  };
  for (guint i = 0; i < G_N_ELEMENTS(dates); i++) {
    const ArTomlNode *d = ar_toml_get(root, dates[i].key);
    g_assert_cmpint(d->type, ==, dates[i].type);
    g_assert_cmpstr(d->v.datetime, ==, dates[i].text);
  }
}

static void
test_huge_integers(void)
{
  g_autoptr(ArTomlNode) root =
      parse_ok("max = 9_223_372_036_854_775_807\n"
               "min = -9223372036854775808\n"
               "hex = 0x7FFFFFFFFFFFFFFF\n"
               "bin = 0b0000000000000000000000000000000000000000000000000001\n");

  g_assert_cmpint(ar_toml_get(root, "max")->v.integer, ==, G_MAXINT64);
  g_assert_cmpint(ar_toml_get(root, "min")->v.integer, ==, G_MININT64);
  g_assert_cmpint(ar_toml_get(root, "hex")->v.integer, ==, G_MAXINT64);
  g_assert_cmpint(ar_toml_get(root, "bin")->v.integer, ==, 1);

  assert_error("n = 9223372036854775808\n", -1, AR_TOML_1_0,
               "agent-runner.toml:1:5: integer 9223372036854775808 does not fit in 64 bits");
  assert_error("n = -9223372036854775809\n", -1, AR_TOML_1_0,
               "agent-runner.toml:1:5: integer -9223372036854775809 does not fit in 64 bits");
  assert_error("n = 0x8000000000000000\n", -1, AR_TOML_1_0,
               "agent-runner.toml:1:5: integer 0x8000000000000000 does not fit in 64 bits");
  assert_error("n = 0xFFFFFFFFFFFFFFFFFFFFFFFF\n", -1, AR_TOML_1_0,
               "agent-runner.toml:1:5: integer 0xFFFFFFFFFFFFFFFFFFFFFFFF does not fit in 64 bits");

  g_autoptr(GString) digits = g_string_new("n = 1");
  for (guint i = 0; i < 5000; i++)
    g_string_append_c(digits, '0' + i % 10);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArTomlNode) big = ar_toml_parse(digits->str, -1, "t.toml", &error);
  g_assert_null(big);
  g_assert_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX);
  g_assert_true(g_str_has_suffix(error->message, "does not fit in 64 bits"));
}

static void
test_nul(void)
{
  /* A raw NUL byte is never allowed... */
  static const char raw[] = "a = 1\nb = \"x\0y\"\n";
  assert_error(raw, sizeof raw - 1, AR_TOML_1_0,
               "agent-runner.toml:2:7: NUL byte in document (write \\u0000 in a basic string)");
  static const char bare[] = "\0";
  assert_error(bare, 1, AR_TOML_1_0,
               "agent-runner.toml:1:1: NUL byte in document (write \\u0000 in a basic string)");

  /* ...but an escaped one is, in values and in keys. */
  g_autoptr(ArTomlNode) root = parse_ok("s = \"x\\u0000y\"\n"
                                        "\"k\\u0000\" = 1\n"
                                        "k = 2\n");
  const ArTomlNode *s = ar_toml_get(root, "s");
  g_assert_cmpuint(s->str_len, ==, 3);
  g_assert_cmpmem(s->v.str, 3, "x\0y", 3);

  const ArTomlNode *k0 = ar_toml_at(root, 1);
  g_assert_cmpuint(k0->key_len, ==, 2);
  g_assert_cmpmem(k0->key, 2, "k\0", 2);
  g_assert_cmpint(ar_toml_get(root, "k")->v.integer, ==, 2);

  assert_error("\"k\\u0000\" = 1\n\"k\\u0000\" = 2\n", -1, AR_TOML_1_0,
               "agent-runner.toml:2:1: duplicate key \"'k\\u0000'\" (first defined at 1:1)");

  g_autofree char *json = ar_toml_to_tagged_json(root);
  g_assert_nonnull(strstr(json, "\"k\\u0000\":{\"type\":\"integer\",\"value\":\"1\"}"));
  g_assert_nonnull(strstr(json, "\"value\":\"x\\u0000y\""));
}

static char *
repeat(const char *s, guint n)
{
  GString *out = g_string_new(NULL);
  for (guint i = 0; i < n; i++)
    g_string_append(out, s);
  return g_string_free(out, FALSE);
}

static void
assert_depth(const char *prefix, const char *open, const char *mid, const char *close,
             const char *suffix, guint n, gboolean ok)
{
  g_autofree char *o = repeat(open, n);
  g_autofree char *c = repeat(close, n);
  g_autofree char *text = g_strconcat(prefix, o, mid, c, suffix, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArTomlNode) root = ar_toml_parse(text, -1, "t.toml", &error);

  if (ok) {
    g_assert_no_error(error);
    g_assert_nonnull(root);
  } else {
    g_assert_null(root);
    g_assert_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX);
    g_assert_nonnull(strstr(error->message, "nesting too deep"));
  }
}

static void
test_depth_limit(void)
{
  /* "a" is at depth 1, so it can hold AR_TOML_MAX_DEPTH - 1 more levels. */
  const guint n = AR_TOML_MAX_DEPTH;

  assert_depth("a = ", "[", "", "]", "\n", n, TRUE);
  assert_depth("a = ", "[", "", "]", "\n", n + 1, FALSE);
  assert_depth("a = ", "{b=", "1", "}", "\n", n - 1, TRUE);
  assert_depth("a = ", "{b=", "1", "}", "\n", n, FALSE);
  assert_depth("", "k.", "k = 1", "", "\n", n - 1, TRUE);
  assert_depth("", "k.", "k = 1", "", "\n", n, FALSE);
  assert_depth("[", "k.", "k", "", "]\n", n - 1, TRUE);
  assert_depth("[", "k.", "k", "", "]\n", n, FALSE);
  /* Dotted keys inside nested inline tables count too. */
  assert_depth("a = ", "{b.c=", "1", "}", "\n", n / 2, FALSE);

  /* Far past the limit: an error, not a stack overflow. */
  assert_depth("a = ", "[", "", "]", "\n", 100000, FALSE);
  assert_depth("a = ", "{b=", "1", "}", "\n", 100000, FALSE);
  assert_depth("a = ", "[{b=", "1", "}]", "\n", 50000, FALSE);
}

static void
test_version_1_1(void)
{
  const char *text = "s = \"\\e[0m \\x41\"\n"
                     "t = 12:30\n"
                     "d = 2024-01-02 03:04\n"
                     "i = {\n"
                     "  a = 1, # one\n"
                     "  b = 2,\n"
                     "}\n";
  g_autoptr(GError) error = NULL;
  g_autoptr(ArTomlNode) strict = ar_toml_parse(text, -1, "t.toml", &error);
  g_assert_null(strict);
  g_assert_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX);
  g_clear_error(&error);

  g_autoptr(ArTomlNode) root = ar_toml_parse_full(text, -1, "t.toml", AR_TOML_1_1, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(ar_toml_get(root, "s")->v.str, ==, "\x1b[0m A");
  g_assert_cmpstr(ar_toml_get(root, "t")->v.datetime, ==, "12:30:00");
  g_assert_cmpstr(ar_toml_get(root, "d")->v.datetime, ==, "2024-01-02T03:04:00");
  g_assert_cmpuint(ar_toml_len(ar_toml_get(root, "i")), ==, 2);
}

static void
test_tagged_json(void)
{
  g_autoptr(ArTomlNode) root = parse_ok("a = 0.1\n"
                                        "b = [1, \"two\\n\"]\n"
                                        "c = {}\n"
                                        "d = -0.0\n"
                                        "[[e]]\n");
  g_autofree char *json = ar_toml_to_tagged_json(root);
  g_assert_cmpstr(json, ==,
                  "{\"a\":{\"type\":\"float\",\"value\":\"0.1\"},"
                  "\"b\":[{\"type\":\"integer\",\"value\":\"1\"},"
                  "{\"type\":\"string\",\"value\":\"two\\n\"}],"
                  "\"c\":{},"
                  "\"d\":{\"type\":\"float\",\"value\":\"-0\"},"
                  "\"e\":[{}]}\n");
}

static void
test_parse_file(void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp("ar-toml-XXXXXX", &error);
  g_assert_no_error(error);
  g_autofree char *good = g_build_filename(dir, "good.toml", NULL);
  g_autofree char *bad = g_build_filename(dir, "bad.toml", NULL);
  g_autofree char *missing = g_build_filename(dir, "missing.toml", NULL);

  g_assert_true(g_file_set_contents(good, "x = 1\n", -1, NULL));
  g_assert_true(g_file_set_contents(bad, "x = 1\nx = 2\n", -1, NULL));

  g_autoptr(ArTomlNode) root = ar_toml_parse_file(good, &error);
  g_assert_no_error(error);
  g_assert_cmpint(ar_toml_get(root, "x")->v.integer, ==, 1);

  g_autoptr(ArTomlNode) none = ar_toml_parse_file(bad, &error);
  g_assert_null(none);
  g_autofree char *want =
      g_strdup_printf("%s:2:1: duplicate key \"x\" (first defined at 1:1)", bad);
  g_assert_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX);
  g_assert_cmpstr(error->message, ==, want);
  g_clear_error(&error);

  g_autoptr(ArTomlNode) absent = ar_toml_parse_file(missing, &error);
  g_assert_null(absent);
  g_assert_error(error, AR_TOML_ERROR, AR_TOML_ERROR_IO);
  g_clear_error(&error);

  g_unlink(good);
  g_unlink(bad);
  g_rmdir(dir);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/toml/positions", test_positions_tree);
  g_test_add_func("/toml/positions-crlf-bom", test_positions_crlf_bom);
  g_test_add_func("/toml/errors", test_errors);
  g_test_add_func("/toml/error-default-filename", test_error_default_filename);
  g_test_add_func("/toml/dotted-keys", test_dotted_keys);
  g_test_add_func("/toml/arrays-of-tables", test_arrays_of_tables);
  g_test_add_func("/toml/access", test_access);
  g_test_add_func("/toml/values", test_values);
  g_test_add_func("/toml/huge-integers", test_huge_integers);
  g_test_add_func("/toml/nul", test_nul);
  g_test_add_func("/toml/depth-limit", test_depth_limit);
  g_test_add_func("/toml/version-1.1", test_version_1_1);
  g_test_add_func("/toml/tagged-json", test_tagged_json);
  g_test_add_func("/toml/parse-file", test_parse_file);
  return g_test_run();
}
