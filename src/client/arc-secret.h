#pragma once

/* Secrets in system mode: where `secret set --system` writes a
 * credential, and the unit lines `install --system` adds for them. */

#include <glib.h>

#include "ar-config.h"

G_BEGIN_DECLS

char *arc_secret_credential_path(const char *project, const char *name);
/* LoadCredentialEncrypted= for every name in [agent] secrets: the
 * project's own credential, else the one for every project. */
void arc_secret_unit_lines(GString *unit, const ArConfig *cfg);

/* The project's read-transcript polkit action (Peek's log_tail on the
 * system bus), next to manage and upgrade in the file install writes. */
void arc_secret_append_read_action(GString *policy, const char *escaped, const char *project,
                                   const char *user);
/* arc-install.c */
void arc_install_append_action(GString *s, const char *id, const char *description,
                               const char *message, const char *user);

G_END_DECLS
