/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ard-hooks.h"
#include "ard-reap.h"
#include "ard-spawn.h"
#include "arm-monitor.h"

/* [hooks] detector: the user's own detectors, run by the acting monitor.
 *
 * They run through the daemon's hook runner (ard-hooks.c: own session,
 * timeout, bounded output, JSON in and out), but not in the monitor's
 * process: the runner kills a hook's leftovers by sweeping the runner's
 * whole subtree, which in the daemon holds nothing else while hooks run.
 * The monitor runs hooks of many projects and may have other children, so
 * each batch runs in a helper, the monitor itself started again with
 * --run-detector-hooks: a single-threaded subreaper whose subtree is that
 * batch alone. The helper gets {round_num, state} on stdin (state: the
 * project's Peek document, null without a daemon), writes hook_failed and
 * the hooks' custom events to the monitor's journal entries (the daemon
 * is the only writer of the project's files), and answers one JSON array
 * [{name, ok, alerts}] on stdout. The loop never waits: the helper's
 * stdout and pidfd are event sources.
 *
 * Runs come when the monitor starts watching the project, after each
 * round's end and with each host-health sample (at most once per
 * --interval, only while the daemon is on the bus), never
 * two at once for a project: a trigger during a run asks for one more.
 * Each hook is one detector named after the hook; its alert fires when its
 * answer lists alerts and resolves when it lists none, once per
 * transition, like the built-ins (a named alert, arm-alerts.c). A failed
 * hook leaves its alert as it was. The acting monitor registers the
 * runner as an output: a round's end and each judgement start a run; the
 * state it hands the hooks comes through the Peek it was given. */

/* Slack per hook on top of [hooks] timeout_s before the helper itself is
 * killed (the runner waits up to 5 s for a killed hook, 2 s for its pipes). */
#define HELPER_SLACK_S 10

struct ArmHooks {
  ArmPeekCall peek;
  GHashTable *runs; /* project key -> Run */
};

/* One project's runs: never two at once. */
typedef struct {
  ArmHooks *hooks;
  ArmProject *p;
  gboolean busy;  /* a Peek or a helper is under way */
  gboolean again; /* triggered meanwhile */
  guint serial;   /* of the current Peek */
  pid_t pid;
  int pidfd;
  int out_fd;
  gboolean exited;
  int wait_status;
  GString *out;
  sd_event_source *out_src, *pid_src, *deadline_src;
} Run;

static char *self_exe;

static void
run_clear(Run *h)
{
  h->out_src = sd_event_source_disable_unref(h->out_src);
  h->pid_src = sd_event_source_disable_unref(h->pid_src);
  h->deadline_src = sd_event_source_disable_unref(h->deadline_src);
  if (h->pid > 0 && !h->exited) {
    (void)kill(h->pid, SIGKILL);
    (void)waitpid(h->pid, NULL, 0);
  }
  h->pid = 0;
  if (h->pidfd >= 0)
    close(h->pidfd);
  if (h->out_fd >= 0)
    close(h->out_fd);
  h->pidfd = h->out_fd = -1;
  h->exited = FALSE;
  if (h->out)
    g_string_free(h->out, TRUE);
  h->out = NULL;
}

static void
run_free(Run *h)
{
  run_clear(h);
  g_free(h);
}

ArmHooks *
arm_hooks_new(ArmPeekCall peek)
{
  /* Read now: a monitor binary replaced on disk (an upgrade) still starts
   * the helper of the same build. */
  if (!self_exe)
    self_exe = g_file_read_link("/proc/self/exe", NULL);
  ArmHooks *hooks = g_new0(ArmHooks, 1);
  hooks->peek = peek;
  hooks->runs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)run_free);
  return hooks;
}

void
arm_hooks_free(ArmHooks *hooks)
{
  if (!hooks)
    return;
  g_hash_table_unref(hooks->runs);
  g_free(hooks);
}

static Run *
run_of(ArmHooks *hooks, ArmProject *p)
{
  Run *h = g_hash_table_lookup(hooks->runs, p->key);
  if (!h) {
    h = g_new0(Run, 1);
    h->hooks = hooks;
    h->p = p;
    h->pidfd = h->out_fd = -1;
    g_hash_table_insert(hooks->runs, g_strdup(p->key), h);
  }
  return h;
}

/* ---- the answers ------------------------------------------------------- */

static ArmSeverity
severity_of(const char *s)
{
  if (g_strcmp0(s, "critical") == 0)
    return ARM_SEV_CRITICAL;
  if (g_strcmp0(s, "info") == 0)
    return ARM_SEV_INFO;
  return ARM_SEV_WARNING;
}

static void
apply_answer(Run *h, JsonObject *r)
{
  const char *name = ar_json_str(r, "name");
  if (!name || !ar_json_bool(r, "ok", FALSE))
    return;
  JsonArray *alerts = ar_json_array(r, "alerts");
  gboolean active = FALSE, stop = FALSE;
  ArmSeverity sev = ARM_SEV_INFO;
  g_autoptr(GString) message = g_string_new(NULL);
  for (guint i = 0; alerts && i < json_array_get_length(alerts); i++) {
    JsonNode *n = json_array_get_element(alerts, i);
    if (!JSON_NODE_HOLDS_OBJECT(n))
      continue;
    JsonObject *a = json_node_get_object(n);
    active = TRUE;
    sev = MAX(sev, severity_of(ar_json_str(a, "severity")));
    stop |= g_strcmp0(ar_json_str(a, "auto_action"), "stop_service") == 0;
    const char *m = ar_json_str(a, "message");
    if (m && *m)
      g_string_append_printf(message, "%s%s", message->len ? "; " : "", m);
  }
  arm_alerts_set_named(h->p, name, sev, active, message->len ? message->str : name, stop);
}

static void hooks_start(Run *h);

static void
run_finished(Run *h)
{
  ArmProject *p = h->p;
  g_autoptr(JsonParser) parser = json_parser_new();
  gboolean clean = WIFEXITED(h->wait_status) && WEXITSTATUS(h->wait_status) == 0;
  if (clean && json_parser_load_from_data(parser, h->out->str, (gssize)h->out->len, NULL) &&
      JSON_NODE_HOLDS_ARRAY(json_parser_get_root(parser))) {
    JsonArray *results = json_node_get_array(json_parser_get_root(parser));
    for (guint i = 0; i < json_array_get_length(results); i++)
      if (JSON_NODE_HOLDS_OBJECT(json_array_get_element(results, i)))
        apply_answer(h, json_array_get_object_element(results, i));
  } else {
    g_message(_("%s: the detector hooks did not finish (status %d); their alerts stay as they "
                "were"),
              p->name, h->wait_status);
  }
  run_clear(h);
  h->busy = FALSE;
  if (h->again) {
    h->again = FALSE;
    hooks_start(h);
  }
}

static void
maybe_finished(Run *h)
{
  if (h->exited && h->out_fd < 0)
    run_finished(h);
}

static int
on_out(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
  Run *h = userdata;
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return 0;
  if (n > 0 && h->out->len < 16 * ARD_HOOK_STDOUT_MAX) {
    g_string_append_len(h->out, buf, n);
    return 0;
  }
  if (n > 0)
    return 0; /* beyond any sane answer: drained, not kept */
  h->out_src = sd_event_source_disable_unref(h->out_src);
  close(h->out_fd);
  h->out_fd = -1;
  maybe_finished(h);
  return 0;
}

static int
on_helper_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
  Run *h = userdata;
  siginfo_t si = { 0 };
  if (waitid(P_PIDFD, h->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
    return 0;
  h->exited = TRUE;
  h->wait_status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : si.si_status;
  h->pid_src = sd_event_source_disable_unref(h->pid_src);
  h->deadline_src = sd_event_source_disable_unref(h->deadline_src);
  maybe_finished(h);
  return 0;
}

static int
on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
  Run *h = userdata;
  g_message(_("%s: the detector hooks ran past their timeouts: killed"), h->p->name);
  (void)kill(h->pid, SIGKILL);
  return 0;
}

static int
input_memfd(ArmProject *p, const char *state_json)
{
  g_autofree char *doc = g_strdup_printf("{\"round_num\": %u, \"state\": %s}", p->max_round,
                                         state_json && *state_json ? state_json : "null");
  int fd = memfd_create("arm-hook-input", MFD_CLOEXEC);
  if (fd < 0)
    return -1;
  gsize len = strlen(doc), off = 0;
  while (off < len) {
    ssize_t w = write(fd, doc + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      close(fd);
      return -1;
    }
    off += (gsize)w;
  }
  (void)lseek(fd, 0, SEEK_SET);
  return fd;
}

static gboolean
spawn_helper(Run *h, const char *state_json, guint n_hooks)
{
  ArmProject *p = h->p;
  ArmMonitor *mon = p->mon;
  g_auto(ArFd) in_fd = input_memfd(p, state_json);
  int pipe_fds[2];
  if (!self_exe || in_fd < 0 || pipe2(pipe_fds, O_CLOEXEC) < 0)
    return FALSE;
  g_auto(ArFd) out_r = pipe_fds[0];
  g_auto(ArFd) out_w = pipe_fds[1];
  const char *argv[] = { "agent-runner-monitor", "--run-detector-hooks", p->cfg->config_path,
                         mon->opts.journal ? NULL : "--no-journal", NULL };
  g_auto(GStrv) envp = g_get_environ();
  ArdSpawnParams sp = {
    .exec_path = self_exe,
    .argv = argv,
    .envp = (const char *const *)envp,
    .cwd = "/",
    .stdin_fd = in_fd,
    .output_fd = out_w,
    .split_stderr = TRUE,
    .stderr_fd = STDERR_FILENO,
  };
  g_autoptr(GError) error = NULL;
  int pidfd = -1;
  if (!ard_spawn(&sp, &h->pid, &pidfd, &error)) {
    g_message(_("%s: cannot run the detector hooks: %s"), p->name, error->message);
    return FALSE;
  }
  h->pidfd = pidfd;
  h->out_fd = g_steal_fd(&out_r);
  (void)fcntl(h->out_fd, F_SETFL, O_NONBLOCK | fcntl(h->out_fd, F_GETFL));
  h->out = g_string_new(NULL);
  guint64 limit = (guint64)n_hooks * (p->cfg->hook_timeout_s + HELPER_SLACK_S) * G_USEC_PER_SEC;
  guint64 now = 0;
  (void)sd_event_now(mon->event, CLOCK_MONOTONIC, &now);
  if (sd_event_add_io(mon->event, &h->out_src, h->out_fd, EPOLLIN, on_out, h) < 0 ||
      sd_event_add_io(mon->event, &h->pid_src, h->pidfd, EPOLLIN, on_helper_exit, h) < 0 ||
      sd_event_add_time(mon->event, &h->deadline_src, CLOCK_MONOTONIC, now + limit, G_USEC_PER_SEC,
                        on_deadline, h) < 0) {
    run_clear(h);
    return FALSE;
  }
  return TRUE;
}

static void
on_state(ArmProject *p, const char *peek_json, guint serial)
{
  /* The runner is gone when the monitor ends before the answer came. */
  ArmHooks *runner = p->mon->hooks;
  Run *h = runner ? g_hash_table_lookup(runner->runs, p->key) : NULL;
  if (!h || serial != h->serial || !h->busy || h->pid > 0)
    return;
  g_autoptr(GPtrArray) hooks =
      p->cfg ? ar_config_hooks(p->cfg, NULL, AR_HOOK_DETECTOR) : g_ptr_array_new();
  if (hooks->len == 0 || !spawn_helper(h, peek_json, hooks->len)) {
    h->busy = FALSE;
    h->again = FALSE;
  }
}

static void
hooks_start(Run *h)
{
  h->busy = TRUE;
  h->serial++;
  if (!h->p->owner || !h->hooks->peek(h->p, on_state, h->serial))
    on_state(h->p, NULL, h->serial);
}

/* A round ended or a host sample was taken: run [hooks] detector. */
static void
trigger(ArmHooks *hooks, ArmProject *p)
{
  /* Only the acting monitor: a second one beside it would run every hook
   * twice. */
  if (!p->mon->acting || !p->cfg)
    return;
  g_autoptr(GPtrArray) detectors = ar_config_hooks(p->cfg, NULL, AR_HOOK_DETECTOR);
  if (detectors->len == 0)
    return;
  Run *h = run_of(hooks, p);
  if (h->busy) {
    h->again = TRUE;
    return;
  }
  hooks_start(h);
}

static void
on_event(gpointer data, ArmProject *p, const char *kind, const char *json_line, JsonObject *o)
{
  if (!p->replaying && g_str_equal(kind, "round_end"))
    trigger(data, p);
}

static void
on_judged(gpointer data, ArmProject *p)
{
  trigger(data, p);
}

const ArmSink arm_hooks_sink = {
  .event = on_event,
  .judged = on_judged,
};

/* ---- the helper: agent-runner-monitor --run-detector-hooks CONFIG ------- */

static JsonNode *
answer_of(ArdHookResult *res)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_str(b, "name", res->name);
  json_builder_set_member_name(b, "ok");
  json_builder_add_boolean_value(b, res->error_type == NULL);
  JsonArray *alerts = res->answer ? ar_json_array(res->answer, "alerts") : NULL;
  json_builder_set_member_name(b, "alerts");
  if (alerts)
    json_builder_add_value(b, json_node_init_array(json_node_alloc(), alerts));
  else
    json_builder_add_null_value(b);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

int
arm_hooks_helper_main(const char *config_path, gboolean journal)
{
  /* Leftovers of a hook (double forks included) stay in this process's
   * subtree, which the runner sweeps after each hook. */
  (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
  /* A hook that does not read its input must not kill the runner (the
   * daemon ignores SIGPIPE too); the runner treats EPIPE as the hook's
   * business. */
  (void)signal(SIGPIPE, SIG_IGN);
  g_autoptr(GError) error = NULL;
  g_autoptr(ArConfig) cfg = ar_config_load(config_path, &error);
  if (!cfg) {
    fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
    return 1;
  }
  g_autoptr(GIOChannel) in = g_io_channel_unix_new(STDIN_FILENO);
  g_autofree char *doc = NULL;
  gsize len = 0;
  if (g_io_channel_read_to_end(in, &doc, &len, &error) != G_IO_STATUS_NORMAL) {
    fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
    return 1;
  }
  g_autoptr(JsonParser) parser = json_parser_new();
  JsonObject *req = NULL;
  if (json_parser_load_from_data(parser, doc, (gssize)len, NULL) &&
      JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
    req = json_node_get_object(json_parser_get_root(parser));
  guint round_num = req ? (guint)ar_json_int(req, "round_num", NULL) : 0;
  g_autoptr(JsonObject) input = ard_hooks_input_new(cfg, AR_HOOK_DETECTOR, round_num, NULL);
  JsonNode *state = req ? json_object_get_member(req, "state") : NULL;
  json_object_set_member(input, "state",
                         state ? json_node_copy(state) : json_node_new(JSON_NODE_NULL));
  g_autoptr(GPtrArray) hooks = ar_config_hooks(cfg, NULL, AR_HOOK_DETECTOR);
  g_auto(GStrv) env = g_get_environ();
  g_autoptr(GPtrArray) results = ard_hooks_run_sync(
      cfg, AR_HOOK_DETECTOR, hooks, (const char *const *)env, round_num, NULL, input, NULL, FALSE);
  (void)ard_reap_orphans(0);

  /* hook_failed and custom events: the monitor's own journal entries. */
  g_autoptr(ArEmitter) em = ar_emitter_new(NULL, cfg->project);
  ar_emitter_set_journal(em, journal);
  g_free(ard_hooks_emit(em, cfg, results, round_num, NULL, NULL));
  for (guint i = 0; i < results->len; i++) {
    ArdHookResult *res = g_ptr_array_index(results, i);
    if (!res->error_type)
      continue;
    /* hook_failed in the journal has the rest (stderr, exit code). */
    g_autofree char *what = g_strdup_printf(
        _("%s hook %s failed: %s"), ar_hook_kind_name(res->kind), res->name, res->error_message);
    fprintf(stderr, "agent-runner-monitor: %s: %s\n", cfg->project, what);
  }
  g_autoptr(JsonArray) answers = json_array_new();
  for (guint i = 0; i < results->len; i++)
    json_array_add_element(answers, answer_of(g_ptr_array_index(results, i)));
  g_autoptr(JsonNode) root = json_node_init_array(json_node_alloc(), answers);
  g_autofree char *out = json_to_string(root, FALSE);
  fputs(out, stdout);
  return fflush(stdout) == 0 ? 0 : 1;
}
