/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ar-cleanup.h"
#include "ar-prompt.h"
#include "ar-secret.h"
#include "ar-util.h"
#include "ar-vcs.h"

/* The startup battery: the checks that `config check`, `install` and the
 * daemon (before every round) run. Each returns NULL when fine, or what is
 * wrong; the hint in the table says how to fix it. */

typedef char *(*CheckFunc)(const ArConfig *cfg, const char *base_path, char **detail);

static char *
check_config_loaded(const ArConfig *cfg, const char *base_path, char **detail)
{
  *detail = g_strdup(cfg->config_path);
  return NULL;
}

static char *
check_log_dir_writable(const ArConfig *cfg, const char *base_path, char **detail)
{
  *detail = g_strdup(cfg->log_dir);
  if (g_mkdir_with_parents(cfg->log_dir, 0700) < 0)
    return g_strdup_printf(_("cannot create %s: %s"), cfg->log_dir, g_strerror(errno));
  /* An unnamed file (O_TMPFILE) meets the same permission, read-only,
   * quota and space checks as a named one, without adding, renaming and
   * removing a directory entry on every round. The named probe stays for
   * file systems without O_TMPFILE. */
  g_auto(ArFd) fd = open(cfg->log_dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    /* Like g_file_set_contents(): reserve the bytes first, so a full disk
     * shows here and not as a short write. */
    int err = 0;
    if (fallocate(fd, 0, 0, 2) < 0 && errno == ENOSPC) {
      err = ENOSPC;
    } else {
      ssize_t n = write(fd, "ok", 2);
      if (n != 2)
        err = n < 0 ? errno : ENOSPC; /* a short write of 2 bytes: no room */
    }
    if (err == ENOSPC || err == EDQUOT) {
      /* Say it plainly: the permissions hint of this check would mislead. */
      guint64 free_bytes = 0;
      (void)ar_check_dir_full(cfg->log_dir, &free_bytes);
      return g_strdup_printf(_("no space left in %s (%" PRIu64
                               " bytes free): free space there (old rounds/ logs, events files)"),
                             cfg->log_dir, free_bytes);
    }
    if (err != 0)
      return g_strdup_printf(_("cannot write a file in %s: %s"), cfg->log_dir, g_strerror(err));
    return NULL;
  }
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
    return g_strdup_printf(_("cannot create a file in %s: %s"), cfg->log_dir, g_strerror(errno));

  g_autofree char *probe = g_build_filename(cfg->log_dir, ".write_probe", NULL);
  g_autoptr(GError) local = NULL;
  if (!g_file_set_contents(probe, "ok", 2, &local))
    return g_strdup(local->message);
  g_unlink(probe);
  return NULL;
}

static char *
check_agent_cli(const ArConfig *cfg, const char *base_path, char **detail)
{
  g_autofree char *found = ar_config_find_agent(cfg, base_path);
  if (found) {
    *detail = g_steal_pointer(&found);
    return NULL;
  }
  g_autofree char *path = ar_config_agent_path_env(cfg, base_path);
  return g_strdup_printf(_("\"%s\" not found on PATH=%s"),
                         cfg->command && cfg->command[0] ? cfg->command[0] : "", path);
}

static char *
check_work_dir_git(const ArConfig *cfg, const char *base_path, char **detail)
{
  *detail = g_strdup(cfg->work_dir);
  g_autoptr(GError) local = NULL;
  if (!ar_vcs_check_work_tree(cfg->work_dir, &local))
    return g_strdup(local->message);
  return NULL;
}

/* Every phase's prompt, not only the global one: the Python tool checked
 * only [prompt], so a broken phase file burned rounds. */
static GPtrArray *
phases_to_check(const ArConfig *cfg)
{
  GPtrArray *phases = g_ptr_array_new();
  g_ptr_array_add(phases, NULL);
  for (guint i = 0; cfg->phase_list && cfg->phase_list[i]; i++)
    if (ar_config_get_phase(cfg, cfg->phase_list[i]) &&
        ar_config_get_phase(cfg, cfg->phase_list[i])->prompt_files)
      g_ptr_array_add(phases, cfg->phase_list[i]);
  return phases;
}

static char *
check_prompt_file_exists(const ArConfig *cfg, const char *base_path, char **detail)
{
  g_autoptr(GPtrArray) phases = phases_to_check(cfg);
  g_autoptr(GString) files = g_string_new(NULL);
  for (guint i = 0; i < phases->len; i++) {
    const char *phase = g_ptr_array_index(phases, i);
    const char *const *list = ar_config_prompt_files(cfg, phase);
    if (list == NULL || list[0] == NULL)
      return g_strdup(_("no prompt file configured"));
    if (!g_file_test(list[0], G_FILE_TEST_IS_REGULAR))
      return phase ? g_strdup_printf(_("%s (phase %s) does not exist"), list[0], phase)
                   : g_strdup_printf(_("%s does not exist"), list[0]);
    g_string_append_printf(files, "%s%s", files->len ? ", " : "", list[0]);
  }
  *detail = g_string_free(g_steal_pointer(&files), FALSE);
  return NULL;
}

static char *
check_prompt_smoke(const ArConfig *cfg, const char *base_path, char **detail)
{
  g_autoptr(GPtrArray) phases = phases_to_check(cfg);
  for (guint i = 0; i < phases->len; i++) {
    const char *phase = g_ptr_array_index(phases, i);
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    g_autofree char *prompt = ar_prompt_assemble(cfg, phase, NULL, &len, &local);
    if (prompt == NULL || !ar_prompt_smoke(prompt, len, &local))
      return phase ? g_strdup_printf(_("phase %s: %s"), phase, local->message)
                   : g_strdup(local->message);
    if (phase == NULL)
      *detail = g_strdup_printf(_("%zu bytes"), len);
  }
  return NULL;
}

/* Every name in [agent] secrets resolvable; a locked keyring is not a
 * failure (the daemon waits for it to be unlocked). */
static char *
check_secrets(const ArConfig *cfg, const char *base_path, char **detail)
{
  g_autoptr(GString) found = g_string_new(NULL);
  /* The service has credentials, or root without a session (sudo for
   * install --system) checks: the fix is the --system command. */
  gboolean in_unit = g_getenv("CREDENTIALS_DIRECTORY") != NULL;
  gboolean system = in_unit || (geteuid() == 0 && !g_getenv("DBUS_SESSION_BUS_ADDRESS"));
  for (guint i = 0; cfg->secrets && cfg->secrets[i]; i++) {
    const char *name = cfg->secrets[i];
    g_autofree char *value = NULL;
    const char *source = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *cmd = ar_secret_set_command(cfg->project, name, system);
    /* install --system checks as root, before systemd hands the
     * credential over: the encrypted file is what the unit will load. */
    g_autofree char *cred = in_unit ? NULL : ar_secret_credstore_find(cfg->project, name);
    if (cred) {
      g_string_append_printf(found, "%s%s (%s)", found->len ? ", " : "", name, cred);
      continue;
    }
    ArSecretStatus st = ar_secret_lookup(cfg->project, name, &value, &source, &local);
    /* Only whether it resolves matters here; the value goes at once. */
    if (value)
      explicit_bzero(value, strlen(value));
    switch (st) {
    case AR_SECRET_FOUND:
      g_string_append_printf(found, "%s%s (%s)", found->len ? ", " : "", name, source);
      break;
    case AR_SECRET_LOCKED:
      g_string_append_printf(found, "%s%s (%s)", found->len ? ", " : "", name,
                             _("keyring locked: rounds wait until it is unlocked"));
      break;
    case AR_SECRET_MISSING:
      return g_strdup_printf(_("secret %s is not stored; run: %s"), name, cmd);
    case AR_SECRET_UNAVAILABLE:
    default:
      return g_strdup_printf(_("secret %s cannot be read (%s); run: %s"), name,
                             local ? local->message : "?", cmd);
    }
  }
  *detail = g_string_free(g_steal_pointer(&found), FALSE);
  return NULL;
}

static const struct {
  const char *name;
  CheckFunc func;
  const char *hint;
} checks[] = {
  { "config_loaded", check_config_loaded, NULL },
  { "log_dir_writable", check_log_dir_writable,
    N_("fix the permissions of [runtime] log_dir, or point it at a writable directory") },
  { "agent_cli_in_path", check_agent_cli,
    N_("install the agent CLI, or add its directory to [agent] path (the service does not read "
       "your shell's profile)") },
  { "work_dir_is_git_repo", check_work_dir_git,
    N_("run 'git init' in work_dir (and commit once), or fix [runtime] work_dir") },
  { "prompt_file_exists", check_prompt_file_exists,
    N_("create the prompt file, or fix [prompt] file/files (relative paths start at the config "
       "file's directory)") },
  { "prompt_smoke_passes", check_prompt_smoke,
    N_("write a real prompt: at least 500 bytes, not starting with '-' or white space") },
  { "secrets_available", check_secrets,
    N_("store each name of [agent] secrets with 'agent-runner secret set NAME' (system mode: "
       "'agent-runner secret set --system NAME', then 'agent-runner install --system' again), "
       "or remove it from the list; see 'agent-runner secret check'") },
};

gboolean
ar_check_dir_full(const char *dir, guint64 *free_bytes)
{
  struct statvfs vfs;
  *free_bytes = statvfs(dir, &vfs) == 0 ? (guint64)vfs.f_bavail * vfs.f_frsize : 0;
  /* Ask for a real block: a directory entry or an empty file may still
   * fit when no data does. */
  g_auto(ArFd) fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno == ENOSPC || errno == EDQUOT;
  if (fallocate(fd, 0, 0, 4096) == 0)
    return FALSE;
  if (errno == ENOSPC || errno == EDQUOT)
    return TRUE;
  /* No fallocate here (EOPNOTSUPP): a real write tells. */
  char block[4096] = { 0 };
  ssize_t n = write(fd, block, sizeof block);
  return (n >= 0 && n < (ssize_t)sizeof block) || (n < 0 && (errno == ENOSPC || errno == EDQUOT));
}

void
ar_check_free(ArCheck *check)
{
  g_free(check->detail);
  g_free(check->hint);
  g_free(check);
}

GPtrArray *
ar_startup_checks(const ArConfig *cfg, const char *base_path, gboolean *all_ok)
{
  GPtrArray *results = g_ptr_array_new_with_free_func((GDestroyNotify)ar_check_free);
  gboolean ok = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS(checks); i++) {
    ArCheck *c = g_new0(ArCheck, 1);
    c->name = checks[i].name;
    g_autofree char *problem = checks[i].func(cfg, base_path, &c->detail);
    c->ok = problem == NULL;
    if (!c->ok) {
      g_free(c->detail);
      c->detail = g_steal_pointer(&problem);
      c->hint = g_strdup(_(checks[i].hint));
      ok = FALSE;
    }
    g_ptr_array_add(results, c);
  }
  if (all_ok)
    *all_ok = ok;
  return results;
}

gboolean
ar_startup_checks_skipped(void)
{
  static const char *const yes[] = { "1", "true", "yes", "on" };
  const char *v = g_getenv("AGENT_RUNNER_SKIP_STARTUP_CHECK");
  for (gsize i = 0; v && i < G_N_ELEMENTS(yes); i++) {
    if (g_ascii_strcasecmp(v, yes[i]) == 0)
      return TRUE;
  }
  return FALSE;
}
