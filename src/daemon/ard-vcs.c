/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-vcs.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ar-json.h"
#include "ar-util.h"
#include "ar-vcs.h"
#include "ard-hooks.h"

/* Files an event lists; count says how many there were. */
#define FILES_IN_EVENT 20

struct ArdVcsJob {
  /* inputs, owned copies: the thread must not touch the loop's objects */
  ArConfig *cfg;
  guint round_num;
  char *phase;
  gboolean clean_exit;

  /* results, written by the thread, read on the loop after done */
  ArVcsStatus *status;
  char *status_error;
  gboolean attempted; /* the dirty action ran */
  ArVcsStashResult stash;
  ArVcsCommitResult commit;
  char *action_error;
  char *git_head;
  char *paths_hash;
  GPtrArray *hook_results; /* ArdHookResult*, [hooks] dirty_handler */
  char *claimed_by;        /* the hook that took the dirty tree */

  GThread *thread;
  int efd;
  sd_event_source *io;
  ArdVcsDoneFunc done;
  gpointer user_data;
};

static gboolean
handler_disabled(const ArConfig *cfg)
{
  /* [plugins] disable = ["default_dirty_handler"] keeps the Python tool's
   * meaning: report, touch nothing. */
  return cfg->plugins_disable &&
         g_strv_contains((const char *const *)cfg->plugins_disable, "default_dirty_handler");
}

/* [hooks] dirty_handler, in order, in this thread (the git worker already
 * runs off the loop); TRUE when one answered {"claimed": true}. */
static gboolean
run_dirty_hooks(ArdVcsJob *job)
{
  g_autoptr(GPtrArray) hooks = ar_config_hooks(job->cfg, job->phase, AR_HOOK_DIRTY_HANDLER);
  if (hooks->len == 0)
    return FALSE;
  g_autoptr(JsonObject) input =
      ard_hooks_input_new(job->cfg, AR_HOOK_DIRTY_HANDLER, job->round_num, job->phase);
  JsonArray *files = json_array_new();
  for (guint i = 0; i < job->status->files->len; i++)
    json_array_add_string_element(files, g_ptr_array_index(job->status->files, i));
  json_object_set_array_member(input, "dirty_files", files);
  json_object_set_string_member(
      input, "dirty_action",
      (const char *[]){ "stash", "ignore", "auto_commit" }[job->cfg->dirty_action]);
  g_auto(GStrv) env = g_get_environ();
  job->hook_results =
      ard_hooks_run_sync(job->cfg, AR_HOOK_DIRTY_HANDLER, hooks, (const char *const *)env,
                         job->round_num, job->phase, input, NULL, TRUE);
  ArdHookResult *last = g_ptr_array_index(job->hook_results, job->hook_results->len - 1);
  if (last->answer && ar_json_bool(last->answer, "claimed", FALSE)) {
    job->claimed_by = g_strdup(last->name);
    return TRUE;
  }
  return FALSE;
}

static gpointer
job_thread(gpointer data)
{
  ArdVcsJob *job = data;
  const ArConfig *cfg = job->cfg;
  g_autoptr(ArVcsExcludes) excludes = ar_vcs_excludes_new(cfg->log_dir, NULL);
  g_autoptr(GError) error = NULL;
  /* The config is the operator's, not the agent's: an edit not committed
   * yet must never vanish into an orphan stash (the next reload would read
   * the old file) nor into an auto-commit. */
  g_autofree char *prefix = g_strconcat(cfg->work_dir, "/", NULL);
  if (g_str_has_prefix(cfg->config_path, prefix))
    ar_vcs_excludes_add_owned(excludes, cfg->config_path + strlen(prefix));

  /* One repository open for the three (each open re-reads the git config
   * files and HEAD); the dirty action below opens its own, as it writes. */
  g_auto(ArVcsSnapshot) snap = { 0 };
  if (!ar_vcs_snapshot(cfg->work_dir, excludes,
                       (const char *const *)cfg->substrate_fingerprint_paths,
                       AR_VCS_SNAPSHOT_HEAD | AR_VCS_SNAPSHOT_PATHS_HASH | AR_VCS_SNAPSHOT_STATUS,
                       &snap, &error)) {
    snap.status_error = g_strdup(error->message);
    g_clear_error(&error);
  }
  job->git_head = g_steal_pointer(&snap.git_head);
  job->paths_hash = g_steal_pointer(&snap.paths_hash);
  job->status = g_steal_pointer(&snap.status);

  if (job->status == NULL) {
    job->status_error = g_steal_pointer(&snap.status_error);
  } else if (job->status->count > 0 && job->clean_exit && run_dirty_hooks(job)) {
    /* A hook took the tree: the built-in action stays out of its way. */
  } else if (job->status->count > 0 && job->clean_exit && !handler_disabled(cfg)) {
    switch (cfg->dirty_action) {
    case AR_DIRTY_STASH:
      job->attempted = TRUE;
      if (!ar_vcs_stash_orphan(cfg->work_dir, excludes, job->round_num, job->phase,
                               cfg->stash_idempotency_s, &job->stash, &error))
        job->action_error = g_strdup(error->message);
      break;
    case AR_DIRTY_AUTO_COMMIT:
      job->attempted = TRUE;
      if (!ar_vcs_auto_commit(cfg->work_dir, excludes, job->round_num, job->phase, &job->commit,
                              &error))
        job->action_error = g_strdup(error->message);
      break;
    case AR_DIRTY_IGNORE:
      break;
    }
  }
  guint64 one = 1;
  (void)!write(job->efd, &one, sizeof one);
  return NULL;
}

static int
on_job_done(sd_event_source *s, int fd, uint32_t revents, void *user_data)
{
  ArdVcsJob *job = user_data;
  guint64 value;
  (void)!read(fd, &value, sizeof value);
  job->io = sd_event_source_disable_unref(job->io);
  g_thread_join(g_steal_pointer(&job->thread));
  job->done(job, job->user_data);
  return 0;
}

ArdVcsJob *
ard_vcs_job_start(sd_event *event, ArConfig *cfg, guint round_num, const char *phase,
                  gboolean clean_exit, ArdVcsDoneFunc done, gpointer user_data, GError **error)
{
  ArdVcsJob *job = g_new0(ArdVcsJob, 1);
  job->cfg = ar_config_ref(cfg);
  job->round_num = round_num;
  job->phase = g_strdup(phase);
  job->clean_exit = clean_exit;
  job->done = done;
  job->user_data = user_data;
  job->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int r =
      job->efd < 0 ? -errno : sd_event_add_io(event, &job->io, job->efd, EPOLLIN, on_job_done, job);
  if (r < 0) {
    /* No thread started: the round ends without its git work. */
    ar_set_error_errno(error, -r, "cannot watch the git worker");
    ard_vcs_job_free(job);
    return NULL;
  }
  (void)sd_event_source_set_description(job->io, "vcs-job");
  job->thread = g_thread_new("vcs", job_thread, job);
  return job;
}

void
ard_vcs_job_free(ArdVcsJob *job)
{
  if (job == NULL)
    return;
  if (job->thread)
    g_thread_join(job->thread);
  sd_event_source_disable_unref(job->io);
  if (job->efd >= 0)
    close(job->efd);
  ar_config_unref(job->cfg);
  g_free(job->phase);
  g_clear_pointer(&job->status, ar_vcs_status_free);
  ar_vcs_stash_result_clear(&job->stash);
  ar_vcs_commit_result_clear(&job->commit);
  g_free(job->status_error);
  g_free(job->action_error);
  g_free(job->git_head);
  g_free(job->paths_hash);
  g_clear_pointer(&job->hook_results, g_ptr_array_unref);
  g_free(job->claimed_by);
  g_free(job);
}

static JsonNode *
files_node(GPtrArray *files)
{
  JsonArray *arr = json_array_new();
  for (guint i = 0; files && i < files->len && i < FILES_IN_EVENT; i++)
    json_array_add_string_element(arr, g_ptr_array_index(files, i));
  return json_node_init_array(json_node_alloc(), arr);
}

JsonNode *
ard_vcs_job_dirty_files(ArdVcsJob *job)
{
  return job->status ? files_node(job->status->files) : NULL;
}

void
ard_vcs_job_emit(ArdVcsJob *job, ArEmitter *emitter)
{
  if (job->status == NULL) {
    /* Not a git tree any more, or unreadable: the startup battery stops
     * the loop before the next round; here we only say it. */
    g_warning("round %u: git status failed: %s", job->round_num, job->status_error);
    return;
  }
  if (job->status->count == 0)
    return;
  g_autoptr(JsonNode) files = files_node(job->status->files);
  ar_emit(emitter, "dirty_detected", AR_EV_I("round_num", job->round_num), AR_EV_N("files", files),
          AR_EV_I("count", job->status->count), NULL);
  g_free(ard_hooks_emit(emitter, job->cfg, job->hook_results, job->round_num, job->phase, NULL));
  if (!job->attempted)
    return;

  if (job->action_error) {
    const char *kind =
        job->cfg->dirty_action == AR_DIRTY_STASH ? "orphan_stash_failed" : "dirty_commit_failed";
    ar_emit(emitter, kind, AR_EV_I("round_num", job->round_num), AR_EV_S("phase", job->phase),
            AR_EV_S("reason", job->action_error), NULL);
    return;
  }
  if (job->cfg->dirty_action == AR_DIRTY_STASH) {
    g_autoptr(JsonNode) stashed = files_node(job->stash.files);
    ar_emit(emitter, job->stash.reused ? "orphan_idempotent_skip" : "orphan_stashed",
            AR_EV_I("round_num", job->round_num), AR_EV_S("ref", job->stash.sha),
            AR_EV_S("reason", "clean_exit_with_dirty_tree"), AR_EV_N("files", stashed), NULL);
  } else if (job->commit.committed) {
    g_autoptr(JsonNode) committed = files_node(job->commit.files);
    ar_emit(emitter, "dirty_auto_committed", AR_EV_I("round_num", job->round_num),
            AR_EV_N("files", committed), AR_EV_S("ref", job->commit.sha), NULL);
  }
}

gboolean
ard_vcs_job_orphan_update(ArdVcsJob *job, JsonNode **orphan)
{
  *orphan = NULL;
  if (job->status == NULL)
    return FALSE;
  if (job->status->count == 0)
    return TRUE; /* clean tree: the orphan is history */
  if (!job->attempted || job->action_error || job->cfg->dirty_action != AR_DIRTY_STASH)
    return FALSE;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_int(b, "round_num", job->round_num);
  json_builder_set_member_name(b, "phase");
  if (job->phase)
    json_builder_add_string_value(b, job->phase);
  else
    json_builder_add_null_value(b);
  ar_json_add_str(b, "ref", job->stash.sha);
  ar_json_add_str(b, "message", job->stash.message);
  json_builder_set_member_name(b, "files");
  json_builder_add_value(b, files_node(job->stash.files));
  json_builder_set_member_name(b, "stashed_at");
  g_autofree char *now = ar_utc_iso_ms(g_get_real_time());
  json_builder_add_string_value(b, now);
  json_builder_end_object(b);
  *orphan = json_builder_get_root(b);
  return TRUE;
}

void
ard_vcs_job_emit_substrate_after(ArdVcsJob *job, ArEmitter *emitter)
{
  ar_emit(emitter, "round_substrate_after", AR_EV_I("round_num", job->round_num),
          AR_EV_S("git_head", job->git_head), AR_EV_S("paths_hash", job->paths_hash), NULL);
}

void
ard_vcs_emit_substrate_before(ArEmitter *emitter, const ArConfig *cfg, guint round_num)
{
  /* HEAD and the hash from one repository open; a work tree that cannot
   * be opened leaves both NULL, as the two separate calls did. */
  g_auto(ArVcsSnapshot) snap = { 0 };
  (void)ar_vcs_snapshot(cfg->work_dir, NULL, (const char *const *)cfg->substrate_fingerprint_paths,
                        AR_VCS_SNAPSHOT_HEAD | AR_VCS_SNAPSHOT_PATHS_HASH, &snap, NULL);
  ar_emit(emitter, "round_substrate_before", AR_EV_I("round_num", round_num),
          AR_EV_S("git_head", snap.git_head), AR_EV_S("paths_hash", snap.paths_hash), NULL);
}

JsonNode *
ard_vcs_orphan_context(JsonNode *orphan)
{
  if (orphan == NULL || !JSON_NODE_HOLDS_OBJECT(orphan))
    return NULL;
  JsonObject *o = json_node_get_object(orphan);
  JsonObject *ctx = json_object_new();
  for (const char *const *k = (const char *const[]){ "ref", "message", "files", NULL }; *k; k++)
    if (json_object_has_member(o, *k))
      json_object_set_member(ctx, *k, json_node_copy(json_object_get_member(o, *k)));
  return json_node_init_object(json_node_alloc(), ctx);
}
