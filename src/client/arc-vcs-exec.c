/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* How the thin client runs the verbs whose table row says ARC_VERB_HELPER
 * (init commits the scaffold, orphans lists and pops stashed rounds;
 * config check, doctor and install run the start-up checks, which open the
 * work tree; uninstall lives beside install; secret needs libsecret), and
 * `__complete`: it execs the full client, agent-runner-vcs in libexecdir,
 * with the same global options and verb arguments.
 *
 * Why: libgit2 drags in its TLS, SSH and Kerberos chain (14 shared
 * libraries, most of the client's relocations and start-up CPU), and every
 * other verb (status, peek, stop, ...) only talks to the bus. Linking the
 * git verbs into a second executable keeps `agent-runner status` cheap
 * and costs those verbs one execve. The helper is built from the
 * same arc-main.c and client library as this binary, so its verbs, help
 * and messages are the same. */

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-util.h"
#include "arc-client.h"

int
arc_exec_helper(ArcContext *ctx, int argc, char **argv)
{
  /* Never run a verb for real while shell completion is reading option
   * tables (it runs in the helper anyway, see arc_completion_main). */
  if (arc_options_hook)
    return AR_EXIT_USAGE;

  const char *helper = ar_vcs_helper_path();
  g_autoptr(GPtrArray) args = g_ptr_array_new();

  g_ptr_array_add(args, (char *)helper);
  if (ctx->config_path) {
    g_ptr_array_add(args, "--config");
    g_ptr_array_add(args, ctx->config_path);
  }
  if (ctx->project) {
    g_ptr_array_add(args, "--project");
    g_ptr_array_add(args, ctx->project);
  }
  if (ctx->json)
    g_ptr_array_add(args, "--json");
  if (ctx->system)
    g_ptr_array_add(args, "--system");
  for (int i = 0; i < argc; i++)
    g_ptr_array_add(args, argv[i]);
  g_ptr_array_add(args, NULL);
  fflush(stdout);
  execv(helper, (char **)args->pdata);
  int errsv = errno;
  fprintf(stderr, _("agent-runner: cannot run %s for '%s': %s (is the installation complete?)\n"),
          helper, argv[0], g_strerror(errsv));
  return AR_EXIT_FAILURE;
}
