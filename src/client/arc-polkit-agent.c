/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arc-polkit-agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ar-util.h"

/* How long to wait for the agent to register: it needs polkitd, which
 * answers at once or not at all. */
#define AGENT_REGISTER_TIMEOUT_MS 10000

static gboolean
agent_needed(const ArcContext *ctx)
{
  /* Only the system bus has polkit between the caller and the service;
   * root is never asked; without a terminal there is nobody to ask; a
   * remote (-H) service asks the remote host's polkit. */
  return ctx->system && !ctx->hosts && geteuid() != 0 && isatty(STDIN_FILENO);
}

void
arc_polkit_agent_open(ArcContext *ctx)
{
  if (ctx->polkit_agent > 0 || !agent_needed(ctx))
    return;
  const char *path = g_getenv("PATH");
  g_autofree char *agent = ar_find_in_path("pkttyagent", path && *path ? path : "/usr/bin:/bin");
  if (!agent)
    return; /* polkit's tools are not installed: polkit refuses, as before */
  int notify[2];
  if (pipe2(notify, O_CLOEXEC) < 0)
    return;
  g_autofree char *fd_arg = g_strdup_printf("%d", notify[1]);
  pid_t parent = getpid();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    /* It must not outlive the verb, even a killed one. */
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
      _exit(0);
    /* The notify fd is the one descriptor it inherits beyond stdio. */
    (void)fcntl(notify[1], F_SETFD, 0);
    execl(agent, agent, "--notify-fd", fd_arg, "--fallback", (char *)NULL);
    _exit(127);
  }
  close(notify[1]);
  if (pid < 0) {
    close(notify[0]);
    return;
  }
  /* The agent closes the fd once registered, or exits: either way the
   * verb's calls may go now. */
  struct pollfd p = { .fd = notify[0], .events = POLLIN };
  int r;
  do
    r = poll(&p, 1, AGENT_REGISTER_TIMEOUT_MS);
  while (r < 0 && errno == EINTR);
  close(notify[0]);
  ctx->polkit_agent = pid;
}

void
arc_polkit_agent_close(ArcContext *ctx)
{
  if (ctx->polkit_agent <= 0)
    return;
  (void)kill(ctx->polkit_agent, SIGTERM);
  while (waitpid(ctx->polkit_agent, NULL, 0) < 0 && errno == EINTR)
    ;
  ctx->polkit_agent = 0;
}
