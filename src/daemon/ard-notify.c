/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-notify.h"

#include <systemd/sd-daemon.h>

void
ard_notify_ready(void)
{
  (void)sd_notify(0, "READY=1");
}

void
ard_notify_reloading(void)
{
  /* ard_loop_reload says READY=1 again once the config is read. */
  (void)sd_notify(0, "RELOADING=1");
}

void
ard_notify_stopping(void)
{
  (void)sd_notify(0, "STOPPING=1");
}

void
ard_notify_extend_timeout(guint64 usec)
{
  (void)sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%" G_GUINT64_FORMAT, usec);
}

char *
ard_notify_format_status(const ArdStatus *st)
{
  const ArdRoundSummary *last = g_queue_peek_tail((GQueue *)&st->recent);
  g_autofree char *tail =
      last && last->outcome ? g_strdup_printf(", last %s", last->outcome) : g_strdup("");
  guint round_num = ard_status_round_num(st);
  const char *phase = ard_status_phase(st);
  const char *stop_reason = ard_status_stop_reason(st);
  switch (st->state) {
  case ARD_RUN_RUNNING:
    if (phase)
      return g_strdup_printf("round %u running (phase %s)%s", round_num, phase, tail);
    return g_strdup_printf("round %u running%s", round_num, tail);
  case ARD_RUN_WAITING:
    return g_strdup_printf("waiting before round %u%s", round_num + 1, tail);
  case ARD_RUN_BACKING_OFF: {
    if (st->throttled_until_us <= 0)
      return g_strdup_printf("backing off before round %u%s", round_num + 1, tail);
    g_autoptr(GDateTime) dt =
        g_date_time_new_from_unix_local(st->throttled_until_us / G_USEC_PER_SEC);
    g_autofree char *hhmm = dt ? g_date_time_format(dt, "%H:%M") : g_strdup("?");
    const char *c = st->throttle_classification ? st->throttle_classification : "";
    /* The operator's word for the common case; the bucket otherwise. */
    if (g_str_has_prefix(c, "rate_limit") || g_str_equal(c, "quota_exhausted"))
      return g_strdup_printf("waiting for rate limit until %s%s", hhmm, tail);
    return g_strdup_printf("backing off after %s until %s%s", c, hhmm, tail);
  }
  case ARD_RUN_WAITING_FOR_SECRET:
    return g_strdup_printf("round %u waits for a locked keyring (secret %s)%s", round_num + 1,
                           st->waiting_secret ? st->waiting_secret : "?", tail);
  case ARD_RUN_STOPPING:
    return g_strdup_printf("stopping%s", tail);
  case ARD_RUN_STOPPED:
    return g_strdup_printf("stopped%s%s%s", stop_reason ? ": " : "", stop_reason ? stop_reason : "",
                           tail);
  case ARD_RUN_STARTING:
  default:
    return g_strdup("starting");
  }
}

void
ard_notify_status(const ArdStatus *st)
{
  /* Cheap without a socket: sd_notify returns before formatting anything
   * is sent, but skip the formatting too. */
  if (!g_getenv("NOTIFY_SOCKET"))
    return;
  g_autofree char *line = ard_notify_format_status(st);
  (void)sd_notifyf(0, "STATUS=%s", line);
}
