/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Secrets the agent gets in its environment: names in [agent] secrets,
 * values from systemd credentials ($CREDENTIALS_DIRECTORY, system mode)
 * or the Secret Service through libsecret (user mode), schema
 * org.agentrunner.Secret with the attributes project and name. An entry
 * without a project serves every project; a project's own entry wins. */

#include <glib.h>

#include "ar-config.h"

G_BEGIN_DECLS

#define AR_SECRET_SCHEMA_NAME "org.agentrunner.Secret"
/* A value must fit well inside the daemon's 64 KiB line buffer, so the
 * redactor can always hold a cut value back (ar_redact_partial_tail). */
#define AR_SECRET_MAX_VALUE (16 * 1024)
#define AR_SECRET_MAX_NAME  128

typedef enum {
  AR_SECRET_FOUND,
  AR_SECRET_MISSING,
  AR_SECRET_LOCKED,      /* stored, but its keyring is locked */
  AR_SECRET_UNAVAILABLE, /* no Secret Service to ask (error says why) */
} ArSecretStatus;

/* A valid environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
gboolean ar_secret_name_valid(const char *name, GError **error);
/* Non-empty, no NUL byte, valid UTF-8, at most AR_SECRET_MAX_VALUE. */
gboolean ar_secret_value_valid(const char *value, gsize len, GError **error);

/* project NULL: the entry for every project. */
gboolean ar_secret_store(const char *project, const char *name, const char *value, GError **error);
/* FALSE with no error when there was nothing to remove. */
gboolean ar_secret_remove(const char *project, const char *name, GError **error);

typedef struct {
  char *name;
  char *project; /* NULL: every project */
  gboolean locked;
} ArSecretEntry;
void ar_secret_entry_free(ArSecretEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArSecretEntry, ar_secret_entry_free)

/* Every stored entry (names only, never values), sorted by name. */
GPtrArray *ar_secret_list(GError **error);

/* The value of name for project: $CREDENTIALS_DIRECTORY/name first, then
 * the Secret Service. *source says which ("credential" or "keyring"). */
ArSecretStatus ar_secret_lookup(const char *project, const char *name, char **value,
                                const char **source, GError **error);

/* Where `secret set --system` keeps a credential:
 * $AGENT_RUNNER_CREDSTORE (tests) or /etc/credstore.encrypted, file
 * agent-runner.PROJECT.NAME, or agent-runner.NAME for every project. */
char *ar_secret_credstore_path(const char *project, const char *name);
/* The credential install --system would load for project (its own, else
 * the one for every project), or NULL when neither exists (or, not being
 * root, we cannot see into the credstore). */
char *ar_secret_credstore_find(const char *project, const char *name);

/* Register with the redactor every [agent.env] value whose name looks like
 * a credential. */
void ar_secret_register_env(const ArConfig *cfg);

/* The shell command that stores name for project (for hints). */
char *ar_secret_set_command(const char *project, const char *name, gboolean system);

G_END_DECLS
