/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-test-util.h"

#include <glib/gstdio.h>

void
ar_test_rm_rf(const char *path)
{
  g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name(dir))) {
    g_autofree char *child = g_build_filename(path, name, NULL);
    if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
      ar_test_rm_rf(child);
    else
      g_unlink(child);
  }
  g_rmdir(path);
}

void
ar_test_events_set_up(ArTestEvents *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp("test-events-XXXXXX", NULL);
  g_assert_nonnull(f->dir);
  f->em = ar_emitter_new(f->dir, "proj");
  ar_emitter_set_journal(f->em, FALSE);
}

void
ar_test_events_tear_down(ArTestEvents *f, gconstpointer data)
{
  g_clear_pointer(&f->em, ar_emitter_unref);
  ar_test_rm_rf(f->dir);
  g_clear_pointer(&f->dir, g_free);
}
