#include "config.h"

/* The thin client's stand-ins for the verbs that do git work in-process
 * (init commits the scaffold, orphans lists and pops stashed rounds;
 * config check, doctor and install run the start-up checks, which open the
 * work tree; uninstall lives beside install; secret needs libsecret):
 * they exec the full client,
 * agent-runner-vcs in libexecdir, with the same global options and verb
 * arguments.
 *
 * Why: libgit2 drags in its TLS, SSH and Kerberos chain (14 shared
 * libraries, most of the client's relocations and start-up CPU), and every
 * other verb (status, peek, stop, ...) only talks to the bus. Linking the
 * git verbs into a second executable keeps `agent-runner status` cheap
 * and costs those verbs one execve. The helper is built from the
 * same arc-main.c and client library as this binary, so its verbs, help
 * and messages are the same. */

#include <errno.h>
#include <glib/gi18n.h>
#include <stdio.h>
#include <unistd.h>

#include "ar-util.h"
#include "arc-client.h"
#include "arc-completion.h"

static int
exec_vcs_helper(ArcGlobal *global, int argc, char **argv)
{
  /* Never run a verb for real while shell completion is reading option
   * tables (it runs in the helper anyway, see arc_completion_main). */
  if (arc_options_hook)
    return AR_EXIT_USAGE;

  const char *helper = ar_vcs_helper_path();
  g_autoptr(GPtrArray) args = g_ptr_array_new();

  g_ptr_array_add(args, (char *)helper);
  if (global->config_path) {
    g_ptr_array_add(args, "--config");
    g_ptr_array_add(args, global->config_path);
  }
  if (global->project) {
    g_ptr_array_add(args, "--project");
    g_ptr_array_add(args, global->project);
  }
  if (global->json)
    g_ptr_array_add(args, "--json");
  if (global->system)
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

int
arc_verb_init(ArcGlobal *global, int argc, char **argv)
{
  return exec_vcs_helper(global, argc, argv);
}

int
arc_verb_orphans(ArcGlobal *global, int argc, char **argv)
{
  return exec_vcs_helper(global, argc, argv);
}

int
arc_verb_config(ArcGlobal *global, int argc, char **argv)
{
  return exec_vcs_helper(global, argc, argv);
}

int
arc_verb_doctor(ArcGlobal *global, int argc, char **argv)
{
  return exec_vcs_helper(global, argc, argv);
}

int
arc_verb_install(ArcGlobal *global, int argc, char **argv)
{
  return exec_vcs_helper(global, argc, argv);
}

int
arc_verb_uninstall(ArcGlobal *global, int argc, char **argv)
{
  return exec_vcs_helper(global, argc, argv);
}

int
arc_verb_secret(ArcGlobal *global, int argc, char **argv)
{
  return exec_vcs_helper(global, argc, argv);
}

/* `__complete` (shell completion, the man page's verb list) reads every
 * verb's options, and some verbs live only in the helper. */
int
arc_completion_main(ArcGlobal *global, int argc, char **argv)
{
  return exec_vcs_helper(global, argc, argv);
}
