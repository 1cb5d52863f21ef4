/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The exit-code table (src/common/ar-exit.h) against itself and against
 * the supervisor's unit: RestartPreventExitStatus= lists exactly the codes
 * the table marks prevents_restart. */

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "ar-exit.h"

static void
test_table_consistent(void)
{
  gsize n = 0;
  const ArExitInfo *t = ar_exit_table(&n);
  g_assert_cmpuint(n, >, 0);
  g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
  for (gsize i = 0; i < n; i++) {
    /* Ascending and unique, each with a name and a meaning. */
    if (i > 0)
      g_assert_cmpint(t[i - 1].code, <, t[i].code);
    g_assert_true(t[i].name && *t[i].name);
    g_assert_true(t[i].meaning && *t[i].meaning);
    g_assert_true(g_hash_table_add(names, (gpointer)t[i].name));
    g_assert_true(ar_exit_lookup(t[i].code) == &t[i]);
    g_assert_cmpint(t[i].code, <, 126); /* above: the shell's and the signals' */
  }
  g_assert_null(ar_exit_lookup(77));
  g_assert_cmpint(ar_exit_lookup(AR_EXIT_CONFIG)->code, ==, 78);
}

static void
test_unit_prevents_restart(void)
{
  const char *src = g_getenv("AR_SOURCE_ROOT");
  if (!src) {
    g_test_skip("AR_SOURCE_ROOT is not set");
    return;
  }
  g_autofree char *path =
      g_build_filename(src, "data", "systemd", "agent-runner@.service.in", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  g_autoptr(GArray) listed = g_array_new(FALSE, FALSE, sizeof(int));
  for (guint i = 0; lines[i]; i++) {
    if (!g_str_has_prefix(lines[i], "RestartPreventExitStatus="))
      continue;
    g_auto(GStrv) words = g_strsplit(lines[i] + strlen("RestartPreventExitStatus="), " ", -1);
    for (guint w = 0; words[w]; w++) {
      if (!*words[w])
        continue;
      int code = atoi(words[w]);
      g_array_append_val(listed, code);
    }
  }
  gsize n = 0;
  const ArExitInfo *t = ar_exit_table(&n);
  guint expected = 0;
  for (gsize i = 0; i < n; i++) {
    if (!t[i].prevents_restart)
      continue;
    expected++;
    gboolean found = FALSE;
    for (guint j = 0; j < listed->len; j++)
      found = found || g_array_index(listed, int, j) == (int)t[i].code;
    if (!found)
      g_test_message("%s: RestartPreventExitStatus= lacks %d (%s)", path, t[i].code, t[i].name);
    g_assert_true(found);
  }
  for (guint j = 0; j < listed->len; j++) {
    const ArExitInfo *e = ar_exit_lookup(g_array_index(listed, int, j));
    g_assert_nonnull(e);
    g_assert_true(e->prevents_restart);
  }
  g_assert_cmpuint(listed->len, ==, expected);
}

/* The daemon's man page lists every code the daemon itself returns. */
static void
test_man_page_lists_codes(void)
{
  const char *src = g_getenv("AR_SOURCE_ROOT");
  if (!src) {
    g_test_skip("AR_SOURCE_ROOT is not set");
    return;
  }
  g_autofree char *path = g_build_filename(src, "docs", "agent-runnerd.8.in", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  const ArExit daemon_codes[] = { AR_EXIT_OK,     AR_EXIT_FAILURE,    AR_EXIT_LOCKED,
                                  AR_EXIT_CONFIG, AR_EXIT_CRASH_LOOP, AR_EXIT_AUTH };
  for (gsize i = 0; i < G_N_ELEMENTS(daemon_codes); i++) {
    g_autofree char *entry = g_strdup_printf("\n.TP\n.B %d\n", daemon_codes[i]);
    if (!strstr(text, entry))
      g_test_message("%s: EXIT STATUS lacks %d", path, daemon_codes[i]);
    g_assert_nonnull(strstr(text, entry));
  }
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/exit/table", test_table_consistent);
  g_test_add_func("/exit/unit-prevents-restart", test_unit_prevents_restart);
  g_test_add_func("/exit/man-page", test_man_page_lists_codes);
  return g_test_run();
}
