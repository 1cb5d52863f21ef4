/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-wait.h"

#include "ar-util.h"
#include "ard-notify.h"
#include "ard-round.h"

/* Cap of the restart delay during a crash streak. */
#define ARD_WAIT_DELAY_CAP_S 1800

/* EXTEND_TIMEOUT_USEC: systemd's TimeoutStopSec counts from the SIGTERM,
 * but a graceful stop lets the round finish. Ask for what the round may
 * still take (its wall-clock limit, the kill grace, teardown), and keep
 * asking while it lasts: the extension counts from each message. */
#define EXTEND_MARGIN_USEC (15 * G_USEC_PER_SEC)
#define EXTEND_REPEAT_USEC (30 * G_USEC_PER_SEC)

struct ArdWait {
  sd_event *event;
  ArdWaitDone done;
  gpointer user_data;

  sd_event_source *timer; /* the restart delay or the back-off */
  ArdWaitKind kind;
  gint64 start_mono_us; /* the restart delay: restart_delay_s times factor from here */
  guint factor;
  double backoff_scale; /* AGENT_RUNNER_TEST_BACKOFF_SCALE, else 1 */

  sd_event_source *extend; /* EXTEND_TIMEOUT_USEC while a stop waits */
};

static gint64
now_mono(ArdWait *w)
{
  uint64_t now = 0;
  if (sd_event_now(w->event, CLOCK_MONOTONIC, &now) < 0)
    return g_get_monotonic_time();
  return (gint64)now;
}

static guint64
delay_usec(guint restart_delay_s, guint factor)
{
  guint64 s = (guint64)restart_delay_s * factor;
  return MIN(s, (guint64)ARD_WAIT_DELAY_CAP_S) * G_USEC_PER_SEC;
}

ArdWait *
ard_wait_new(sd_event *event, ArdWaitDone done, gpointer user_data)
{
  ArdWait *w = g_new0(ArdWait, 1);
  w->event = sd_event_ref(event);
  w->done = done;
  w->user_data = user_data;
  w->backoff_scale = 1.0;
  /* AGENT_RUNNER_TEST_BACKOFF_SCALE (0..1] is a test-only switch: back-off
   * timers run that much faster; events, state and ThrottledUntil keep the
   * real times, so what tests assert is what production computes. */
  const char *scale = g_getenv("AGENT_RUNNER_TEST_BACKOFF_SCALE");
  if (scale) {
    double v = g_ascii_strtod(scale, NULL);
    if (v > 0 && v <= 1)
      w->backoff_scale = v;
  }
  return w;
}

void
ard_wait_free(ArdWait *w)
{
  if (!w)
    return;
  sd_event_source_disable_unref(w->timer);
  sd_event_source_disable_unref(w->extend);
  sd_event_unref(w->event);
  g_free(w);
}

static int
on_timer(sd_event_source *s, uint64_t usec, void *user_data)
{
  ArdWait *w = user_data;
  w->timer = sd_event_source_disable_unref(w->timer);
  w->done(w->kind, w->user_data);
  return 0;
}

static int
arm(ArdWait *w, ArdWaitKind kind, clockid_t clock, uint64_t when, guint64 in_usec,
    const char *description)
{
  w->timer = sd_event_source_disable_unref(w->timer);
  int r = sd_event_add_time(w->event, &w->timer, clock, when, ar_timer_accuracy_us(in_usec),
                            on_timer, w);
  if (r < 0)
    return r;
  w->kind = kind;
  (void)sd_event_source_set_description(w->timer, description);
  return 0;
}

gint64
ard_wait_start_delay(ArdWait *w, guint restart_delay_s, guint factor, GError **error)
{
  w->factor = factor;
  w->start_mono_us = now_mono(w);
  guint64 usec = delay_usec(restart_delay_s, factor);
  gint64 end = g_get_real_time() + (gint64)usec;
  /* Zero delay still goes through the loop, so signals queued meanwhile
   * are seen before the next round starts. */
  int r = arm(w, ARD_WAIT_DELAY, CLOCK_MONOTONIC, (uint64_t)w->start_mono_us + usec, usec,
              "restart-delay");
  if (r < 0) {
    ar_set_error_errno(error, -r, "cannot arm the restart timer");
    return 0;
  }
  return end;
}

gint64
ard_wait_resume_delay(ArdWait *w, guint restart_delay_s, guint factor, gint64 left_us)
{
  w->factor = factor;
  gint64 now = now_mono(w);
  w->start_mono_us = now + left_us - (gint64)delay_usec(restart_delay_s, factor);
  gint64 end = g_get_real_time() + left_us;
  if (arm(w, ARD_WAIT_DELAY, CLOCK_MONOTONIC, (uint64_t)(now + left_us), (guint64)left_us,
          "restart-delay") < 0)
    return 0;
  return end;
}

gint64
ard_wait_retime_delay(ArdWait *w, guint restart_delay_s)
{
  guint64 deadline = (guint64)w->start_mono_us + delay_usec(restart_delay_s, w->factor);
  (void)sd_event_source_set_time(w->timer, deadline);
  return g_get_real_time() + ((gint64)deadline - now_mono(w));
}

gboolean
ard_wait_start_backoff(ArdWait *w, gint64 until_us, GError **error)
{
  gint64 now = g_get_real_time();
  /* Test hook only: shrinks the timer, never the reported times. */
  gint64 wait = (gint64)(MAX(until_us - now, 0) * w->backoff_scale);
  int r =
      arm(w, ARD_WAIT_BACKOFF, CLOCK_REALTIME, (uint64_t)(now + wait), (guint64)wait, "back-off");
  if (r < 0)
    return ar_set_error_errno(error, -r, "cannot arm the back-off timer");
  return TRUE;
}

gboolean
ard_wait_pending(ArdWait *w)
{
  return w->timer != NULL;
}

guint
ard_wait_get_factor(ArdWait *w)
{
  return w->factor;
}

void
ard_wait_cancel(ArdWait *w)
{
  w->timer = sd_event_source_disable_unref(w->timer);
}

static int
on_extend_timer(sd_event_source *s, uint64_t usec, void *user_data)
{
  ard_notify_extend_timeout(EXTEND_REPEAT_USEC + EXTEND_MARGIN_USEC);
  (void)sd_event_source_set_time(s, usec + EXTEND_REPEAT_USEC);
  (void)sd_event_source_set_enabled(s, SD_EVENT_ON);
  return 0;
}

void
ard_wait_extend_stop(ArdWait *w, gint64 round_deadline_us)
{
  if (!g_getenv("NOTIFY_SOCKET"))
    return;
  guint64 usec = 2 * ARD_KILL_GRACE_USEC + EXTEND_MARGIN_USEC;
  if (round_deadline_us)
    usec += (guint64)MAX(round_deadline_us - g_get_real_time(), 0);
  ard_notify_extend_timeout(usec);
  /* Re-send shortly before this extension runs out. */
  uint64_t when = (uint64_t)now_mono(w) + usec - EXTEND_MARGIN_USEC;
  if (w->extend) {
    (void)sd_event_source_set_time(w->extend, when);
    (void)sd_event_source_set_enabled(w->extend, SD_EVENT_ON);
  } else if (sd_event_add_time(w->event, &w->extend, CLOCK_MONOTONIC, when, 0, on_extend_timer,
                               w) >= 0) {
    (void)sd_event_source_set_description(w->extend, "extend-timeout");
  }
}

void
ard_wait_end_stop_extension(ArdWait *w)
{
  w->extend = sd_event_source_disable_unref(w->extend);
}
