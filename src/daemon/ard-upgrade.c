/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ar-names.h"
#include "ar-prompt.h"
#include "ar-util.h"
#include "ard-fault.h"
#include "ard-lock.h"
#include "ard-loop.h"
#include "ard-notify.h"
#include "ard-round-adopt.h"

/* What a smoke-test child may print before we stop reading. */
#define CHILD_OUTPUT_MAX 8192

static struct {
  char **args;     /* our command line after argv[0], without hand-over options */
  char *version;   /* this image's */
  char *self_path; /* where this image was started from */
  int exe_fd;      /* O_PATH to this image: the rollback target of an upgrade */
  char *pending;   /* a candidate waiting for the running round to end */
  sd_bus *bus;     /* flushed before the exec */
  sd_event_source *defer;
} up = { .exe_fd = -1 };

/* Options that belong to one hand-over, never passed on to the next. */
static gboolean
is_handover_option(const char *arg, gboolean *takes_value)
{
  static const char *const opts[] = { "--deserialize", "--rollback-reason", "--self-check" };
  for (gsize i = 0; i < G_N_ELEMENTS(opts); i++) {
    gsize n = strlen(opts[i]);
    if (strncmp(arg, opts[i], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
      *takes_value = arg[n] == '\0' && i < 2;
      return TRUE;
    }
  }
  return FALSE;
}

void
ard_upgrade_init(int argc, char **argv, const char *version)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new();
  for (int i = 1; i < argc; i++) {
    gboolean takes_value = FALSE;
    if (is_handover_option(argv[i], &takes_value)) {
      i += takes_value ? 1 : 0;
      continue;
    }
    g_ptr_array_add(args, g_strdup(argv[i]));
  }
  g_ptr_array_add(args, NULL);
  up.args = (char **)g_ptr_array_steal(args, NULL);
  up.version = g_strdup(version);
  /* The path, not the inode: after a package manager replaced the file,
   * the path names the new version (the kernel marks the old "deleted"). */
  g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
  if (exe && g_str_has_suffix(exe, " (deleted)"))
    exe[strlen(exe) - strlen(" (deleted)")] = '\0';
  up.self_path = exe ? g_steal_pointer(&exe) : g_strdup(argv[0]);
  /* Survives the file being replaced or removed: a rollback re-executes
   * exactly the image that is running now. */
  up.exe_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
}

const char *
ard_version(void)
{
  return up.version ? up.version : PACKAGE_VERSION;
}

/* ---- the smoke test ----------------------------------------------------- */

/* Run argv (stdout and stderr captured) with keep_fd inherited, for at most
 * timeout_s. TRUE when it exited 0; otherwise *why says how it failed. */
static gboolean
run_child(char **argv, int keep_fd, guint timeout_s, char **output, char **why)
{
  int out[2];
  if (pipe2(out, O_CLOEXEC) < 0) {
    *why = g_strdup_printf("pipe: %s", g_strerror(errno));
    return FALSE;
  }
  sigset_t none;
  sigemptyset(&none);
  pid_t pid = fork();
  if (pid < 0) {
    *why = g_strdup_printf("fork: %s", g_strerror(errno));
    close(out[0]);
    close(out[1]);
    return FALSE;
  }
  if (pid == 0) {
    /* Async-signal-safe calls only until the exec. */
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
      (void)dup2(null, 0);
    (void)dup2(out[1], 1);
    (void)dup2(out[1], 2);
    if (keep_fd >= 0)
      (void)fcntl(keep_fd, F_SETFD, 0);
    execv(argv[0], argv);
    _exit(127);
  }
  close(out[1]);
  g_auto(ArFd) rd = out[0];
  g_auto(ArFd) pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  g_autoptr(GString) buf = g_string_new(NULL);
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
  gboolean timed_out = FALSE;
  gboolean eof = FALSE;
  /* Blocking, but bounded: a few seconds of smoke test between events is
   * far below the watchdog period, and the agent's output waits in its
   * pipe meanwhile. */
  for (;;) {
    gint64 left = deadline - g_get_monotonic_time();
    if (left <= 0) {
      timed_out = TRUE;
      break;
    }
    struct pollfd p[2] = { { .fd = eof ? -1 : rd, .events = POLLIN },
                           { .fd = pidfd, .events = POLLIN } };
    int n = poll(p, 2, (int)MIN(left / 1000 + 1, 1000));
    if (n < 0 && errno != EINTR)
      break;
    if (!eof && (p[0].revents & (POLLIN | POLLHUP))) {
      char chunk[1024];
      ssize_t r = read(rd, chunk, sizeof chunk);
      if (r > 0 && buf->len < CHILD_OUTPUT_MAX)
        g_string_append_len(buf, chunk, r);
      else if (r == 0)
        eof = TRUE;
    }
    if (eof && (pidfd < 0 || (p[1].revents & POLLIN)))
      break;
  }
  if (timed_out)
    (void)kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  *output = g_strstrip(g_string_free(g_steal_pointer(&buf), FALSE));
  if (timed_out) {
    *why = g_strdup_printf(_("no answer within %u s"), timeout_s);
    return FALSE;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return TRUE;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !**output)
    *why = g_strdup(_("could not be executed"));
  else if (WIFEXITED(status))
    *why = g_strdup_printf(_("exited %d"), WEXITSTATUS(status));
  else
    *why = g_strdup_printf(_("killed by signal %d"), WTERMSIG(status));
  return FALSE;
}

/* The last line of a child's output, for a reason field. */
static const char *
last_line(const char *output)
{
  const char *nl = strrchr(output, '\n');
  return nl ? nl + 1 : output;
}

/* No privilege gained through a path: the candidate and its directory are
 * owned by root or by us and writable by nobody else, so whoever could
 * place it there could have run it as the service user anyway. */
static gboolean
candidate_is_safe(const char *path, GError **error)
{
  struct stat st;
  if (stat(path, &st) < 0) {
    g_set_error(error, AR_ERROR, errno == ENOENT ? AR_ERROR_NOT_FOUND : AR_ERROR_FAILED,
                _("candidate %s: %s"), path, g_strerror(errno));
    return FALSE;
  }
  if (!S_ISREG(st.st_mode)) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS, _("candidate %s is not a regular file"),
                path);
    return FALSE;
  }
  g_autofree char *dir = g_path_get_dirname(path);
  struct stat dst;
  if (stat(dir, &dst) < 0)
    return ar_set_error_errno(error, errno, _("candidate directory %s"), dir);
  const struct stat *both[] = { &st, &dst };
  const char *names[] = { path, dir };
  for (gsize i = 0; i < G_N_ELEMENTS(both); i++) {
    if ((both[i]->st_uid != 0 && both[i]->st_uid != geteuid()) ||
        (both[i]->st_mode & (S_IWGRP | S_IWOTH))) {
      g_set_error(error, AR_ERROR, AR_ERROR_ACCESS_DENIED,
                  _("refusing %s: %s must be owned by root or the service user and writable by "
                    "no one else (chown/chmod it, or install the binary properly)"),
                  path, names[i]);
      return FALSE;
    }
  }
  if (access(path, X_OK) < 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("candidate %s is not executable (chmod +x it)"),
                path);
    return FALSE;
  }
  return TRUE;
}

/* keep_fds: for the exec (the round's fds are inherited), not for a smoke
 * test (which only parses the document). */
static ArdHandover *
snapshot(ArdLoop *loop, const char *to_version, gboolean keep_fds)
{
  ArdHandover *h = g_new0(ArdHandover, 1);
  h->schema = ARD_HANDOVER_SCHEMA;
  h->from_version = g_strdup(ard_version());
  h->to_version = g_strdup(to_version);
  h->config_path = g_strdup(ard_loop_get_config(loop)->config_path);
  h->started_mono_us = g_get_monotonic_time();
  h->lock_fd = ard_lock_get_fd(ard_loop_get_lock(loop));
  h->exe_fd = up.exe_fd;
  h->exe_path = g_strdup(up.self_path);
  h->rounds_completed = ard_loop_get_status(loop)->rounds_completed;
  h->max_rounds = ard_loop_get_options(loop)->max_rounds;
  h->once = ard_loop_get_options(loop)->once;
  h->run_state = g_strdup(ard_run_state_to_string(ard_loop_get_status(loop)->state));
  if (ard_loop_get_status(loop)->state == ARD_RUN_WAITING) {
    h->next_round_at_us = ard_loop_get_status(loop)->next_round_at_us;
    h->wait_factor = ard_loop_get_wait_factor(loop);
  }
  if (ard_loop_get_round(loop))
    h->round = ard_round_handover_save(ard_loop_get_round(loop), keep_fds);
  return h;
}

/* --version, then --self-check on a copy of the state about to be handed
 * over. TRUE with the candidate's version; FALSE with the reason. */
static gboolean
smoke_test(ArdLoop *loop, const char *candidate, char **version, GError **error)
{
  if (!candidate_is_safe(candidate, error))
    return FALSE;
  g_autofree char *out = NULL, *why = NULL;
  char *vargv[] = { (char *)candidate, (char *)"--version", NULL };
  if (!run_child(vargv, -1, ARD_UPGRADE_VERSION_TIMEOUT_S, &out, &why)) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("%s --version %s: %s"), candidate, why,
                last_line(out));
    return FALSE;
  }
  if (!g_str_has_prefix(out, "agent-runnerd ") || strchr(out, '\n')) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                _("%s is not agent-runnerd: --version printed \"%s\""), candidate, out);
    return FALSE;
  }
  g_autofree char *v = g_strdup(out + strlen("agent-runnerd "));
  g_autoptr(ArdHandover) h = snapshot(loop, v, FALSE);
  g_autoptr(GError) local = NULL;
  g_auto(ArFd) fd = ard_handover_write(h, &local);
  if (fd < 0) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  g_autofree char *fdarg = g_strdup_printf("%d", (int)fd);
  char *cargv[] = { (char *)candidate,
                    (char *)"--self-check",
                    (char *)"--config",
                    ard_loop_get_config(loop)->config_path,
                    (char *)"--deserialize",
                    fdarg,
                    NULL };
  g_clear_pointer(&out, g_free);
  if (!run_child(cargv, fd, ARD_UPGRADE_CHECK_TIMEOUT_S, &out, &why)) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("%s --self-check %s: %s"), candidate, why,
                last_line(out));
    return FALSE;
  }
  *version = g_steal_pointer(&v);
  return TRUE;
}

static void
emit_rolled_back(ArdLoop *loop, const char *attempted, const char *reason, double duration_s)
{
  ar_emit(ard_loop_get_emitter(loop), "service_upgrade_rolled_back",
          AR_EV_S("attempted_version", attempted && *attempted ? attempted : "unknown"),
          AR_EV_S("restored_version", ard_version()), AR_EV_S("failure_reason", reason),
          AR_EV_D("duration_s", duration_s), NULL);
}

/* ---- the hand-over ------------------------------------------------------ */

static char *
default_candidate(void)
{
  return g_strdup(up.self_path);
}

/* Re-execute into candidate. Returns only when that failed (nothing
 * changed then: the old image goes on and says so). */
static void
exec_candidate(ArdLoop *loop, const char *candidate, const char *to_version)
{
  gint64 t0 = g_get_monotonic_time();
  g_autoptr(ArdHandover) h = snapshot(loop, to_version, TRUE);
  ArdRound *round = h->round ? ard_loop_get_round(loop) : NULL;
  g_autoptr(GError) error = NULL;
  g_auto(ArFd) fd = ard_handover_write(h, &error);
  if (fd < 0) {
    if (round)
      ard_round_handover_abort(round);
    emit_rolled_back(loop, to_version, error->message, 0);
    return;
  }
  ard_loop_save_state(loop);
  ar_emitter_sync(ard_loop_get_emitter(loop));
  g_autofree char *fdarg = g_strdup_printf("%d", (int)fd);
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (char *)candidate);
  for (char **a = up.args; a && *a; a++)
    g_ptr_array_add(argv, *a);
  g_ptr_array_add(argv, (char *)"--deserialize");
  g_ptr_array_add(argv, fdarg);
  g_ptr_array_add(argv, NULL);
  int lock_fd = ard_lock_get_fd(ard_loop_get_lock(loop));
  (void)ard_handover_keep_fd(fd, TRUE);
  (void)ard_handover_keep_fd(lock_fd, TRUE);
  if (up.exe_fd >= 0)
    (void)ard_handover_keep_fd(up.exe_fd, TRUE);
  ard_notify_reloading();
  if (up.bus)
    (void)sd_bus_flush(up.bus);
  /* A new image that never reaches READY=1 is ended by SIGALRM (the
   * timer survives execve); the unit restarts the service from
   * state.json, saved just above. */
  alarm(ARD_UPGRADE_READY_TIMEOUT_S);
  execv(candidate, (char **)argv->pdata);
  int errsv = errno;
  alarm(0);
  (void)ard_handover_keep_fd(lock_fd, FALSE);
  if (up.exe_fd >= 0)
    (void)ard_handover_keep_fd(up.exe_fd, FALSE);
  if (round)
    ard_round_handover_abort(round);
  ard_notify_ready();
  g_autofree char *reason = g_strdup_printf("execve %s: %s", candidate, g_strerror(errsv));
  emit_rolled_back(loop, to_version, reason,
                   (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
}

/* Between rounds, or in a round's plain running stage (the round goes on
 * in the new image); hooks, a grace period or a kill wait for its end. */
static gboolean
can_hand_over_now(ArdLoop *loop)
{
  if (ard_loop_get_status(loop)->state == ARD_RUN_STARTING)
    return FALSE;
  ArdRound *round = ard_loop_get_round(loop);
  if (round)
    return ard_round_can_hand_over(round, NULL);
  return !ard_loop_is_busy(loop);
}

static int
on_deferred(sd_event_source *s, void *user_data)
{
  ArdLoop *loop = user_data;
  up.defer = sd_event_source_disable_unref(up.defer);
  g_autofree char *candidate = g_steal_pointer(&up.pending);
  if (!candidate || ard_loop_stop_requested(loop) ||
      ard_loop_get_status(loop)->state == ARD_RUN_STOPPED)
    return 0;
  if (!can_hand_over_now(loop)) {
    up.pending = g_steal_pointer(&candidate);
    return 0;
  }
  /* The state changed since the first smoke test: test again with it. */
  gint64 t0 = g_get_monotonic_time();
  g_autofree char *version = NULL;
  g_autoptr(GError) error = NULL;
  if (!smoke_test(loop, candidate, &version, &error)) {
    emit_rolled_back(loop, NULL, error->message,
                     (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
    return 0;
  }
  exec_candidate(loop, candidate, version);
  return 0;
}

static void
schedule(ArdLoop *loop)
{
  if (!up.defer && sd_event_add_defer(ard_loop_get_event(loop), &up.defer, on_deferred, loop) >= 0)
    (void)sd_event_source_set_description(up.defer, "upgrade");
}

void
ard_upgrade_round_ended(ArdLoop *loop)
{
  if (up.pending)
    schedule(loop);
}

static int
reply_error(sd_bus_message *m, GError *error)
{
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  (void)ar_bus_error_from_gerror(&e, error);
  return sd_bus_reply_method_error(m, &e);
}

static int
read_options(sd_bus_message *m, gboolean *check, GError **error)
{
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    const char *key = NULL;
    r = sd_bus_message_read(m, "s", &key);
    if (r < 0)
      break;
    if (g_str_equal(key, "check")) {
      int b = 0;
      r = sd_bus_message_read(m, "v", "b", &b);
      *check = b != 0;
    } else {
      g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                  _("unknown Upgrade option \"%s\" (known: check)"), key);
      return -EINVAL;
    }
    if (r >= 0)
      r = sd_bus_message_exit_container(m);
  }
  if (r >= 0)
    r = sd_bus_message_exit_container(m);
  if (r < 0 && !*error)
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("Upgrade options must be a{sv} with check (b)"));
  return r;
}

static char *
result_json(const char *candidate, const char *to_version, gboolean check, gboolean deferred)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_str(b, "candidate", candidate);
  ar_json_add_str(b, "from_version", ard_version());
  ar_json_add_str(b, "to_version", to_version);
  json_builder_set_member_name(b, "check_only");
  json_builder_add_boolean_value(b, check);
  json_builder_set_member_name(b, "deferred");
  json_builder_add_boolean_value(b, deferred);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  return json_to_string(root, FALSE);
}

int
ard_upgrade_handle(ArdLoop *loop, sd_bus *bus, sd_bus_message *m)
{
  up.bus = bus;
  const char *target = NULL;
  g_autoptr(GError) error = NULL;
  int r = sd_bus_message_rewind(m, TRUE);
  if (r >= 0)
    r = sd_bus_message_read(m, "s", &target);
  if (r < 0)
    return sd_bus_reply_method_errno(m, r, NULL);
  gboolean check = FALSE;
  if (read_options(m, &check, &error) < 0)
    return reply_error(m, error);
  if (ard_loop_get_options(loop)->round_mode || ard_loop_stop_requested(loop) ||
      ard_loop_get_status(loop)->state == ARD_RUN_STOPPED) {
    g_set_error(&error, AR_ERROR, AR_ERROR_BUSY,
                _("the service is stopping; upgrade it after it has started again"));
    return reply_error(m, error);
  }
  if (*target && !g_path_is_absolute(target)) {
    g_set_error(&error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("target must be an absolute path or \"\" (the installed agent-runnerd), not "
                  "\"%s\""),
                target);
    return reply_error(m, error);
  }
  g_autofree char *candidate =
      *target ? g_canonicalize_filename(target, NULL) : default_candidate();
  gint64 t0 = g_get_monotonic_time();
  g_autofree char *version = NULL;
  if (!smoke_test(loop, candidate, &version, &error)) {
    /* Nothing changed: the event says so, the caller gets the reason. */
    if (!check && !g_error_matches(error, AR_ERROR, AR_ERROR_ACCESS_DENIED))
      emit_rolled_back(loop, NULL, error->message,
                       (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
    return reply_error(m, error);
  }
  gboolean deferred = !check && !can_hand_over_now(loop);
  g_autofree char *json = result_json(candidate, version, check, deferred);
  r = sd_bus_reply_method_return(m, "s", json);
  if (check)
    return r;
  if (deferred)
    ar_emit(ard_loop_get_emitter(loop), "package_upgraded", AR_EV_S("from_version", ard_version()),
            AR_EV_S("to_version", version), AR_EV_B("restart_deferred", TRUE), NULL);
  g_free(up.pending);
  up.pending = g_steal_pointer(&candidate);
  /* From the loop, after the reply went out; a running round first ends
   * (ard_upgrade_round_ended). */
  if (!deferred)
    schedule(loop);
  return r;
}

/* ---- the new image ------------------------------------------------------ */

int
ard_upgrade_self_check(const char *config_path, int fd)
{
  if (ard_fault("abort-deserialize"))
    abort();
  while (ard_fault("hang-deserialize"))
    pause();
  g_autoptr(GError) error = NULL;
  g_autoptr(ArdHandover) h = ard_handover_read(fd, FALSE, &error);
  if (!h) {
    fprintf(stderr, "agent-runnerd --self-check: %s\n", error->message);
    return AR_EXIT_FAILURE;
  }
  g_autoptr(ArConfig) cfg = ar_config_load(config_path ? config_path : h->config_path, &error);
  if (!cfg) {
    fprintf(stderr, "agent-runnerd --self-check: %s\n", error->message);
    return AR_EXIT_CONFIG;
  }
  if (!ar_startup_checks_skipped()) {
    gboolean all_ok = TRUE;
    g_autoptr(GPtrArray) checks = ar_startup_checks(cfg, NULL, &all_ok);
    for (guint i = 0; !all_ok && i < checks->len; i++) {
      ArCheck *c = g_ptr_array_index(checks, i);
      if (!c->ok) {
        fprintf(stderr, "agent-runnerd --self-check: startup check %s failed: %s\n", c->name,
                c->detail ? c->detail : "");
        return AR_EXIT_CONFIG;
      }
    }
  }
  if (h->round && !ard_round_handover_check(json_node_get_object(h->round), &error)) {
    fprintf(stderr, "agent-runnerd --self-check: %s\n", error->message);
    return AR_EXIT_FAILURE;
  }
  printf("self-check ok: %s, config %s\n", ard_version(), cfg->config_path);
  return AR_EXIT_OK;
}

gboolean
ard_upgrade_take_handover(int fd, const char *rollback_reason, ArdHandover **out, GError **error)
{
  *out = NULL;
  if (!rollback_reason && ard_fault("abort-deserialize"))
    abort();
  ArdHandover *h = ard_handover_read(fd, TRUE, error);
  if (!h)
    return FALSE;
  h->rollback_reason = g_strdup(rollback_reason);
  h->doc_fd = fd;
  /* None of these may leak into the agent; a rollback clears it again. */
  (void)ard_handover_keep_fd(fd, FALSE);
  (void)ard_handover_keep_fd(h->lock_fd, FALSE);
  if (h->exe_fd >= 0)
    (void)ard_handover_keep_fd(h->exe_fd, FALSE);
  *out = h;
  if (!rollback_reason && ard_fault("fail-after-exec")) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                "test fault " ARD_FAULT_ENV "=fail-after-exec: refusing the hand-over");
    return FALSE;
  }
  return TRUE;
}

void
ard_upgrade_rollback(ArdHandover *h, int fd, const char *reason)
{
  if (h && h->exe_fd >= 0 && !h->rollback_reason) {
    g_autofree char *fdarg = g_strdup_printf("%d", fd);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, h->exe_path && *h->exe_path ? h->exe_path : (char *)"agent-runnerd");
    for (char **a = up.args; a && *a; a++)
      g_ptr_array_add(argv, *a);
    g_ptr_array_add(argv, (char *)"--deserialize");
    g_ptr_array_add(argv, fdarg);
    g_ptr_array_add(argv, (char *)"--rollback-reason");
    g_ptr_array_add(argv, (char *)reason);
    g_ptr_array_add(argv, NULL);
    (void)ard_handover_keep_fd(fd, TRUE);
    (void)ard_handover_keep_fd(h->lock_fd, TRUE);
    /* The old image's own fd goes with it: it is its next rollback target. */
    (void)ard_handover_keep_fd(h->exe_fd, TRUE);
    /* A running round's pipe and transcript, as they came. */
    if (h->round)
      ard_round_adopt_close_inherited(json_node_get_object(h->round), FALSE);
    fexecve(h->exe_fd, (char **)argv->pdata, environ);
    fprintf(stderr, "agent-runnerd: rollback to %s failed: %s\n", h->exe_path, g_strerror(errno));
  }
  /* Neither image runs the loop: record it where we can, and exit with a
   * failure so the unit's Restart= starts the installed version from
   * state.json (saved before the exec; no round was running). */
  fprintf(stderr, "agent-runnerd: upgrade failed and could not roll back: %s\n", reason);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = h ? ar_config_load(h->config_path, &error) : NULL;
  if (cfg) {
    g_autoptr(ArEmitter) em = ar_emitter_new(cfg->log_dir, cfg->project);
    ar_emit(em, "service_upgrade_rollback_failed", AR_EV_S("attempted_version", ard_version()),
            AR_EV_S("restore_target_version", h->from_version), AR_EV_S("failure_reason", reason),
            NULL);
    ar_emitter_sync(em);
  }
}

void
ard_upgrade_adopted(ArdLoop *loop)
{
  ArdHandover *h = ard_loop_get_handover(loop);
  if (!h)
    return;
  alarm(0);
  double duration_s =
      h->started_mono_us > 0
          ? (double)MAX(g_get_monotonic_time() - h->started_mono_us, 0) / G_USEC_PER_SEC
          : 0;
  ard_loop_set_rounds_completed(loop, h->rounds_completed);
  if (h->rollback_reason) {
    emit_rolled_back(loop, h->to_version, h->rollback_reason, duration_s);
  } else {
    ar_emit(ard_loop_get_emitter(loop), "service_upgraded",
            AR_EV_S("from_version", h->from_version), AR_EV_S("to_version", ard_version()),
            AR_EV_D("duration_s", duration_s), AR_EV_B("round_kept", h->round != NULL), NULL);
  }
  /* The round works on its own duplicates of these. */
  if (h->round)
    ard_round_adopt_close_inherited(json_node_get_object(h->round), TRUE);
  /* Our own image is the next rollback target, not the previous one; the
   * loop holds the lock on its own duplicate. */
  if (h->exe_fd >= 0 && h->exe_fd != up.exe_fd)
    close(h->exe_fd);
  h->exe_fd = -1;
  close(h->lock_fd);
  close(h->doc_fd);
}

void
ard_upgrade_adopt_failed(ArdLoop *loop, const char *reason)
{
  ArdHandover *h = ard_loop_get_handover(loop);
  ard_upgrade_rollback(h, h->doc_fd, reason);
}
