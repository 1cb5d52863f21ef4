/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ar-util.h"
#include "ard-reap.h"
#include "ard-spawn.h"

/* After the hook exits, how long something it left holding its pipes may
 * keep them open (it is killed first; this is for fds passed elsewhere). */
#define DRAIN_MS 2000
/* After the KILL of a hook past its timeout, how long to wait for it. */
#define KILL_WAIT_MS 5000

void
ard_hook_result_free(ArdHookResult *res)
{
  if (res == NULL)
    return;
  g_free(res->name);
  g_strfreev(res->argv);
  g_free(res->error_type);
  g_free(res->error_message);
  g_free(res->stderr_excerpt);
  g_clear_pointer(&res->answer, json_object_unref);
  g_free(res->prompt_old_hash);
  g_free(res->prompt_new_hash);
  g_free(res);
}

const char *
ard_hooks_prompt_path(const ArConfig *cfg, const char *phase)
{
  const char *const *files = ar_config_prompt_files(cfg, phase);
  return files && files[0] ? files[0] : NULL;
}

JsonObject *
ard_hooks_input_new(const ArConfig *cfg, ArHookKind kind, guint round_num, const char *phase)
{
  JsonObject *o = json_object_new();
  json_object_set_int_member(o, "schema_version", 1);
  json_object_set_string_member(o, "hook_kind", ar_hook_kind_name(kind));
  json_object_set_string_member(o, "project", cfg->project);
  json_object_set_string_member(o, "config_path", cfg->config_path);
  json_object_set_string_member(o, "work_dir", cfg->work_dir);
  json_object_set_string_member(o, "log_dir", cfg->log_dir);
  json_object_set_int_member(o, "round_num", round_num);
  ar_json_set_str(o, "phase", phase);
  json_object_set_boolean_member(o, "dry_run", cfg->dry_run);
  json_object_set_string_member(o, "agent_name", ar_config_agent_name(cfg));
  ar_json_set_str(o, "prompt_path", ard_hooks_prompt_path(cfg, phase));
  return o;
}

GStrv
ard_hooks_build_env(const ArConfig *cfg, const char *const *base_env, guint round_num,
                    const char *phase, ArHookKind kind, const char *name)
{
  gboolean fresh =
      cfg->fresh_eyes_every_n > 0 && round_num > 0 && round_num % cfg->fresh_eyes_every_n == 0;
  GStrv env = ard_spawn_build_env(cfg, base_env, round_num, phase, fresh);
  env = g_environ_setenv(env, "AGENT_RUNNER_HOOK_KIND", ar_hook_kind_name(kind), TRUE);
  env = g_environ_setenv(env, "AGENT_RUNNER_HOOK_NAME", name, TRUE);
  env = g_environ_setenv(env, "AGENT_RUNNER_DRY_RUN", cfg->dry_run ? "1" : "0", TRUE);
  env = g_environ_setenv(env, "AGENT_RUNNER_CONFIG", cfg->config_path, TRUE);
  return env;
}

/* "sha256:<hex>", or "sha256:" for a missing file (the Python tool's). */
static char *
file_hash(const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (path == NULL || !g_file_get_contents(path, &data, &len, NULL))
    return g_strdup("sha256:");
  g_autofree char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guchar *)data, len);
  return g_strconcat("sha256:", hex, NULL);
}

/* PATH lookup of a bare argv[0] in the hook's environment. */
static char *
find_program(const char *prog, const char *const *envp)
{
  if (strchr(prog, '/'))
    return g_file_test(prog, G_FILE_TEST_IS_EXECUTABLE) ? g_strdup(prog) : NULL;
  const char *path = g_environ_getenv((GStrv)envp, "PATH");
  return ar_find_in_path(prog, path ? path : "/usr/bin:/bin");
}

/* The I/O of one running hook. */
typedef struct {
  const char *input;
  gsize input_len;
  gsize input_off;
  GString *out;
  gboolean out_over;
  GString *err_head;
  GString *err_tail;
  gboolean err_cut; /* bytes were dropped between head and tail */
} HookIo;

static void
keep_stderr(HookIo *io, const char *buf, gsize n)
{
  gsize head_room = ARD_HOOK_STDERR_KEEP - MIN(io->err_head->len, ARD_HOOK_STDERR_KEEP);
  gsize to_head = MIN(n, head_room);
  g_string_append_len(io->err_head, buf, to_head);
  buf += to_head;
  n -= to_head;
  if (n == 0)
    return;
  g_string_append_len(io->err_tail, buf, n);
  if (io->err_tail->len > ARD_HOOK_STDERR_KEEP) {
    io->err_cut = TRUE;
    g_string_erase(io->err_tail, 0, io->err_tail->len - ARD_HOOK_STDERR_KEEP);
  }
}

/* Read what is there; FALSE at EOF or error. */
static gboolean
read_some(int fd, HookIo *io, gboolean is_stdout)
{
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0)
    return errno == EAGAIN || errno == EINTR;
  if (n == 0)
    return FALSE;
  if (!is_stdout)
    keep_stderr(io, buf, n);
  else if (io->out->len + n > ARD_HOOK_STDOUT_MAX)
    io->out_over = TRUE;
  else
    g_string_append_len(io->out, buf, n);
  return TRUE;
}

/* The hook's group, then whatever it left in the daemon's subtree (a
 * double fork that called setsid left the group, not the subtree: the
 * daemon is a subreaper). Hooks run while no agent does. */
static void
kill_leftovers(pid_t pgid)
{
  (void)kill(-pgid, SIGKILL);
  ard_reap_signal_descendants(getpid(), 0, SIGKILL);
}

static void
fail(ArdHookResult *res, const char *type, char *message)
{
  if (res->error_type) {
    g_free(message); /* the first reason stands */
    return;
  }
  res->error_type = g_strdup(type);
  res->error_message = message;
}

static void
run_one(const ArConfig *cfg, ArdHookResult *res, const char *const *envp, const char *input)
{
  g_autofree char *exec_path = find_program(res->argv[0], envp);
  if (exec_path == NULL) {
    fail(res, "spawn", g_strdup_printf(_("%s: not found or not executable"), res->argv[0]));
    return;
  }
  int in_p[2], out_p[2], err_p[2];
  if (pipe2(in_p, O_CLOEXEC) < 0) {
    fail(res, "spawn", g_strdup(g_strerror(errno)));
    return;
  }
  g_auto(ArFd) in_r = in_p[0];
  g_auto(ArFd) in_w = in_p[1];
  if (pipe2(out_p, O_CLOEXEC) < 0) {
    fail(res, "spawn", g_strdup(g_strerror(errno)));
    return;
  }
  g_auto(ArFd) out_r = out_p[0];
  g_auto(ArFd) out_w = out_p[1];
  if (pipe2(err_p, O_CLOEXEC) < 0) {
    fail(res, "spawn", g_strdup(g_strerror(errno)));
    return;
  }
  g_auto(ArFd) err_r = err_p[0];
  g_auto(ArFd) err_w = err_p[1];

  ArdSpawnParams sp = {
    .exec_path = exec_path,
    .argv = (const char *const *)res->argv,
    .envp = envp,
    .cwd = cfg->work_dir,
    .stdin_fd = in_r,
    .output_fd = out_w,
    .split_stderr = TRUE,
    .stderr_fd = err_w,
  };
  pid_t pid = 0;
  int pidfd_raw = -1;
  g_autoptr(GError) error = NULL;
  ard_reap_hold();
  gboolean ok = ard_spawn(&sp, &pid, &pidfd_raw, &error);
  if (ok)
    ard_reap_keep(pid);
  ard_reap_release();
  if (!ok) {
    fail(res, "spawn", g_strdup(error->message));
    return;
  }
  g_auto(ArFd) pidfd = pidfd_raw;
  ar_fd_close(&in_r);
  ar_fd_close(&out_w);
  ar_fd_close(&err_w);
  for (int *fd = (int[]){ in_w, out_r, err_r, -1 }; *fd >= 0; fd++)
    (void)fcntl(*fd, F_SETFL, O_NONBLOCK | fcntl(*fd, F_GETFL));

  HookIo io = { .input = input, .input_len = strlen(input) };
  g_autoptr(GString) out = io.out = g_string_new(NULL);
  g_autoptr(GString) err_head = io.err_head = g_string_new(NULL);
  g_autoptr(GString) err_tail = io.err_tail = g_string_new(NULL);
  gint64 deadline = g_get_monotonic_time() + (gint64)cfg->hook_timeout_s * G_USEC_PER_SEC;
  gint64 drain_until = 0;
  gboolean exited = FALSE, killed = FALSE;
  siginfo_t si = { 0 };

  while (!exited || out_r >= 0 || err_r >= 0) {
    gint64 now = g_get_monotonic_time();
    if (!exited && !killed && now >= deadline) {
      killed = TRUE;
      fail(res, "timeout",
           g_strdup_printf(_("still running after %u s: killed"), cfg->hook_timeout_s));
      kill_leftovers(pid);
      deadline = now + KILL_WAIT_MS * 1000;
    } else if (!exited && killed && now >= deadline) {
      /* Stuck in the kernel: give up on it (the reaper gets it later). */
      ard_reap_forget(pid);
      break;
    }
    if (exited && now >= drain_until)
      break;
    struct pollfd fds[4];
    int n = 0;
    int i_in = -1, i_out = -1, i_err = -1, i_pid = -1;
    if (in_w >= 0)
      fds[i_in = n++] = (struct pollfd){ in_w, POLLOUT, 0 };
    if (out_r >= 0)
      fds[i_out = n++] = (struct pollfd){ out_r, POLLIN, 0 };
    if (err_r >= 0)
      fds[i_err = n++] = (struct pollfd){ err_r, POLLIN, 0 };
    if (!exited)
      fds[i_pid = n++] = (struct pollfd){ pidfd, POLLIN, 0 };
    gint64 until = exited ? drain_until : deadline;
    int ms = (int)MAX((until - now) / 1000, 0) + 1;
    if (poll(fds, n, ms) < 0 && errno != EINTR)
      break;
    if (i_in >= 0 && fds[i_in].revents) {
      ssize_t w = write(in_w, io.input + io.input_off, io.input_len - io.input_off);
      if (w > 0)
        io.input_off += w;
      /* EPIPE: the hook does not read its input; that is its business. */
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || io.input_off >= io.input_len)
        ar_fd_close(&in_w);
    }
    if (i_out >= 0 && fds[i_out].revents && !read_some(out_r, &io, TRUE))
      ar_fd_close(&out_r);
    if (io.out_over && !killed) {
      killed = TRUE;
      fail(res, "output_limit",
           g_strdup_printf(_("printed more than %d bytes on stdout: killed"), ARD_HOOK_STDOUT_MAX));
      kill_leftovers(pid);
      deadline = g_get_monotonic_time() + KILL_WAIT_MS * 1000;
    }
    if (i_err >= 0 && fds[i_err].revents && !read_some(err_r, &io, FALSE))
      ar_fd_close(&err_r);
    if (i_pid >= 0 && fds[i_pid].revents) {
      if (waitid(P_PIDFD, pidfd, &si, WEXITED) == 0) {
        exited = TRUE;
        ard_reap_forget(pid);
        /* What it left behind dies with it, so its pipes close. */
        kill_leftovers(pid);
        drain_until = g_get_monotonic_time() + DRAIN_MS * 1000;
      }
    }
  }

  if (exited && si.si_code == CLD_EXITED) {
    res->exit_code = si.si_status;
    if (si.si_status != 0)
      fail(res, "exit", g_strdup_printf(_("exited with status %d"), si.si_status));
  } else if (exited) {
    res->term_signal = si.si_status;
    fail(res, "signal",
         g_strdup_printf(_("killed by signal %s"), ard_reap_signal_name(si.si_status)));
  }
  if (err_head->len) {
    res->stderr_excerpt =
        io.err_cut ? g_strdup_printf("%s\n... [truncated] ...\n%s", err_head->str, err_tail->str)
                   : g_strconcat(err_head->str, err_tail->str, NULL);
  }
  if (res->error_type)
    return;
  /* stdout: nothing, or one JSON object. */
  g_strstrip(out->str);
  out->len = strlen(out->str);
  if (out->len == 0)
    return;
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, out->str, out->len, &error) ||
      !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
    /* Only the stages that read an answer care. */
    if (res->kind == AR_HOOK_CONTEXT_ENRICHER || res->kind == AR_HOOK_DIRTY_HANDLER ||
        res->kind == AR_HOOK_DETECTOR)
      fail(res, "bad_output", g_strdup(_("stdout is not a JSON object")));
    return;
  }
  res->answer = json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* [plugins.NAME] as JSON: the hook's own settings (cli-agent-runner's
 * cfg.plugins.raw, which only in-process plugins could read). */
static JsonNode *
toml_to_json(const ArTomlNode *n)
{
  JsonNode *out = json_node_alloc();
  switch (n->type) {
  case AR_TOML_TABLE: {
    JsonObject *o = json_object_new();
    for (guint i = 0; i < ar_toml_len(n); i++) {
      const ArTomlNode *c = ar_toml_at(n, i);
      json_object_set_member(o, c->key, toml_to_json(c));
    }
    return json_node_init_object(out, o);
  }
  case AR_TOML_ARRAY: {
    JsonArray *a = json_array_new();
    for (guint i = 0; i < ar_toml_len(n); i++)
      json_array_add_element(a, toml_to_json(ar_toml_at(n, i)));
    return json_node_init_array(out, a);
  }
  case AR_TOML_STRING:
    return json_node_init_string(out, n->v.str);
  case AR_TOML_INTEGER:
    return json_node_init_int(out, n->v.integer);
  case AR_TOML_FLOAT:
    return json_node_init_double(out, n->v.fp);
  case AR_TOML_BOOL:
    return json_node_init_boolean(out, n->v.boolean);
  default: /* dates and times: their RFC 3339 text */
    return json_node_init_string(out, n->v.datetime);
  }
}

static void
set_plugin_config(JsonObject *input, const ArConfig *cfg, const char *name)
{
  const ArTomlNode *plugins = cfg->toml ? ar_toml_get(cfg->toml, "plugins") : NULL;
  const ArTomlNode *mine =
      plugins && plugins->type == AR_TOML_TABLE && name ? ar_toml_get(plugins, name) : NULL;
  if (mine && mine->type == AR_TOML_TABLE)
    json_object_set_member(input, "plugin_config", toml_to_json(mine));
  else
    json_object_set_null_member(input, "plugin_config");
}

GPtrArray *
ard_hooks_run_sync(const ArConfig *cfg, ArHookKind kind, GPtrArray *hooks,
                   const char *const *base_env, guint round_num, const char *phase,
                   JsonObject *input, const char *prompt_path, gboolean stop_at_claim)
{
  GPtrArray *results = g_ptr_array_new_with_free_func((GDestroyNotify)ard_hook_result_free);
  for (guint i = 0; hooks && i < hooks->len; i++) {
    ArdHookResult *res = g_new0(ArdHookResult, 1);
    g_ptr_array_add(results, res);
    res->kind = kind;
    res->argv = g_strdupv(g_ptr_array_index(hooks, i));
    res->name = ar_hook_name((const char *const *)res->argv);
    res->exit_code = -1;
    json_object_set_string_member(input, "hook_name", res->name);
    set_plugin_config(input, cfg, res->name);
    g_autoptr(JsonNode) root = json_node_init_object(json_node_alloc(), input);
    g_autofree char *doc = json_to_string(root, FALSE);
    g_auto(GStrv) envp = ard_hooks_build_env(cfg, base_env, round_num, phase, kind, res->name);
    if (prompt_path)
      res->prompt_old_hash = file_hash(prompt_path);
    run_one(cfg, res, (const char *const *)envp, doc);
    if (prompt_path)
      res->prompt_new_hash = file_hash(prompt_path);
    if (stop_at_claim && res->answer && ar_json_bool(res->answer, "claimed", FALSE))
      break;
  }
  return results;
}

/* ---- in a thread, results on the loop ---------------------------------- */

struct ArdHookBatch {
  ArConfig *cfg;
  ArHookKind kind;
  GPtrArray *hooks;
  GStrv base_env;
  guint round_num;
  char *phase;
  JsonObject *input;
  char *prompt_path;
  GPtrArray *results;
  GThread *thread;
  int efd;
  sd_event_source *io;
  ArdHookBatchDone done;
  gpointer user_data;
};

static gpointer
batch_thread(gpointer data)
{
  ArdHookBatch *b = data;
  b->results = ard_hooks_run_sync(b->cfg, b->kind, b->hooks, (const char *const *)b->base_env,
                                  b->round_num, b->phase, b->input, b->prompt_path, FALSE);
  guint64 one = 1;
  (void)!write(b->efd, &one, sizeof one);
  return NULL;
}

static int
on_batch_done(sd_event_source *s, int fd, uint32_t revents, void *user_data)
{
  ArdHookBatch *b = user_data;
  guint64 value;
  (void)!read(fd, &value, sizeof value);
  b->io = sd_event_source_disable_unref(b->io);
  g_thread_join(g_steal_pointer(&b->thread));
  b->done(b, b->user_data);
  return 0;
}

ArdHookBatch *
ard_hooks_start(sd_event *event, ArConfig *cfg, ArHookKind kind, GPtrArray *hooks,
                const char *const *base_env, guint round_num, const char *phase, JsonObject *input,
                const char *prompt_path, ArdHookBatchDone done, gpointer user_data, GError **error)
{
  ArdHookBatch *b = g_new0(ArdHookBatch, 1);
  b->cfg = ar_config_ref(cfg);
  b->kind = kind;
  b->hooks = g_ptr_array_ref(hooks);
  b->base_env = g_strdupv((GStrv)base_env);
  b->round_num = round_num;
  b->phase = g_strdup(phase);
  b->input = json_object_ref(input);
  b->prompt_path = g_strdup(prompt_path);
  b->done = done;
  b->user_data = user_data;
  b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int r = b->efd < 0 ? -errno : sd_event_add_io(event, &b->io, b->efd, EPOLLIN, on_batch_done, b);
  if (r < 0) {
    /* No thread started: the caller ends what waited for the hooks. */
    ar_set_error_errno(error, -r, "cannot watch the hook worker");
    ard_hook_batch_free(b);
    return NULL;
  }
  (void)sd_event_source_set_description(b->io, "hooks");
  b->thread = g_thread_new("hooks", batch_thread, b);
  return b;
}

GPtrArray *
ard_hook_batch_get_results(ArdHookBatch *b)
{
  return b->results;
}

void
ard_hook_batch_free(ArdHookBatch *b)
{
  if (b == NULL)
    return;
  if (b->thread) {
    /* Freed while its hooks run (the daemon is going away): end them
     * rather than wait out their timeout. The thread may be forking a hook
     * (or the next one of the batch) right now, after a kill: kill again
     * until it says it is done, then join. */
    struct pollfd done = { b->efd, POLLIN, 0 };
    do
      ard_reap_signal_descendants(getpid(), 0, SIGKILL);
    while (poll(&done, 1, 50) == 0 || (done.revents == 0 && errno == EINTR));
    g_thread_join(b->thread);
  }
  sd_event_source_disable_unref(b->io);
  if (b->efd >= 0)
    close(b->efd);
  ar_config_unref(b->cfg);
  g_ptr_array_unref(b->hooks);
  g_strfreev(b->base_env);
  g_free(b->phase);
  json_object_unref(b->input);
  g_free(b->prompt_path);
  g_clear_pointer(&b->results, g_ptr_array_unref);
  g_free(b);
}

/* ---- events ------------------------------------------------------------ */

/* {"events": [{"event": KIND, ...payload}]}: each through the one emitter.
 * A kind not declared in [events] kinds fails the hook (bad_output). */
static void
emit_custom_events(ArEmitter *emitter, const ArConfig *cfg, ArdHookResult *res)
{
  JsonArray *events = res->answer ? ar_json_array(res->answer, "events") : NULL;
  for (guint i = 0; events && i < json_array_get_length(events); i++) {
    JsonNode *node = json_array_get_element(events, i);
    JsonObject *ev = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
    const char *kind = ev ? ar_json_str(ev, "event") : NULL;
    g_autoptr(GError) error = NULL;
    if (kind == NULL || cfg->event_kinds == NULL ||
        !g_strv_contains((const char *const *)cfg->event_kinds, kind) ||
        !ar_event_kind_register_custom(kind, &error)) {
      fail(res, "bad_output",
           g_strdup_printf(_("event \"%s\" is not declared in [events] kinds"), kind ? kind : "?"));
      continue;
    }
    g_autoptr(JsonObject) payload = json_object_new();
    JsonObjectIter iter;
    const char *name;
    JsonNode *member;
    json_object_iter_init_ordered(&iter, ev);
    while (json_object_iter_next_ordered(&iter, &name, &member))
      if (!g_str_equal(name, "event") && !g_str_equal(name, "ts"))
        json_object_set_member(payload, name, json_node_copy(member));
    ar_emitter_emit(emitter, kind, payload, NULL);
  }
}

char *
ard_hooks_emit(ArEmitter *emitter, const ArConfig *cfg, GPtrArray *results, guint round_num,
               const char *phase, const char *prompt_path)
{
  char *first = NULL;
  for (guint i = 0; results && i < results->len; i++) {
    ArdHookResult *res = g_ptr_array_index(results, i);
    emit_custom_events(emitter, cfg, res);
    if (res->prompt_old_hash && res->prompt_new_hash &&
        !g_str_equal(res->prompt_old_hash, res->prompt_new_hash))
      ar_emit(emitter, "prompt_overwritten", AR_EV_I("round_num", round_num),
              AR_EV_S("phase", phase), AR_EV_S("hook", res->name),
              AR_EV_S("prompt_path", prompt_path), AR_EV_S("old_hash", res->prompt_old_hash),
              AR_EV_S("new_hash", res->prompt_new_hash), NULL);
    if (res->error_type == NULL)
      continue;
    if (first == NULL)
      first = g_strdup_printf(_("%s hook %s failed: %s"), ar_hook_kind_name(res->kind), res->name,
                              res->error_message);
    if (res->kind == AR_HOOK_SERVE_STARTUP) {
      ar_emit(emitter, "serve_startup_hook_failed", AR_EV_S("hook", res->name),
              AR_EV_S("exc_type", res->error_type), AR_EV_S("exc_msg", res->error_message), NULL);
      continue;
    }
    g_autoptr(JsonNode) code = json_node_new(JSON_NODE_NULL);
    if (res->exit_code >= 0)
      json_node_init_int(code, res->exit_code);
    ar_emit(emitter, "hook_failed", AR_EV_S("hook_name", res->name),
            AR_EV_S("hook_kind", ar_hook_kind_name(res->kind)),
            AR_EV_S("error_type", res->error_type), AR_EV_S("error_message", res->error_message),
            AR_EV_S("traceback", res->stderr_excerpt ? res->stderr_excerpt : ""),
            AR_EV_N("exit_code", code),
            AR_EV_S("signal", res->term_signal ? ard_reap_signal_name(res->term_signal) : NULL),
            NULL);
  }
  return first;
}
