/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Property test of the exact-string redactor (ar-redact-literal.c):
 * 1,000 random values (regex metacharacters, UTF-8, 1 to 4,096 bytes,
 * values that are prefixes of each other) placed at random in random text.
 * The output must equal a naive reference (mark every byte covered by any
 * occurrence of any value, replace each covered run by one marker), and no
 * byte outside a marker may belong to an occurrence. Then the stream cut
 * at the line limit: what is left of the cut text before the cut never
 * ends with the beginning of a value. */

#include <string.h>

#include "ar-redact.h"

#define N_VALUES 1000

static const char *const pieces[] = {
  ".", "*",    "+", "?",  "(", ")",  "[",  "]", "{", "}", "^", "$", "|",  "\\", "\\1",
  "é", "日本", "🚀", "\"", "'", "\n", "\t", " ", "a", "b", "0", "=", "%s", "<",  ">",
};

static char *
random_value(GRand *rng, GPtrArray *values)
{
  /* One in five starts as an earlier value (prefix or extension). */
  GString *s = g_string_new(NULL);
  if (values->len > 0 && g_rand_int_range(rng, 0, 5) == 0) {
    const char *base = g_ptr_array_index(values, g_rand_int_range(rng, 0, values->len));
    gsize cut = g_rand_int_range(rng, 1, (gint32)strlen(base) + 1);
    g_string_append_len(s, base, (gssize)cut);
  }
  /* Log-uniform length: short and long values alike. */
  gsize target = (gsize)(1u << g_rand_int_range(rng, 0, 13));
  target = MIN(4096, target + (gsize)g_rand_int_range(rng, 0, (gint32)target));
  while (s->len < target) {
    if (g_rand_int_range(rng, 0, 3) == 0)
      g_string_append(s, pieces[g_rand_int_range(rng, 0, G_N_ELEMENTS(pieces))]);
    else
      g_string_append_c(s, (char)g_rand_int_range(rng, 'A', 'Z' + 1));
  }
  /* Cut back to at most 4096 bytes on a character boundary. */
  while (s->len > 4096 || !g_utf8_validate(s->str, (gssize)s->len, NULL))
    g_string_truncate(s, s->len - 1);
  if (s->len == 0)
    g_string_append_c(s, 'Q');
  return g_string_free(s, FALSE);
}

static char *
reference(const char *text, gsize len, GPtrArray *values)
{
  g_autofree guint8 *mark = g_malloc0(len + 1);
  for (guint v = 0; v < values->len; v++) {
    const char *val = g_ptr_array_index(values, v);
    gsize vl = strlen(val);
    for (const char *p = text; (p = memmem(p, len - (gsize)(p - text), val, vl)); p++)
      memset(mark + (p - text), 1, vl);
  }
  GString *out = g_string_new(NULL);
  for (gsize i = 0; i < len;) {
    if (!mark[i]) {
      g_string_append_c(out, text[i++]);
      continue;
    }
    g_string_append(out, AR_REDACTED);
    while (i < len && mark[i])
      i++;
  }
  return g_string_free(out, FALSE);
}

static void
test_property(void)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed(g_test_rand_int());
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
  ar_redact_clear_secrets();
  for (guint i = 0; i < N_VALUES; i++) {
    char *v = random_value(rng, values);
    g_ptr_array_add(values, v);
    ar_redact_add_secret(v);
  }
  g_assert_cmpuint(ar_redact_max_secret_len(), <=, 4096);
  for (guint round = 0; round < 20; round++) {
    g_autoptr(GString) text = g_string_new(NULL);
    guint n = g_rand_int_range(rng, 1, 60);
    for (guint i = 0; i < n; i++) {
      for (gint32 k = g_rand_int_range(rng, 0, 40); k > 0; k--)
        g_string_append(text, pieces[g_rand_int_range(rng, 0, G_N_ELEMENTS(pieces))]);
      const char *v = g_ptr_array_index(values, g_rand_int_range(rng, 0, values->len));
      /* Sometimes only part of a value: must stay as it is unless it is
       * itself a value. */
      gsize vl = strlen(v);
      g_string_append_len(text, v,
                          g_rand_int_range(rng, 0, 4) ? (gssize)vl : g_rand_int_range(rng, 0, vl));
    }
    g_autofree char *got = ar_redact_literals_len(text->str, text->len);
    g_autofree char *want = reference(text->str, text->len, values);
    g_assert_cmpstr(got, ==, want);

    /* The line-limit cut: hold back what may start a value; the rest of
     * the line is dropped, as the daemon's line scanner does. */
    gsize cut = g_rand_int_range(rng, 1, (gint32)text->len + 1);
    gsize keep = cut - ar_redact_partial_tail(text->str, cut);
    /* No occurrence of a value may cross the kept boundary: it would be
     * shown in part, where no exact match can find it. */
    for (guint v = 0; v < values->len; v++) {
      const char *val = g_ptr_array_index(values, v);
      gsize vl = strlen(val);
      gsize from = keep >= vl ? keep - vl + 1 : 0;
      for (gsize st = from; st < keep && st + vl <= text->len; st++)
        if (memcmp(text->str + st, val, vl) == 0)
          g_error("value %u crosses the cut at %zu (starts at %zu)", v, keep, st);
    }
  }
  ar_redact_clear_secrets();
}

/* Values split by the line limit: the part before the cut must not end
 * with the start of a value. */
static void
test_cut(void)
{
  ar_redact_clear_secrets();
  ar_redact_add_secret("correct-horse-battery");
  ar_redact_add_secret("horse-x");
  const char *text = "log: correct-horse-bat";
  gsize keep = strlen(text) - ar_redact_partial_tail(text, strlen(text));
  g_assert_cmpuint(keep, ==, strlen("log: "));
  g_assert_cmpuint(ar_redact_partial_tail("nothing here", 12), ==, 0);
  /* Overlapping and nested occurrences become one marker per run. */
  g_autofree char *a = ar_redact_literals_len("xcorrect-horse-x y", 18);
  g_assert_cmpstr(a, ==, "xcorrect-<redacted> y");
  ar_redact_add_secret("aa");
  g_autofree char *b = ar_redact_literals_len("baaab", 5);
  g_assert_cmpstr(b, ==, "b<redacted>b");
  ar_redact_clear_secrets();
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/redact-property/1000-values", test_property);
  g_test_add_func("/redact-property/cut", test_cut);
  return g_test_run();
}
