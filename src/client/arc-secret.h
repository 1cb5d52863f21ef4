/* SPDX-License-Identifier: Apache-2.0 */
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

G_END_DECLS
