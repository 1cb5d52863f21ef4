/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ar-monitor-settings.h"
#include "ar-web-open.h"
#include "arc-client.h"

/* `agent-runner web [--open]`: the address of the web page that the
 * monitor of this bus serves (it writes the tokenized URL, 0600, into its
 * runtime directory), or the page opened in the browser. --open never puts
 * the token on a command line: xdg-open gets a file:// page that only this
 * user can read, which redirects to the URL (as Jupyter does). */

#define REACH_TIMEOUT_S 3

static char *
not_served_hint(ArcContext *ctx)
{
  g_autofree char *settings = ar_monitor_settings_path(ctx->system);
  return g_strdup_printf(
      _("start it with 'agent-runner%s monitor --http', or set [monitor] http = true in %s and "
        "restart the monitor ('systemctl%s restart agent-runner-monitor')"),
      ctx->system ? " --system" : "", settings, ctx->system ? "" : " --user");
}

/* The monitor leaves the URL file behind when it exits: a page is only
 * served while something accepts on its port. */
static gboolean
reachable(const char *url, GError **error)
{
  g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, error);
  if (!uri)
    return FALSE;
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_socket_client_set_timeout(client, REACH_TIMEOUT_S);
  g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host(
      client, g_uri_get_host(uri), (guint16)g_uri_get_port(uri), NULL, error);
  return conn != NULL;
}

int
arc_verb_web(ArcContext *ctx, int argc, char **argv)
{
  gboolean open = FALSE;
  GOptionEntry entries[] = {
    { "open", 0, 0, G_OPTION_ARG_NONE, &open,
      N_("Open the page in the browser (xdg-open; the token goes through a file only you can "
         "read)"),
      NULL },
    { NULL },
  };
  if (!arc_parse_options(ctx, entries, &argc, &argv))
    return AR_EXIT_USAGE;
  /* A system monitor runs without XDG_RUNTIME_DIR: /run/agent-runner. */
  g_autofree char *dir =
      ctx->system ? g_build_filename("/run", "agent-runner", NULL) : ar_web_runtime_dir();
  g_autofree char *path = g_build_filename(dir, AR_WEB_URL_FILE, NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(path, &text, NULL, &error)) {
    g_autofree char *hint = not_served_hint(ctx);
    if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      fprintf(stderr, _("agent-runner web: no monitor serves the web page on this bus: %s\n"),
              hint);
      return AR_EXIT_NOT_RUNNING;
    }
    fprintf(stderr,
            _("agent-runner web: %s (the page's address is readable only by the user the "
              "monitor runs as)\n"),
            error->message);
    return g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_ACCES) ? AR_EXIT_ACCESS_DENIED
                                                                    : AR_EXIT_FAILURE;
  }
  g_strstrip(text);
  if (!reachable(text, &error)) {
    g_autofree char *hint = not_served_hint(ctx);
    fprintf(stderr, _("agent-runner web: the monitor that served the web page is gone (%s): %s\n"),
            error->message, hint);
    return AR_EXIT_NOT_RUNNING;
  }
  if (!open) {
    /* The user asked for it, on their own terminal. */
    printf("%s\n", text);
    return AR_EXIT_OK;
  }
  if (!ar_web_open(dir, text, TRUE, &error)) {
    fprintf(stderr, "agent-runner web: %s\n", error->message);
    return AR_EXIT_FAILURE;
  }
  return AR_EXIT_OK;
}
