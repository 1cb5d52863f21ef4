/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The loop's timers between rounds and during a stop: the restart delay
 * (restart_delay_s times a factor, capped), the back-off until a
 * throttle's end, and the EXTEND_TIMEOUT_USEC messages that keep systemd
 * waiting while a graceful stop lets the round finish. One wait at a time;
 * the loop decides what a wait means and what follows it. */

#include <glib.h>
#include <systemd/sd-event.h>

G_BEGIN_DECLS

typedef enum {
  ARD_WAIT_DELAY,   /* the restart delay */
  ARD_WAIT_BACKOFF, /* the back-off until a throttle's end */
} ArdWaitKind;

/* A wait ran out; its timer is gone when this runs. */
typedef void (*ArdWaitDone)(ArdWaitKind kind, gpointer user_data);

typedef struct ArdWait ArdWait;

ArdWait *ard_wait_new(sd_event *event, ArdWaitDone done, gpointer user_data);
void ard_wait_free(ArdWait *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdWait, ard_wait_free)

/* Wait restart_delay_s * factor (at most ARD_WAIT_DELAY_CAP_S) from now.
 * Returns the wall-clock time the wait ends, 0 with error set when the
 * timer cannot be armed. */
gint64 ard_wait_start_delay(ArdWait *w, guint restart_delay_s, guint factor, GError **error);
/* Go on with a restart delay another process began: left_us remain.
 * Returns the wall-clock end, 0 when the timer cannot be armed. */
gint64 ard_wait_resume_delay(ArdWait *w, guint restart_delay_s, guint factor, gint64 left_us);
/* The restart delay in progress follows a new restart_delay_s, counted
 * from when it began (a deadline already passed fires at once). Returns
 * the new wall-clock end. */
gint64 ard_wait_retime_delay(ArdWait *w, guint restart_delay_s);
/* Wait until the wall-clock time until_us: a realtime timer, so a suspend
 * or a clock step still ends it then. FALSE with error set when the timer
 * cannot be armed. */
gboolean ard_wait_start_backoff(ArdWait *w, gint64 until_us, GError **error);

/* A wait is pending. */
gboolean ard_wait_pending(ArdWait *w);
/* The factor of the current (or last) restart delay; 0 before any. */
guint ard_wait_get_factor(ArdWait *w);
/* Drop the pending wait without calling done. */
void ard_wait_cancel(ArdWait *w);

/* A graceful stop waits for the round: ask systemd for what it may still
 * take (round_deadline_us, the wall-clock end of its time limit, or 0 when
 * it is already being ended; plus the kill grace and teardown) and keep
 * asking until ard_wait_end_stop_extension(). Nothing without
 * NOTIFY_SOCKET. */
void ard_wait_extend_stop(ArdWait *w, gint64 round_deadline_us);
void ard_wait_end_stop_extension(ArdWait *w);

G_END_DECLS
