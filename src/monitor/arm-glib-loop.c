/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arm-web.h"

/* The monitor is an sd-event program (sd-bus attached to it, timers,
 * signals); libsoup needs a GMainContext. One loop must drive both, or the
 * page could delay an alert (or the reverse). sd-event exposes its whole
 * state as one epoll fd, so the GMainContext hosts it as one GSource:
 *
 *   prepare  sd_event_prepare(): > 0 when something is already pending
 *            (a deferred source, an exit request); timeout -1 because
 *            sd-event's timers are timerfds inside that epoll fd
 *   check    sd_event_wait(0): the fd was readable, collect what is ready
 *   dispatch sd_event_dispatch(): run one sd-event source
 *
 * After sd_event_exit() the dispatch runs the exit sources and the state
 * becomes FINISHED, which ends the GMainLoop. Without --http the monitor
 * keeps sd_event_loop(); the bus code is the same either way. */

typedef struct {
  GSource source;
  sd_event *event;
  GMainLoop *loop;
  gpointer fd_tag;
} SdEventSource;

static gboolean
sd_prepare(GSource *s, gint *timeout)
{
  SdEventSource *src = (SdEventSource *)s;
  *timeout = -1;
  return sd_event_prepare(src->event) > 0;
}

static gboolean
sd_check(GSource *s)
{
  SdEventSource *src = (SdEventSource *)s;
  return sd_event_wait(src->event, 0) > 0;
}

static gboolean
sd_dispatch(GSource *s, GSourceFunc callback, gpointer user_data)
{
  SdEventSource *src = (SdEventSource *)s;
  int r = sd_event_dispatch(src->event);
  if (r < 0 || sd_event_get_state(src->event) == SD_EVENT_FINISHED) {
    g_main_loop_quit(src->loop);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs sd_funcs = {
  .prepare = sd_prepare,
  .check = sd_check,
  .dispatch = sd_dispatch,
};

int
arm_glib_loop_run(sd_event *event)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
  SdEventSource *src = (SdEventSource *)g_source_new(&sd_funcs, sizeof(SdEventSource));
  src->event = event;
  src->loop = loop;
  src->fd_tag = g_source_add_unix_fd(&src->source, sd_event_get_fd(event), G_IO_IN);
  /* The bus and the alerts before any web request. */
  g_source_set_priority(&src->source, G_PRIORITY_HIGH);
  g_source_attach(&src->source, NULL);
  g_main_loop_run(loop);
  g_source_destroy(&src->source);
  g_source_unref(&src->source);
  int code = 0;
  if (sd_event_get_exit_code(event, &code) < 0)
    return 0;
  return code;
}
