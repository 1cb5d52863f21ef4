/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-secret.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n.h>
#include <libsecret/secret.h>

#include "ar-redact.h"
#include "ar-util.h"

static const SecretSchema *
schema(void)
{
  /* project is absent (not empty) on an entry for every project, so
   * secret-tool shows what it is. */
  static const SecretSchema s = {
    AR_SECRET_SCHEMA_NAME,
    SECRET_SCHEMA_NONE,
    {
        { "project", SECRET_SCHEMA_ATTRIBUTE_STRING },
        { "name", SECRET_SCHEMA_ATTRIBUTE_STRING },
        { NULL, 0 },
    },
  };
  return &s;
}

gboolean
ar_secret_name_valid(const char *name, GError **error)
{
  gboolean ok = name != NULL && name[0] != '\0' && strlen(name) <= AR_SECRET_MAX_NAME &&
                (g_ascii_isalpha(name[0]) || name[0] == '_');
  for (const char *p = name; ok && *p; p++)
    ok = g_ascii_isalnum(*p) || *p == '_';
  if (!ok)
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("\"%s\" is not a valid secret name: the agent gets it as an environment "
                  "variable, so use letters, digits and '_', not starting with a digit (at most "
                  "%d characters), e.g. ANTHROPIC_API_KEY"),
                name ? name : "", AR_SECRET_MAX_NAME);
  return ok;
}

gboolean
ar_secret_value_valid(const char *value, gsize len, GError **error)
{
  if (len == 0) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the value is empty; nothing was stored (use 'agent-runner secret rm' to "
                  "remove a secret)"));
    return FALSE;
  }
  if (len > AR_SECRET_MAX_VALUE) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the value is longer than %d bytes; nothing was stored"), AR_SECRET_MAX_VALUE);
    return FALSE;
  }
  if (memchr(value, '\0', len)) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the value contains a NUL byte, which an environment variable cannot hold; "
                  "nothing was stored"));
    return FALSE;
  }
  if (!g_utf8_validate(value, (gssize)len, NULL)) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the value is not valid UTF-8 text; nothing was stored (store binary keys "
                  "base64-encoded)"));
    return FALSE;
  }
  return TRUE;
}

static SecretService *
service(GError **error)
{
  g_autoptr(GError) local = NULL;
  SecretService *s = secret_service_get_sync(SECRET_SERVICE_OPEN_SESSION, NULL, &local);
  if (!s)
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                _("cannot reach the Secret Service (gnome-keyring, KeePassXC...) on the session "
                  "bus: %s"),
                local->message);
  return s;
}

static GHashTable *
attributes(const char *project, const char *name)
{
  GHashTable *a = g_hash_table_new(g_str_hash, g_str_equal);
  g_hash_table_insert(a, (gpointer) "name", (gpointer)name);
  if (project)
    g_hash_table_insert(a, (gpointer) "project", (gpointer)project);
  return a;
}

static void
free_items(GList *items)
{
  g_list_free_full(items, g_object_unref);
}

/* Every item named name (all projects), locked ones included. */
static GList *
search(SecretService *svc, const char *name, GError **error)
{
  g_autoptr(GHashTable) attrs = g_hash_table_new(g_str_hash, g_str_equal);
  if (name)
    g_hash_table_insert(attrs, (gpointer) "name", (gpointer)name);
  g_autoptr(GError) local = NULL;
  GList *items = secret_service_search_sync(svc, schema(), attrs, SECRET_SEARCH_ALL, NULL, &local);
  if (local) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("cannot search the Secret Service: %s"),
                local->message);
    free_items(items);
    return NULL;
  }
  return items;
}

static char *
item_attr(SecretItem *item, const char *key)
{
  g_autoptr(GHashTable) a = secret_item_get_attributes(item);
  return g_strdup(a ? g_hash_table_lookup(a, key) : NULL);
}

/* The item for exactly this project (NULL: the every-project one). */
static SecretItem *
pick(GList *items, const char *project)
{
  for (GList *l = items; l; l = l->next) {
    g_autofree char *p = item_attr(l->data, "project");
    if (g_strcmp0(p, project) == 0)
      return l->data;
  }
  return NULL;
}

/* The project's own item, else the every-project one: the order every
 * reader of a secret follows (the keyring here, the credstore below). */
static SecretItem *
pick_for_project(GList *items, const char *project)
{
  SecretItem *item = project ? pick(items, project) : NULL;
  return item ? item : pick(items, NULL);
}

/* The Secret Service and the items named name (every item: NULL), which
 * every operation starts from. */
typedef struct {
  SecretService *svc;
  GList *items;
} Found;

static void
found_clear(Found *f)
{
  free_items(g_steal_pointer(&f->items));
  g_clear_object(&f->svc);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Found, found_clear)

static gboolean
find(const char *name, Found *out, GError **error)
{
  out->svc = service(error);
  if (!out->svc)
    return FALSE;
  g_autoptr(GError) local = NULL;
  out->items = search(out->svc, name, &local);
  if (local) {
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
  }
  return TRUE;
}

gboolean
ar_secret_store(const char *project, const char *name, const char *value, GError **error)
{
  if (!ar_secret_name_valid(name, error) || !ar_secret_value_valid(value, strlen(value), error))
    return FALSE;
  g_auto(Found) found = { 0 };
  if (!find(name, &found, error))
    return FALSE;
  g_autoptr(GError) local = NULL;
  g_autoptr(SecretValue) v = secret_value_new(value, -1, "text/plain");
  /* The exact entry is updated in place. Not CreateItem's "replace": it
   * matches on a subset of the attributes, so storing the entry for every
   * project could overwrite a project's own one. */
  SecretItem *item = pick(found.items, project);
  if (item) {
    gboolean ok = secret_item_set_secret_sync(item, v, NULL, &local);
    if (!ok)
      g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("cannot store %s in the Secret Service: %s"),
                  name, local->message);
    return ok;
  }
  g_autoptr(SecretCollection) coll = secret_collection_for_alias_sync(
      found.svc, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE, NULL, &local);
  if (!coll) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                _("cannot store %s: the Secret Service has no default keyring (%s)"), name,
                local ? local->message : _("create one, e.g. by logging in to the desktop once"));
    return FALSE;
  }
  g_autoptr(GHashTable) attrs = attributes(project, name);
  g_autofree char *label = project ? g_strdup_printf("agent-runner %s (project %s)", name, project)
                                   : g_strdup_printf("agent-runner %s (every project)", name);
  /* One CreateItem: the item exists with its value, or not at all. */
  g_autoptr(SecretItem) created = secret_item_create_sync(coll, schema(), attrs, label, v,
                                                          SECRET_ITEM_CREATE_NONE, NULL, &local);
  if (!created) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("cannot store %s in the Secret Service: %s"),
                name, local->message);
    return FALSE;
  }
  return TRUE;
}

gboolean
ar_secret_remove(const char *project, const char *name, GError **error)
{
  if (!ar_secret_name_valid(name, error))
    return FALSE;
  g_auto(Found) found = { 0 };
  if (!find(name, &found, error))
    return FALSE;
  g_autoptr(GError) local = NULL;
  SecretItem *item = pick(found.items, project);
  if (item && !secret_item_delete_sync(item, NULL, &local)) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("cannot remove %s: %s"), name, local->message);
    return FALSE;
  }
  return item != NULL;
}

void
ar_secret_entry_free(ArSecretEntry *e)
{
  if (!e)
    return;
  g_free(e->name);
  g_free(e->project);
  g_free(e);
}

static gint
by_name(gconstpointer a, gconstpointer b)
{
  const ArSecretEntry *x = *(ArSecretEntry *const *)a, *y = *(ArSecretEntry *const *)b;
  int c = g_strcmp0(x->name, y->name);
  return c ? c : g_strcmp0(x->project, y->project);
}

GPtrArray *
ar_secret_list(GError **error)
{
  g_auto(Found) found = { 0 };
  if (!find(NULL, &found, error))
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ar_secret_entry_free);
  for (GList *l = found.items; l; l = l->next) {
    ArSecretEntry *e = g_new0(ArSecretEntry, 1);
    e->name = item_attr(l->data, "name");
    e->project = item_attr(l->data, "project");
    e->locked = secret_item_get_locked(l->data);
    g_ptr_array_add(out, e);
  }
  g_ptr_array_sort(out, by_name);
  return out;
}

static ArSecretStatus
lookup_credential(const char *name, char **value, GError **error)
{
  const char *dir = g_getenv("CREDENTIALS_DIRECTORY");
  if (!dir || !*dir)
    return AR_SECRET_MISSING;
  g_autofree char *path = g_build_filename(dir, name, NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents(path, &text, &len, &local)) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return AR_SECRET_MISSING;
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, "%s", local->message);
    return AR_SECRET_UNAVAILABLE;
  }
  /* systemd-creds encrypt of "echo value |" keeps the newline; nobody means
   * it as part of a key. */
  if (len > 0 && text[len - 1] == '\n')
    text[--len] = '\0';
  if (!ar_secret_value_valid(text, len, &local)) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS, _("credential %s: %s"), name,
                local->message);
    return AR_SECRET_UNAVAILABLE;
  }
  *value = g_steal_pointer(&text);
  return AR_SECRET_FOUND;
}

ArSecretStatus
ar_secret_lookup(const char *project, const char *name, char **value, const char **source,
                 GError **error)
{
  *value = NULL;
  *source = "credential";
  ArSecretStatus st = lookup_credential(name, value, error);
  if (st != AR_SECRET_MISSING)
    return st;
  *source = "keyring";
  g_auto(Found) found = { 0 };
  if (!find(name, &found, error))
    return AR_SECRET_UNAVAILABLE;
  SecretItem *item = pick_for_project(found.items, project);
  if (!item)
    return AR_SECRET_MISSING;
  if (secret_item_get_locked(item))
    return AR_SECRET_LOCKED;
  g_autoptr(GError) local = NULL;
  if (!secret_item_load_secret_sync(item, NULL, &local)) {
    g_set_error(error, AR_ERROR, AR_ERROR_FAILED, _("cannot read %s: %s"), name, local->message);
    return AR_SECRET_UNAVAILABLE;
  }
  g_autoptr(SecretValue) sv = secret_item_get_secret(item);
  const char *text = sv ? secret_value_get_text(sv) : NULL;
  if (!text) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS, _("%s is not stored as text"), name);
    return AR_SECRET_UNAVAILABLE;
  }
  *value = g_strdup(text);
  return AR_SECRET_FOUND;
}

void
ar_secret_register_env(const ArConfig *cfg)
{
  for (guint i = 0; cfg->env && cfg->env[i]; i++) {
    const char *eq = strchr(cfg->env[i], '=');
    if (!eq || eq == cfg->env[i] || strlen(eq + 1) < AR_REDACT_MIN_ENV_VALUE)
      continue;
    g_autofree char *key = g_strndup(cfg->env[i], eq - cfg->env[i]);
    if (ar_redact_name_is_credential(key))
      ar_redact_add_secret(eq + 1);
  }
}

char *
ar_secret_set_command(const char *project, const char *name, gboolean system)
{
  if (system)
    return g_strdup_printf("agent-runner secret set --system %s --project %s", name,
                           project ? project : "PROJECT");
  if (project)
    return g_strdup_printf("agent-runner secret set %s --project %s", name, project);
  return g_strdup_printf("agent-runner secret set %s", name);
}

char *
ar_secret_credstore_path(const char *project, const char *name)
{
  const char *dir = g_getenv("AGENT_RUNNER_CREDSTORE");
  g_autofree char *file = project ? g_strdup_printf("agent-runner.%s.%s", project, name)
                                  : g_strdup_printf("agent-runner.%s", name);
  return g_build_filename(dir && *dir ? dir : "/etc/credstore.encrypted", file, NULL);
}

char *
ar_secret_credstore_find(const char *project, const char *name)
{
  g_autofree char *own = ar_secret_credstore_path(project, name);
  if (g_file_test(own, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer(&own);
  g_autofree char *every = ar_secret_credstore_path(NULL, name);
  if (g_file_test(every, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer(&every);
  return NULL;
}
