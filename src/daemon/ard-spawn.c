/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-util.h"

/* Variables systemd gives the daemon itself; the agent must not inherit
 * them (it could send READY=1/WATCHDOG=1 for us, or take our sockets). */
static const char *const daemon_only_env[] = {
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
  "LISTEN_FDS",
  "LISTEN_PID",
  "LISTEN_FDNAMES",
  "AGENT_RUNNER_CGROUP_DELEGATED",
  NULL,
};

GStrv
ard_spawn_build_env(const ArConfig *cfg, const char *const *base_env, guint round_num,
                    const char *phase, gboolean fresh_eyes)
{
  GStrv env = g_strdupv((char **)base_env);
  for (guint i = 0; daemon_only_env[i]; i++)
    env = g_environ_unsetenv(env, daemon_only_env[i]);
  char num[16];
  g_snprintf(num, sizeof num, "%u", round_num);
  env = g_environ_setenv(env, "AGENT_RUNNER_LOG_DIR", cfg->log_dir, TRUE);
  env = g_environ_setenv(env, "AGENT_RUNNER_ROUND_NUM", num, TRUE);
  env = g_environ_setenv(env, "AGENT_RUNNER_PHASE", phase ? phase : "", TRUE);
  env = g_environ_setenv(env, "AGENT_RUNNER_FRESH_EYES", fresh_eyes ? "1" : "0", TRUE);
  for (guint i = 0; cfg->env && cfg->env[i]; i++) {
    const char *eq = strchr(cfg->env[i], '=');
    if (!eq || eq == cfg->env[i])
      continue;
    g_autofree char *key = g_strndup(cfg->env[i], eq - cfg->env[i]);
    env = g_environ_setenv(env, key, eq + 1, TRUE);
  }
  g_autofree char *path = ar_config_agent_path_env(cfg, g_environ_getenv(env, "PATH"));
  env = g_environ_setenv(env, "PATH", path, TRUE);
  return env;
}

static char *
replace_all(const char *s, const char *needle, const char *with)
{
  g_autoptr(GString) out = g_string_new(s);
  g_string_replace(out, needle, with, 0);
  return g_string_free(g_steal_pointer(&out), FALSE);
}

GStrv
ard_spawn_build_argv(const ArConfig *cfg, const char *prompt)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  for (guint i = 0; cfg->command && cfg->command[i]; i++)
    g_strv_builder_add(b, cfg->command[i]);
  for (guint i = 0; cfg->prompt_arg_template && cfg->prompt_arg_template[i]; i++) {
    if (prompt) {
      g_autofree char *arg = replace_all(cfg->prompt_arg_template[i], "{prompt}", prompt);
      g_strv_builder_add(b, arg);
    } else
      g_strv_builder_add(b, cfg->prompt_arg_template[i]);
  }
  return g_strv_builder_end(b);
}

/* What the child reports through the error pipe when it cannot exec. */
typedef struct {
  int step;
  int errsv;
} ChildFailure;

enum { STEP_SETSID = 1, STEP_CHDIR, STEP_DUP, STEP_EXEC, STEP_CGROUP };

static const char *
step_name(int step)
{
  switch (step) {
  case STEP_SETSID:
    return "setsid";
  case STEP_CHDIR:
    return "chdir";
  case STEP_DUP:
    return "dup2";
  case STEP_CGROUP:
    return "join the round's cgroup";
  default:
    return "exec";
  }
}

G_GNUC_NORETURN static void
child_fail(int err_fd, int step)
{
  ChildFailure f = { step, errno };
  (void)!write(err_fd, &f, sizeof f);
  _exit(127);
}

/* Between vfork and exec only async-signal-safe calls that touch nothing
 * but the child's stack: the memory is the parent's. */
G_GNUC_NORETURN static void
child_exec(const ArdSpawnParams *p, pid_t parent, int err_fd, int null_fd)
{
  sigset_t none;
  sigemptyset(&none);
  /* The daemon blocks the signals it takes through signalfd and ignores
   * SIGPIPE; the agent must start with the defaults. */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      (void)signal(sig, SIG_DFL);
  (void)sigprocmask(SIG_SETMASK, &none, NULL);
  /* If the supervisor dies without ending the round, the agent must not
   * run on unsupervised. */
  (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent)
    _exit(127);
  if (setsid() < 0)
    child_fail(err_fd, STEP_SETSID);
  /* Before exec, so nothing the agent starts is ever outside it. A
   * failure only costs the round its cgroup: said, not fatal. */
  if (p->join_cgroup && write(p->cgroup_procs_fd, "0", 1) != 1) {
    ChildFailure f = { STEP_CGROUP, errno };
    (void)!write(err_fd, &f, sizeof f);
  }
  if (chdir(p->cwd) < 0)
    child_fail(err_fd, STEP_CHDIR);
  int in = p->stdin_fd >= 0 ? p->stdin_fd : null_fd;
  int err = p->split_stderr ? p->stderr_fd : p->output_fd;
  if (dup2(in, 0) < 0 || dup2(p->output_fd, 1) < 0 || dup2(err, 2) < 0)
    child_fail(err_fd, STEP_DUP);
  /* Everything else the daemon has open (lock, events file, pidfds, bus)
   * closes at exec; the error pipe too, which tells the parent exec
   * worked. */
  (void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(p->exec_path, (char *const *)p->argv, (char *const *)p->envp);
  child_fail(err_fd, STEP_EXEC);
}

gboolean
ard_spawn(const ArdSpawnParams *params, pid_t *pid_out, int *pidfd_out, GError **error)
{
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) < 0)
    return ar_set_error_errno(error, errno, "pipe2");
  g_auto(ArFd) err_r = err_pipe[0];
  g_auto(ArFd) err_w = err_pipe[1];
  g_auto(ArFd) null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0)
    return ar_set_error_errno(error, errno, "open /dev/null");
  pid_t parent = getpid();
  /* vfork: no copy of the daemon's page tables and no copy-on-write faults
   * afterwards (with fork that was most of the daemon's CPU per round).
   * The child only makes syscalls on its own stack until execve/_exit,
   * and the parent, suspended meanwhile, has no signal handlers (signals
   * come through signalfd). */
  pid_t pid = vfork();
  if (pid < 0)
    return ar_set_error_errno(error, errno, "vfork");
  if (pid == 0)
    child_exec(params, parent, err_w, null_fd);
  ar_fd_close(&err_w);
  /* The child is ours until we reap it, so the pid cannot be recycled
   * before pidfd_open(); nothing reaps it behind our back (the orphan
   * reaper skips it). */
  int pidfd = pidfd_open(pid, 0);
  int pidfd_errno = errno;
  ChildFailure f = { 0 };
  ssize_t n;
  do {
    n = read(err_r, &f, sizeof f);
    if (n == (ssize_t)sizeof f && f.step == STEP_CGROUP) {
      if (params->cgroup_errno)
        *params->cgroup_errno = f.errsv;
      n = -1;
      errno = EINTR; /* read on: exec or its failure comes next */
    }
  } while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof f) {
    (void)waitpid(pid, NULL, 0);
    if (pidfd >= 0)
      close(pidfd);
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("cannot start %s: %s: %s"), params->exec_path,
                step_name(f.step), g_strerror(f.errsv));
    return FALSE;
  }
  if (pidfd < 0) {
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
    return ar_set_error_errno(error, pidfd_errno, "pidfd_open");
  }
  (void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  *pid_out = pid;
  *pidfd_out = pidfd;
  return TRUE;
}

/* ---- stdin writer ----------------------------------------------------- */

struct ArdStdinWriter {
  sd_event_source *source;
  int fd;
  GBytes *data;
  gsize written;
  gboolean done;
};

static void
writer_finish(ArdStdinWriter *w)
{
  w->done = TRUE;
  w->source = sd_event_source_disable_unref(w->source);
  if (w->fd >= 0) {
    close(w->fd);
    w->fd = -1;
  }
}

static int
on_writable(sd_event_source *s, int fd, uint32_t revents, void *user_data)
{
  ArdStdinWriter *w = user_data;
  gsize size = 0;
  const char *data = g_bytes_get_data(w->data, &size);
  while (w->written < size) {
    ssize_t n = write(w->fd, data + w->written, size - w->written);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return 0;
    if (n < 0) {
      /* EPIPE: the agent closed stdin or exited; nothing to tell it. */
      if (errno != EPIPE)
        g_warning("writing the prompt to the agent's stdin: %s", g_strerror(errno));
      writer_finish(w);
      return 0;
    }
    w->written += n;
  }
  writer_finish(w);
  return 0;
}

ArdStdinWriter *
ard_stdin_writer_new(sd_event *event, int pipe_fd, GBytes *data, GError **error)
{
  g_auto(ArFd) fd = pipe_fd;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    ar_set_error_errno(error, errno, "fcntl O_NONBLOCK");
    return NULL;
  }
  ArdStdinWriter *w = g_new0(ArdStdinWriter, 1);
  w->fd = g_steal_fd(&fd);
  w->data = g_bytes_ref(data);
  int r = sd_event_add_io(event, &w->source, w->fd, EPOLLOUT, on_writable, w);
  if (r < 0) {
    ar_set_error_errno(error, -r, "sd_event_add_io");
    ard_stdin_writer_free(w);
    return NULL;
  }
  (void)sd_event_source_set_description(w->source, "agent-stdin");
  return w;
}

void
ard_stdin_writer_free(ArdStdinWriter *w)
{
  if (!w)
    return;
  sd_event_source_disable_unref(w->source);
  if (w->fd >= 0)
    close(w->fd);
  g_bytes_unref(w->data);
  g_free(w);
}

gboolean
ard_stdin_writer_is_done(const ArdStdinWriter *w)
{
  return w->done;
}

gsize
ard_stdin_writer_get_written(const ArdStdinWriter *w)
{
  return w->written;
}
