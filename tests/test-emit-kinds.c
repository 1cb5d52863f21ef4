/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "ar-events.h"

/* Every event kind the code emits by name is a row of the event table: an
 * unknown kind is only a g_critical at run time, on a path a test may never
 * take. This reads the sources under src/ and checks each string literal in
 * the kind argument of ar_emit(), ar_emitv() and ar_emitter_emit() (a
 * literal, or each side of a "cond ? "a" : "b"" choice). */

static const char *const emit_functions[] = { "ar_emit", "ar_emitv", "ar_emitter_emit" };

/* p points just after an argument's start; returns the end of that
 * argument (the top-level ',' or ')'), skipping nested parentheses and
 * string or character literals. NULL at end of text. */
static const char *
argument_end(const char *p)
{
  int depth = 0;
  for (; *p; p++) {
    if (*p == '"' || *p == '\'') {
      char quote = *p;
      for (p++; *p && *p != quote; p++)
        if (*p == '\\' && p[1])
          p++;
      if (!*p)
        return NULL;
    } else if (*p == '(') {
      depth++;
    } else if (*p == ')' && depth == 0) {
      return p;
    } else if (*p == ')') {
      depth--;
    } else if (*p == ',' && depth == 0) {
      return p;
    }
  }
  return NULL;
}

/* The string literals in [start, end), each appended to out as "file:line kind". */
static void
collect_literals(const char *text, const char *start, const char *end, const char *file,
                 GPtrArray *out)
{
  for (const char *p = start; p < end; p++) {
    if (*p != '"')
      continue;
    const char *close = memchr(p + 1, '"', end - p - 1);
    if (close == NULL)
      return;
    guint line = 1;
    for (const char *q = text; q < p; q++)
      line += *q == '\n';
    g_ptr_array_add(out, g_strdup_printf("%s:%u %.*s", file, line, (int)(close - p - 1), p + 1));
    p = close;
  }
}

static gboolean
is_ident_char(char c)
{
  return g_ascii_isalnum(c) || c == '_';
}

static void
scan_file(const char *path, const char *rel, GPtrArray *out)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, &error));
  for (gsize f = 0; f < G_N_ELEMENTS(emit_functions); f++) {
    const char *name = emit_functions[f];
    gsize len = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + len, name)) {
      if ((p > text && is_ident_char(p[-1])) || is_ident_char(p[len]))
        continue;
      const char *q = p + len;
      while (g_ascii_isspace(*q))
        q++;
      if (*q != '(')
        continue;
      const char *first_end = argument_end(q + 1);
      if (first_end == NULL || *first_end != ',')
        continue;
      const char *second_end = argument_end(first_end + 1);
      if (second_end == NULL)
        continue;
      collect_literals(text, first_end + 1, second_end, rel, out);
    }
  }
}

static void
scan_dir(const char *root, const char *rel, GPtrArray *out)
{
  g_autofree char *dir_path = g_build_filename(root, rel, NULL);
  g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
  g_assert_nonnull(dir);
  for (const char *name; (name = g_dir_read_name(dir)) != NULL;) {
    g_autofree char *child_rel = g_build_filename(rel, name, NULL);
    g_autofree char *child = g_build_filename(root, child_rel, NULL);
    if (g_file_test(child, G_FILE_TEST_IS_DIR))
      scan_dir(root, child_rel, out);
    else if (g_str_has_suffix(name, ".c") || g_str_has_suffix(name, ".h"))
      scan_file(child, child_rel, out);
  }
}

static void
test_emitted_kinds_in_table(gconstpointer data)
{
  const char *root = data;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
  scan_dir(root, "src", found);
  /* The daemon and the monitor emit dozens of kinds by name: far fewer
   * means the scanner lost its way, not that the code changed. */
  g_assert_cmpuint(found->len, >=, 40);
  g_autoptr(GString) unknown = g_string_new(NULL);
  for (guint i = 0; i < found->len; i++) {
    const char *where = found->pdata[i];
    const char *kind = strchr(where, ' ') + 1;
    if (ar_event_kind_lookup(kind) == NULL)
      g_string_append_printf(unknown, "\n  %s", where);
  }
  if (unknown->len > 0)
    g_test_message(
        "kinds emitted but not in the event table (src/common/events/ar-event-table.c):%s",
        unknown->str);
  g_assert_cmpstr(unknown->str, ==, "");
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  const char *root = g_getenv("AR_SOURCE_ROOT");
  if (root == NULL) {
    g_printerr("AR_SOURCE_ROOT is not set (meson test sets it)\n");
    return 77;
  }
  g_test_add_data_func("/events/emitted-kinds-in-table", root, test_emitted_kinds_in_table);
  return g_test_run();
}
