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
 * keeps sd_event_loop(); the bus code is the same either way.
 *
 * The bus has the higher priority, so a page's bytes written in answer to
 * a bus signal would wait until every other queued bus message was
 * handled: libsoup writes from an idle source of default priority. At a
 * round's end the daemon sends several signals at once, and the page saw
 * the round that much later (10-20 ms at p99 on a loaded machine).
 * arm_glib_loop_yield() lets the default sources run before the next bus
 * message for two turns of the loop: libsoup writes in two steps (an idle
 * source unpauses the message, then the message's own source, ready from
 * then on, writes). The bus still goes first in the long run, and an alert
 * waits at most for two steps of each web source. */

typedef struct {
  GSource source;
  sd_event *event;
  GMainLoop *loop;
  GPollFD poll;      /* sd-event's epoll fd */
  guint yield;       /* turns still to skip */
  gboolean yielding; /* this turn is skipped (sd_event_prepare not called) */
} SdEventSource;

/* The running loop's source (one per process), for arm_glib_loop_yield(). */
static SdEventSource *running;

void
arm_glib_loop_yield(void)
{
  if (running)
    running->yield = 2;
}

static gboolean
sd_prepare(GSource *s, gint *timeout)
{
  SdEventSource *src = (SdEventSource *)s;
  src->yielding = src->yield > 0;
  if (src->yielding)
    src->yield--;
  /* GLib counts a source whose fd polled ready as ready whatever check()
   * says, and a higher priority source ready keeps the others waiting: the
   * fd is left out of the skipped turn's poll (no events asked, none
   * reported). Changing the GPollFD in place, unlike
   * g_source_modify_unix_fd(), does not make GLib throw the turn away. */
  src->poll.events = src->yielding ? 0 : G_IO_IN;
  src->poll.revents = 0;
  if (src->yielding) {
    /* sd-event's state stays INITIAL; the next turn prepares it. */
    *timeout = 0;
    return FALSE;
  }
  *timeout = -1;
  return sd_event_prepare(src->event) > 0;
}

static gboolean
sd_check(GSource *s)
{
  SdEventSource *src = (SdEventSource *)s;
  if (src->yielding)
    return FALSE;
  return sd_event_wait(src->event, 0) > 0;
}

static gboolean
sd_dispatch(GSource *s, GSourceFunc callback, gpointer user_data)
{
  SdEventSource *src = (SdEventSource *)s;
  /* Only what sd_event_prepare() or sd_event_wait() found pending:
   * anything else would make sd_event_dispatch() fail (-EBUSY). */
  if (sd_event_get_state(src->event) != SD_EVENT_PENDING)
    return G_SOURCE_CONTINUE;
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
  src->poll.fd = sd_event_get_fd(event);
  src->poll.events = G_IO_IN;
  g_source_add_poll(&src->source, &src->poll);
  /* The bus and the alerts before any web request. */
  g_source_set_priority(&src->source, G_PRIORITY_HIGH);
  g_source_attach(&src->source, NULL);
  running = src;
  g_main_loop_run(loop);
  running = NULL;
  g_source_destroy(&src->source);
  g_source_unref(&src->source);
  int code = 0;
  if (sd_event_get_exit_code(event, &code) < 0)
    return 0;
  return code;
}
