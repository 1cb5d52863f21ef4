/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* agent-runnerd: the per-project supervisor. `agent-runner serve` and
 * `agent-runner round` exec it in the foreground; the systemd unit runs it
 * as agent-runner@PROJECT.service.
 *
 *   agent-runnerd [--config F] [--max-rounds N] [--once] [--round [--phase P]]
 *                 [--no-journal] [--clear-done] [--user | --system]
 *
 * Exit codes: the table in src/common/ar-exit.h (0 deliberate stop, 1
 * internal error, 75 locked, 78 config, 79 crash loop, 80 auth); the
 * unit lists the ones that prevent a restart in RestartPreventExitStatus=.
 *
 * --round: exit code = the agent's exit code (128+N when killed by signal
 * N, 127 when it could not be started); 75/78 as above. */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-redact.h"
#include "ar-util.h"
#include "ard-bus.h"
#include "ard-console.h"
#include "ard-fault.h"
#include "ard-loop.h"
#include "ard-sched.h"
#include "ard-upgrade.h"

/* A second build of the daemon for the upgrade tests: another version
 * string, and the test-only upgrade fault switch. */
#ifdef AR_VERSION_OVERRIDE
#define ARD_VERSION     AR_VERSION_OVERRIDE
#define ARD_TEST_FAULTS TRUE
#else
#define ARD_VERSION     PACKAGE_VERSION
#define ARD_TEST_FAULTS FALSE
#endif

/* The agent's stdio and our pipes must never land on fds 0-2 by accident:
 * a daemon started with them closed would hand its own pipes out as the
 * agent's stdin/stdout. */
static void
ensure_std_fds(void)
{
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) >= 0)
      continue;
    int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (n >= 0 && n != fd) {
      dup2(n, fd);
      close(n);
    }
  }
}

static int
exit_code_for(const GError *error)
{
  if (error->domain == AR_ERROR && error->code == AR_ERROR_LOCKED)
    return AR_EXIT_LOCKED;
  if (error->domain == AR_ERROR && error->code == AR_ERROR_CONFIG)
    return AR_EXIT_CONFIG;
  return AR_EXIT_FAILURE;
}

int
main(int argc, char **argv)
{
  ar_i18n_init();
  ensure_std_fds();
  /* A closed agent stdin must be EPIPE for the writer, not a kill. */
  signal(SIGPIPE, SIG_IGN);
  g_log_set_writer_func(ar_redact_log_writer, NULL, NULL);
  ard_fault_init(ARD_TEST_FAULTS);
  ard_upgrade_init(argc, argv, ARD_VERSION);
  (void)ard_sched_request_short_slice();

  g_autofree char *config_path = NULL;
  g_autofree char *phase = NULL;
  int max_rounds = 0;
  gboolean once = FALSE;
  gboolean round_mode = FALSE;
  gboolean no_journal = FALSE;
  gboolean clear_done = FALSE;
  gboolean user_mode = FALSE;
  gboolean system_mode = FALSE;
  gboolean version = FALSE;
  gboolean console = FALSE;
  gboolean quiet = FALSE;
  int deserialize_fd = -1;
  gboolean self_check = FALSE;
  g_autofree char *rollback_reason = NULL;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      N_("Configuration file (default: ./agent-runner.toml)"), N_("FILE") },
    { "max-rounds", 0, 0, G_OPTION_ARG_INT, &max_rounds,
      N_("Stop after N rounds (overrides [runtime] max_rounds)"), "N" },
    { "once", 0, 0, G_OPTION_ARG_NONE, &once, N_("Run one round, then stop"), NULL },
    { "round", 0, 0, G_OPTION_ARG_NONE, &round_mode,
      N_("Run exactly one round; exit with the agent's exit code"), NULL },
    { "phase", 0, 0, G_OPTION_ARG_STRING, &phase, N_("Phase of the --round (from [phases] list)"),
      N_("PHASE") },
    { "no-journal", 0, 0, G_OPTION_ARG_NONE, &no_journal, N_("Do not send events to the journal"),
      NULL },
    { "clear-done", 0, 0, G_OPTION_ARG_NONE, &clear_done,
      N_("Explicit start: remove .agent-done and forget an earlier lasting stop"), NULL },
    { "user", 0, 0, G_OPTION_ARG_NONE, &user_mode, N_("User service mode (default)"), NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &system_mode, N_("System service mode"), NULL },
    { "console", 0, 0, G_OPTION_ARG_NONE, &console,
      N_("One line per notable event on stderr, terminal or not"), NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet,
      N_("No progress lines on stderr, even on a terminal"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version"), NULL },
    { "deserialize", 0, 0, G_OPTION_ARG_INT, &deserialize_fd,
      N_("Upgrade in place: take over the state handed over on FD"), "FD" },
    { "self-check", 0, 0, G_OPTION_ARG_NONE, &self_check,
      N_("With --deserialize: check the config and the handed-over state, then exit"), NULL },
    { "rollback-reason", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &rollback_reason, NULL,
      NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_summary(ctx, _("The agent-runner supervisor: runs the agent round after "
                                      "round for one project."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "agent-runnerd: %s\n", error->message);
    return AR_EXIT_FAILURE;
  }
  if (version) {
    if (ard_fault("version-exit-1"))
      return AR_EXIT_FAILURE;
    printf("agent-runnerd %s\n", ard_version());
    return AR_EXIT_OK;
  }
  if (self_check) {
    if (deserialize_fd < 0) {
      fprintf(stderr, _("agent-runnerd: --self-check needs --deserialize FD\n"));
      return AR_EXIT_FAILURE;
    }
    return ard_upgrade_self_check(config_path, deserialize_fd);
  }
  g_autoptr(ArdHandover) handover = NULL;
  if (deserialize_fd >= 0 &&
      !ard_upgrade_take_handover(deserialize_fd, rollback_reason, &handover, &error)) {
    ard_upgrade_rollback(handover, deserialize_fd, error->message);
    return AR_EXIT_FAILURE;
  }
  if (handover) {
    /* The loop goes on as it was: same config, same bounds. */
    g_free(config_path);
    config_path = g_strdup(handover->config_path);
    max_rounds = (int)handover->max_rounds;
    once = handover->once;
    clear_done = FALSE;
  }
  if (argc > 1) {
    fprintf(stderr, _("agent-runnerd: unexpected argument \"%s\"\n"), argv[1]);
    return AR_EXIT_FAILURE;
  }
  if (max_rounds < 0) {
    fprintf(stderr, _("agent-runnerd: --max-rounds must be positive\n"));
    return AR_EXIT_FAILURE;
  }
  if (phase && !round_mode) {
    fprintf(stderr, _("agent-runnerd: --phase needs --round\n"));
    return AR_EXIT_FAILURE;
  }
  if (round_mode && (once || max_rounds > 0)) {
    fprintf(stderr, _("agent-runnerd: --round runs one round; drop --once/--max-rounds\n"));
    return AR_EXIT_FAILURE;
  }

  ArdOptions opts = {
    .config_path = config_path,
    .max_rounds = (guint)max_rounds,
    .once = once,
    .round_mode = round_mode,
    .phase = phase,
    .journal = !no_journal,
    .clear_done = clear_done,
    .console = quiet     ? ARD_CONSOLE_NEVER
               : console ? ARD_CONSOLE_ALWAYS
                         : ARD_CONSOLE_AUTO,
    .handover = handover,
    .version = ard_version(),
    .on_ready = ard_upgrade_adopted,
    .on_round_ended = ard_upgrade_round_ended,
    .on_adopt_failed = ard_upgrade_adopt_failed,
  };
  g_autoptr(ArdLoop) loop = ard_loop_new(&opts, &error);
  if (!loop && handover)
    ard_upgrade_rollback(handover, deserialize_fd, error->message);
  if (!loop) {
    fprintf(stderr, "agent-runnerd: %s\n", error->message);
    return exit_code_for(error);
  }
  /* The bus name is owned before ard_loop_run() says READY=1. */
  g_autoptr(ArdBus) bus = ard_bus_new(loop, system_mode, &error);
  if (!bus && handover) {
    /* The handed-over lock fd is still open: the old image adopts it. */
    g_clear_pointer(&loop, ard_loop_free);
    ard_upgrade_rollback(handover, deserialize_fd, error->message);
  }
  if (!bus) {
    fprintf(stderr, "agent-runnerd: %s\n", error->message);
    return exit_code_for(error);
  }
  return ard_loop_run(loop);
}
