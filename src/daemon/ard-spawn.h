/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Starting the agent: fork + exec in its own session, with a pidfd, the
 * environment of the round, and the prompt written to stdin without ever
 * blocking the loop. */

#include <sys/types.h>

#include <glib.h>
#include <systemd/sd-event.h>

#include "ar-config.h"

G_BEGIN_DECLS

typedef struct {
  const char *exec_path;   /* resolved program (absolute) */
  const char *const *argv; /* argv[0] as configured */
  const char *const *envp;
  const char *cwd;
  int stdin_fd;          /* read end of the prompt pipe, or -1 for /dev/null */
  int output_fd;         /* write end of the output pipe: stdout and stderr */
  gboolean split_stderr; /* stderr to stderr_fd instead (hooks: stdout is their answer) */
  int stderr_fd;
  gboolean join_cgroup; /* the child writes itself into cgroup_procs_fd */
  int cgroup_procs_fd;
  int *cgroup_errno; /* set when it could not (the agent runs on without) */
} ArdSpawnParams;

/* Fork and exec. On success *pid and *pidfd (CLOEXEC) are set. An exec
 * failure in the child (ENOENT, EACCES, chdir...) is reported here as an
 * error, the child already reaped. */
gboolean ard_spawn(const ArdSpawnParams *params, pid_t *pid, int *pidfd, GError **error);

/* The agent's environment: base_env (the daemon's, minus the variables
 * systemd hands to the daemon alone), then AGENT_RUNNER_LOG_DIR,
 * AGENT_RUNNER_ROUND_NUM, AGENT_RUNNER_PHASE ("" without phases),
 * AGENT_RUNNER_FRESH_EYES ("1"/"0"), then [agent] env on top, and PATH with
 * [agent] path entries in front. */
GStrv ard_spawn_build_env(const ArConfig *cfg, const char *const *base_env, guint round_num,
                          const char *phase, gboolean fresh_eyes);

/* argv of the agent: command + prompt_arg_template with {prompt} replaced
 * in every element (substring) when prompt is not NULL (argv delivery). */
GStrv ard_spawn_build_argv(const ArConfig *cfg, const char *prompt);

/* Writes a buffer into a non-blocking pipe from an sd-event io source, any
 * size, then closes the pipe (EOF for the agent). EPIPE (the agent closed
 * its stdin) ends the write quietly. */
typedef struct ArdStdinWriter ArdStdinWriter;
ArdStdinWriter *ard_stdin_writer_new(sd_event *event, int pipe_fd, GBytes *data, GError **error);
void ard_stdin_writer_free(ArdStdinWriter *w);
gboolean ard_stdin_writer_is_done(const ArdStdinWriter *w);
gsize ard_stdin_writer_get_written(const ArdStdinWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdStdinWriter, ard_stdin_writer_free)

G_END_DECLS
