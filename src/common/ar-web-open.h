/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Where the monitor's web page leaves its token and URL, and opening that
 * URL in a browser without putting the token on a command line (where
 * every local user can read it in /proc/PID/cmdline). */

#include <glib.h>

G_BEGIN_DECLS

#define AR_WEB_TOKEN_FILE "monitor-http.token"
#define AR_WEB_URL_FILE   "monitor-http.url"
#define AR_WEB_OPEN_FILE  "monitor-http-open.html"

/* $XDG_RUNTIME_DIR/agent-runner, or /run/agent-runner without one (a
 * system service). */
char *ar_web_runtime_dir(void);
/* Writes dir/AR_WEB_OPEN_FILE (0600), a page that redirects to url, and
 * starts `xdg-open file://...` on it (as Jupyter does): the browser gets
 * the token from a file only its user can read. wait: wait for xdg-open
 * and fail on its failure (the client); else start it and return (the
 * monitor's loop must not wait for a browser). */
gboolean ar_web_open(const char *dir, const char *url, gboolean wait, GError **error);

G_END_DECLS
