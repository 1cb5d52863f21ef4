/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* sd_notify for the systemd unit (Type=notify): READY=1, a one-line
 * STATUS=, STOPPING=1, RELOADING=1. Without NOTIFY_SOCKET these do
 * nothing. */

#include <glib.h>

#include "ard-status.h"

G_BEGIN_DECLS

void ard_notify_ready(void);
void ard_notify_reloading(void);
void ard_notify_stopping(void);
/* Ask systemd for usec more before it kills us (a graceful stop waiting
 * for the round): counted from now, so repeat it before it runs out. */
void ard_notify_extend_timeout(guint64 usec);
/* "round 12 running (phase diverge), last ok" and the like. */
char *ard_notify_format_status(const ArdStatus *st);
void ard_notify_status(const ArdStatus *st);

G_END_DECLS
