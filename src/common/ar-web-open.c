/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-web-open.h"

#include <errno.h>
#include <sys/wait.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ar-util.h"

char *
ar_web_runtime_dir(void)
{
  const char *rt = g_getenv("XDG_RUNTIME_DIR");
  if (!rt || !*rt)
    rt = "/run";
  return g_build_filename(rt, "agent-runner", NULL);
}

static gboolean
write_redirect(const char *path, const char *url, GError **error)
{
  g_autofree char *attr = g_markup_escape_text(url, -1);
  g_autofree char *page = g_strdup_printf(
      "<!doctype html>\n<html><head><meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"refresh\" content=\"0;url=%s\">\n<title>agent-runner</title></head>\n"
      "<body><p><a href=\"%s\">agent-runner</a></p></body></html>\n",
      attr, attr);
  /* 0600 from the start: the page holds the token. */
  return g_file_set_contents_full(path, page, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

gboolean
ar_web_open(const char *dir, const char *url, gboolean wait, GError **error)
{
  g_autofree char *page = g_build_filename(dir, AR_WEB_OPEN_FILE, NULL);
  if (!write_redirect(page, url, error))
    return FALSE;
  g_autofree char *opener = ar_find_in_path("xdg-open", g_getenv("PATH"));
  g_autofree char *file_url = g_filename_to_uri(page, NULL, error);
  if (!file_url)
    return FALSE;
  if (!opener) {
    g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT,
                _("xdg-open is not installed (package xdg-utils): open %s in a browser"), file_url);
    return FALSE;
  }
  const char *argv[] = { opener, file_url, NULL };
  if (!wait)
    return g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                         error);
  int status = 0;
  if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, NULL, NULL,
                    &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status(status, NULL)) {
    g_set_error(error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED,
                _("xdg-open could not open the page (exit status %d): open %s in a browser"),
                WIFEXITED(status) ? WEXITSTATUS(status) : status, file_url);
    return FALSE;
  }
  return TRUE;
}
