/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* [agent] secrets for the next round, read fresh before every round: a
 * key rotated with `agent-runner secret set` takes effect at the next
 * round without a restart. Values live only in the environment handed to
 * the agent and in the redactor; never in the daemon's own environment,
 * argv, state.json or round-context.json. */

#include <glib.h>
#include <systemd/sd-event.h>

#include "ar-config.h"
#include "ar-events.h"

G_BEGIN_DECLS

typedef enum {
  ARD_SECRETS_READY,   /* every secret read: ard_secrets_get_env() */
  ARD_SECRETS_LOCKED,  /* a locked keyring holds one: wait for the changed callback */
  ARD_SECRETS_MISSING, /* one went away since the startup check: config_broken emitted */
} ArdSecretsResult;

typedef struct ArdSecrets ArdSecrets;

/* changed: the Secret Service announced a change while a read found a
 * locked keyring (it may be the unlock waited for: read again). */
ArdSecrets *ard_secrets_new(sd_event *event, ArEmitter *emitter, void (*changed)(gpointer),
                            gpointer user_data);
void ard_secrets_free(ArdSecrets *secrets);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdSecrets, ard_secrets_free)

/* Read cfg's [agent] secrets. LOCKED emits waiting_for_secret (once per
 * name) and watches the Secret Service; MISSING emits smoke_check_failed
 * and config_broken. */
ArdSecretsResult ard_secrets_read(ArdSecrets *secrets, const ArConfig *cfg);
/* NAME=value of the last READY read, NULL before one. */
const char *const *ard_secrets_get_env(ArdSecrets *secrets);
/* The name a LOCKED read waits for, NULL otherwise. */
const char *ard_secrets_get_waiting(ArdSecrets *secrets);

G_END_DECLS
