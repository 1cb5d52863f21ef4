/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arc-secret.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "ar-json.h"
#include "ar-secret.h"
#include "ar-util.h"
#include "arc-client.h"

/* `agent-runner secret set|list|rm|check`: the values the agent gets in
 * its environment ([agent] secrets). User mode keeps them in the Secret
 * Service (libsecret, ar-secret.c); --system writes encrypted systemd
 * credentials that `install --system` loads into the unit. A value is read
 * from stdin only, never from argv (ps and shell history show argv). */

char *
arc_secret_credential_path(const char *project, const char *name)
{
  return ar_secret_credstore_path(project, name);
}

void
arc_secret_unit_lines(GString *unit, const ArConfig *cfg)
{
  for (guint i = 0; cfg->secrets && cfg->secrets[i]; i++) {
    const char *name = cfg->secrets[i];
    g_autofree char *own = arc_secret_credential_path(cfg->project, name);
    g_autofree char *every = arc_secret_credential_path(NULL, name);
    const char *path =
        g_file_test(own, G_FILE_TEST_EXISTS) || !g_file_test(every, G_FILE_TEST_EXISTS) ? own
                                                                                        : every;
    g_string_append_printf(unit, "LoadCredentialEncrypted=%s:%s\n", name, path);
  }
}

/* ---- reading the value ------------------------------------------------ */

static gboolean
read_all(int fd, GByteArray *buf, gsize limit, GError **error)
{
  guint8 chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ar_set_error_errno(error, errno, "read stdin");
    if (n == 0)
      return TRUE;
    g_byte_array_append(buf, chunk, (guint)n);
    /* Enough to say it is too long; the rest is not kept. */
    if (buf->len > limit)
      return TRUE;
  }
}

/* The value from stdin: without echo on a terminal (one line), else all
 * of it, one trailing newline dropped (echo adds one; nobody means it). */
static char *
read_value(const char *name, gsize *len_out, GError **error)
{
  g_autoptr(GByteArray) buf = g_byte_array_new();
  if (isatty(STDIN_FILENO)) {
    struct termios old, quiet;
    gboolean restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
      quiet = old;
      quiet.c_lflag &= ~(tcflag_t)ECHO;
      quiet.c_lflag |= ECHONL;
      (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    fprintf(stderr, _("Value for %s (not shown): "), name);
    fflush(stderr);
    g_autofree char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (restore)
      (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    if (n > 0)
      g_byte_array_append(buf, (guint8 *)line, (guint)n);
    if (line)
      explicit_bzero(line, cap);
  } else if (!read_all(STDIN_FILENO, buf, AR_SECRET_MAX_VALUE + 1, error)) {
    return NULL;
  }
  gsize len = buf->len;
  if (len > 0 && buf->data[len - 1] == '\n')
    len--;
  if (len > 0 && buf->data[len - 1] == '\r')
    len--;
  char *value = g_malloc(len + 1);
  if (len > 0) /* an empty GByteArray may have no data at all */
    memcpy(value, buf->data, len);
  value[len] = '\0';
  if (buf->len > 0)
    explicit_bzero(buf->data, buf->len);
  *len_out = len;
  return value;
}

static void
free_value(char *value)
{
  if (value) {
    explicit_bzero(value, strlen(value));
    g_free(value);
  }
}

/* ---- system mode: systemd-creds ---------------------------------------- */

static gboolean
store_credential(const char *project, const char *name, const char *value, GError **error)
{
  g_autofree char *path = arc_secret_credential_path(project, name);
  g_autofree char *dir = g_path_get_dirname(path);
  if (g_mkdir_with_parents(dir, 0700) < 0)
    return ar_set_error_errno(error, errno, _("cannot create %s (run as root)"), dir);
  g_autofree char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
  g_autofree char *name_arg = g_strdup_printf("--name=%s", name);
  g_autoptr(GSubprocess) p =
      g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error,
                       "systemd-creds", "encrypt", name_arg, "-", tmp, NULL);
  if (!p)
    return FALSE;
  g_autoptr(GBytes) in = g_bytes_new(value, strlen(value));
  g_autoptr(GBytes) err = NULL;
  if (!g_subprocess_communicate(p, in, NULL, NULL, &err, error)) {
    (void)g_unlink(tmp);
    return FALSE;
  }
  if (!g_subprocess_get_successful(p)) {
    (void)g_unlink(tmp);
    gsize n = 0;
    const char *msg = err ? g_bytes_get_data(err, &n) : NULL;
    g_autofree char *text = msg ? g_strstrip(g_strndup(msg, n)) : g_strdup("");
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                _("systemd-creds encrypt failed: %s (see docs/secrets.md for hosts without a "
                  "TPM or host key)"),
                text);
    return FALSE;
  }
  /* A complete credential or none: never a half-written file in place. */
  if (chmod(tmp, 0600) < 0 || rename(tmp, path) < 0) {
    int errsv = errno;
    (void)g_unlink(tmp);
    return ar_set_error_errno(error, errsv, "rename %s", path);
  }
  return TRUE;
}

/* ---- verbs ------------------------------------------------------------- */

static int
usage(void)
{
  fprintf(stderr, _("usage: agent-runner secret set NAME [--project P] [--system]  (value on "
                    "stdin)\n"
                    "       agent-runner secret list [--system] [--json]\n"
                    "       agent-runner secret rm NAME [--project P] [--system]\n"
                    "       agent-runner secret check [--config F] [--json]\n"));
  return AR_EXIT_USAGE;
}

static int
fail(const char *message)
{
  fprintf(stderr, "agent-runner secret: %s\n", message);
  return AR_EXIT_FAILURE;
}

static int
secret_set(ArcContext *g, const char *name)
{
  g_autoptr(GError) error = NULL;
  if (!ar_secret_name_valid(name, &error)) {
    fail(error->message);
    return AR_EXIT_USAGE;
  }
  gsize len = 0;
  char *value = read_value(name, &len, &error);
  if (!value)
    return fail(error->message);
  gboolean ok = ar_secret_value_valid(value, len, &error) &&
                (g->system ? store_credential(g->project, name, value, &error)
                           : ar_secret_store(g->project, name, value, &error));
  free_value(value);
  if (!ok)
    return fail(error->message);
  if (g->system) {
    g_autofree char *path = arc_secret_credential_path(g->project, name);
    printf(_("stored %s as an encrypted credential in %s; run 'agent-runner install --system' "
             "so the unit loads it, then restart the service\n"),
           name, path);
  } else if (g->project) {
    printf(_("stored %s for project %s in the Secret Service; the next round gets it\n"), name,
           g->project);
  } else {
    printf(_("stored %s for every project in the Secret Service; the next round gets it\n"), name);
  }
  return AR_EXIT_OK;
}

static int
secret_rm(ArcContext *g, const char *name)
{
  g_autoptr(GError) error = NULL;
  if (!ar_secret_name_valid(name, &error)) {
    fail(error->message);
    return AR_EXIT_USAGE;
  }
  gboolean removed;
  if (g->system) {
    g_autofree char *path = arc_secret_credential_path(g->project, name);
    removed = g_unlink(path) == 0;
    if (!removed && errno != ENOENT)
      return fail(g_strerror(errno));
  } else {
    removed = ar_secret_remove(g->project, name, &error);
    if (error)
      return fail(error->message);
  }
  if (!removed) {
    fprintf(stderr,
            g->project ? _("agent-runner secret: no secret %s for project %s\n")
                       : _("agent-runner secret: no secret %s for every project (give "
                           "--project P for a project's own)\n"),
            name, g->project);
    return AR_EXIT_FAILURE;
  }
  printf(_("removed %s\n"), name);
  return AR_EXIT_OK;
}

static void
add_entry_json(JsonBuilder *b, const char *name, const char *project, const char *store,
               gboolean locked)
{
  json_builder_begin_object(b);
  ar_json_add_str(b, "name", name);
  ar_json_add_str(b, "project", project);
  ar_json_add_str(b, "store", store);
  json_builder_set_member_name(b, "locked");
  json_builder_add_boolean_value(b, locked);
  json_builder_end_object(b);
}

static GPtrArray *
list_credentials(void)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ar_secret_entry_free);
  g_autofree char *probe = ar_secret_credstore_path(NULL, "X");
  g_autofree char *dir = g_path_get_dirname(probe);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *f; d && (f = g_dir_read_name(d));) {
    if (!g_str_has_prefix(f, "agent-runner.") || strstr(f, ".tmp."))
      continue;
    const char *rest = f + strlen("agent-runner.");
    const char *dot = strrchr(rest, '.');
    ArSecretEntry *e = g_new0(ArSecretEntry, 1);
    e->name = g_strdup(dot ? dot + 1 : rest);
    e->project = dot ? g_strndup(rest, dot - rest) : NULL;
    g_ptr_array_add(out, e);
  }
  return out;
}

static int
secret_list(ArcContext *g)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = g->system ? list_credentials() : ar_secret_list(&error);
  if (!entries)
    return fail(error->message);
  const char *store = g->system ? "credstore" : "keyring";
  if (g->json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; i < entries->len; i++) {
      ArSecretEntry *e = g_ptr_array_index(entries, i);
      add_entry_json(b, e->name, e->project, store, e->locked);
    }
    json_builder_end_array(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    arc_print_json(root);
    return AR_EXIT_OK;
  }
  if (entries->len == 0) {
    g_autofree char *probe = ar_secret_credstore_path(NULL, "X");
    g_autofree char *dir = g_path_get_dirname(probe);
    printf(g->system ? _("no secrets in %s\n") : _("no secrets in the Secret Service\n"), dir);
    return AR_EXIT_OK;
  }
  for (guint i = 0; i < entries->len; i++) {
    ArSecretEntry *e = g_ptr_array_index(entries, i);
    g_autofree char *where = g->system ? arc_secret_credential_path(e->project, e->name)
                                       : g_strdup(e->locked ? _("keyring (locked)") : _("keyring"));
    printf("%-24s %-20s %s\n", e->name, e->project ? e->project : _("(every project)"), where);
  }
  return AR_EXIT_OK;
}

static int
secret_check(ArcContext *g)
{
  g_autoptr(ArConfig) cfg = arc_load_config(g);
  if (!cfg)
    return AR_EXIT_CONFIG;
  gboolean ok = TRUE;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; cfg->secrets && cfg->secrets[i]; i++) {
    const char *name = cfg->secrets[i];
    g_autofree char *value = NULL;
    const char *source = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *cred = g->system ? ar_secret_credstore_find(cfg->project, name) : NULL;
    ArSecretStatus st =
        cred ? AR_SECRET_FOUND : ar_secret_lookup(cfg->project, name, &value, &source, &error);
    if (cred)
      source = cred;
    if (value)
      explicit_bzero(value, strlen(value));
    g_autofree char *fix = ar_secret_set_command(cfg->project, name, g->system);
    const char *state = st == AR_SECRET_FOUND     ? "ok"
                        : st == AR_SECRET_LOCKED  ? "locked"
                        : st == AR_SECRET_MISSING ? "missing"
                                                  : "unavailable";
    gboolean good = st == AR_SECRET_FOUND || st == AR_SECRET_LOCKED;
    ok = ok && good;
    json_builder_begin_object(b);
    ar_json_add_str(b, "name", name);
    ar_json_add_str(b, "state", state);
    ar_json_add_str(b, "source", good ? source : NULL);
    ar_json_add_str(b, "error", error ? error->message : NULL);
    ar_json_add_str(b, "fix", good ? NULL : fix);
    json_builder_end_object(b);
    if (g->json)
      continue;
    if (st == AR_SECRET_FOUND)
      printf("%s✓%s %s (%s)\n", arc_color("\033[32m"), arc_color("\033[0m"), name, source);
    else if (st == AR_SECRET_LOCKED)
      printf(_("%s✓%s %s (keyring locked: rounds wait until it is unlocked)\n"),
             arc_color("\033[33m"), arc_color("\033[0m"), name);
    else
      printf(_("%s✗%s %s %s\n  how to fix: %s\n"), arc_color("\033[31m"), arc_color("\033[0m"),
             name, error ? error->message : _("is not stored"), fix);
  }
  json_builder_end_array(b);
  if (g->json) {
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    arc_print_json(root);
  } else if (!cfg->secrets || !cfg->secrets[0]) {
    printf(_("project %s: [agent] secrets is empty; nothing to check\n"), cfg->project);
  }
  return ok ? AR_EXIT_OK : AR_EXIT_CONFIG;
}

int
arc_verb_secret(ArcContext *ctx, int argc, char **argv)
{
  if (!arc_parse_options(ctx, NULL, &argc, &argv))
    return AR_EXIT_USAGE;
  if (argc < 2)
    return usage();
  const char *sub = argv[1];
  if (g_str_equal(sub, "set") && argc == 3)
    return secret_set(ctx, argv[2]);
  if (g_str_equal(sub, "rm") && argc == 3)
    return secret_rm(ctx, argv[2]);
  if (g_str_equal(sub, "list") && argc == 2)
    return secret_list(ctx);
  if (g_str_equal(sub, "check") && argc == 2)
    return secret_check(ctx);
  if (g_str_equal(sub, "set") && argc > 3)
    fprintf(stderr, _("agent-runner secret: the value is read from stdin, never from the command "
                      "line (it would show in ps and the shell history)\n"));
  return usage();
}
