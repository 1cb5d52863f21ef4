/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "arm-http-conns.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ar-util.h"

/* libsoup 3.2 has no idle timeout on the server side: a client that
 * connects and never sends a whole request, or a keep-alive connection
 * left open, holds a descriptor for ever, and enough of them would end
 * the page for everybody. This file gives every connection a deadline
 * while it makes no progress and caps how many there are.
 *
 * Why not an accept loop of our own handing streams to
 * soup_server_accept_iostream(): in libsoup 3.2 such a server has no
 * listener, and it then closes every connection after one answer (no
 * keep-alive), and soup_server_message_get_socket() is NULL for those
 * connections (no TCP_NODELAY on event streams, no dropping of a client
 * that stops reading). SoupServer's own listener tells us everything we
 * need through its signals instead:
 *
 *   request-started   a new connection (its first, still blank message is
 *                     started when it is accepted), or the first byte of
 *                     the next request on a keep-alive connection
 *   request-read      the whole request is in: the handlers run
 *   request-finished  the answer was written; the connection is idle
 *   request-aborted   likewise, after an I/O error
 *   disconnected      (on the message) the connection is gone
 *
 * Phases and their deadlines (from the moment the phase began):
 *
 *   HEADERS   FIRST     from connect or a request's first byte to its header
 *   BUSY      RESPONSE  from the request read to the answer written
 *   IDLE      IDLE      a keep-alive connection with no request
 *   LONG      none      an event stream: a request in flight by design
 *   CLOSING   none      shut down by us, waiting for libsoup to let go
 *
 * An event stream is recognised when its BUSY deadline comes (its answer
 * is text/event-stream) and is never closed here.
 *
 * One GSource for all deadlines: each phase's bound is fixed, so each
 * phase's connections are in deadline order in a queue of their own, and
 * the next deadline is the earliest of three queue heads. The source's
 * ready time is that deadline, or -1 when no connection has one: an idle
 * monitor never wakes for this. Its priority is the default one, below
 * the bus (arm-glib-loop.c), so closing connections never delays an
 * alert.
 *
 * Closing is shutdown(2) on the socket: libsoup sees the end on its next
 * read or write and drops the connection as for a client that left. The
 * cap works the same way: a connection past ARM_HTTP_MAX_CONNS is shut
 * down as soon as it is accepted. */

typedef enum {
  PHASE_HEADERS,
  PHASE_BUSY,
  PHASE_IDLE,
  PHASE_LONG,
  PHASE_CLOSING,
  PHASE_NEW, /* tracked, no phase yet */
} Phase;

#define N_TIMED 3 /* HEADERS, BUSY, IDLE have a deadline (and a queue) */

typedef struct {
  ArmHttpConns *owner;
  GSocket *sock;          /* the key; a reference */
  SoupServerMessage *msg; /* the newest message on it; a reference */
  Phase phase;
  gint64 deadline; /* monotonic µs, while in a timed phase */
  GList link;      /* in queues[phase] while in a timed phase */
} Conn;

struct ArmHttpConns {
  SoupServer *server;
  GHashTable *conns; /* GSocket* -> Conn* (owned) */
  GQueue queues[N_TIMED];
  gint64 bound_us[N_TIMED];
  GSource *timer;
};

typedef struct {
  GSource base;
  ArmHttpConns *owner;
} DeadlineSource;

/* ---- bounds -------------------------------------------------------------- */

static gboolean
parse_bounds(const char *text, gint64 bound_us[N_TIMED], GError **error)
{
  /* Order on the command line: FIRST,IDLE,RESPONSE (the phases' order
   * differs). */
  static const Phase order[N_TIMED] = { PHASE_HEADERS, PHASE_IDLE, PHASE_BUSY };
  static const double defaults[N_TIMED] = { ARM_HTTP_FIRST_S, ARM_HTTP_IDLE_S,
                                            ARM_HTTP_RESPONSE_S };
  g_auto(GStrv) parts = text ? g_strsplit(text, ",", -1) : NULL;
  if (parts && g_strv_length(parts) != N_TIMED) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("--http-bounds: \"%s\" is not FIRST,IDLE,RESPONSE (three numbers of seconds)"),
                text);
    return FALSE;
  }
  for (guint i = 0; i < N_TIMED; i++) {
    double s = defaults[i];
    if (parts) {
      char *end = NULL;
      s = g_ascii_strtod(g_strstrip(parts[i]), &end);
      if (!end || *end || end == parts[i] || !(s > 0 && s <= 86400)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    _("--http-bounds: \"%s\" is not a number of seconds between 0 and 86400"),
                    parts[i]);
        return FALSE;
      }
    }
    bound_us[order[i]] = (gint64)(s * G_USEC_PER_SEC);
  }
  return TRUE;
}

/* ---- deadlines ----------------------------------------------------------- */

static void
rearm(ArmHttpConns *c)
{
  gint64 next = -1;
  for (guint q = 0; q < N_TIMED; q++) {
    Conn *head = g_queue_peek_head(&c->queues[q]);
    if (head && (next < 0 || head->deadline < next))
      next = head->deadline;
  }
  g_source_set_ready_time(c->timer, next);
}

static void
leave_phase(Conn *k)
{
  if (k->phase < N_TIMED)
    g_queue_unlink(&k->owner->queues[k->phase], &k->link);
}

static void
enter_phase(Conn *k, Phase phase)
{
  leave_phase(k);
  k->phase = phase;
  if (phase < N_TIMED) {
    k->deadline = g_get_monotonic_time() + k->owner->bound_us[phase];
    g_queue_push_tail_link(&k->owner->queues[phase], &k->link);
  }
  rearm(k->owner);
}

static void
shut(GSocket *sock)
{
  /* Both ways: a blocked read ends at once, and so does a blocked write
   * (EPIPE; GSocket sends with MSG_NOSIGNAL). */
  g_autoptr(GError) error = NULL;
  if (!g_socket_shutdown(sock, TRUE, TRUE, &error))
    g_debug("web: shutdown: %s", error->message);
}

static gboolean
is_event_stream(SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  const char *type = h ? soup_message_headers_get_content_type(h, NULL) : NULL;
  return type && g_ascii_strcasecmp(type, "text/event-stream") == 0;
}

static gboolean
on_deadline(GSource *source, GSourceFunc callback, gpointer user_data)
{
  ArmHttpConns *c = ((DeadlineSource *)source)->owner;
  gint64 now = g_get_monotonic_time();
  for (guint q = 0; q < N_TIMED; q++) {
    Conn *k;
    while ((k = g_queue_peek_head(&c->queues[q])) && k->deadline <= now) {
      if (k->phase == PHASE_BUSY && is_event_stream(k->msg)) {
        enter_phase(k, PHASE_LONG);
        continue;
      }
      enter_phase(k, PHASE_CLOSING);
      shut(k->sock);
    }
  }
  rearm(c);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs deadline_funcs = {
  .dispatch = on_deadline,
};

/* ---- connections --------------------------------------------------------- */

static void on_disconnected(SoupServerMessage *msg, gpointer user_data);

static void
conn_free(Conn *k)
{
  leave_phase(k);
  g_signal_handlers_disconnect_by_data(k->msg, k);
  g_object_unref(k->msg);
  g_object_unref(k->sock);
  g_free(k);
}

/* Follow the newest message of the connection: the one libsoup tells
 * about the connection's end (an older one may be gone by then). */
static void
conn_follow(Conn *k, SoupServerMessage *msg)
{
  if (k->msg == msg)
    return;
  if (k->msg) {
    g_signal_handlers_disconnect_by_data(k->msg, k);
    g_object_unref(k->msg);
  }
  k->msg = g_object_ref(msg);
  g_signal_connect(msg, "disconnected", G_CALLBACK(on_disconnected), k);
}

static void
on_disconnected(SoupServerMessage *msg, gpointer user_data)
{
  Conn *k = user_data;
  ArmHttpConns *c = k->owner;
  /* Removing k drops its reference on msg, which may be the last one
   * (an idle keep-alive connection's answered message): keep msg alive
   * until its signal is over. */
  g_autoptr(SoupServerMessage) hold = g_object_ref(msg);
  g_hash_table_remove(c->conns, k->sock);
  rearm(c);
}

static Conn *
lookup(ArmHttpConns *c, SoupServerMessage *msg)
{
  GSocket *sock = soup_server_message_get_socket(msg);
  return sock ? g_hash_table_lookup(c->conns, sock) : NULL;
}

static void
on_request_started(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  ArmHttpConns *c = user_data;
  GSocket *sock = soup_server_message_get_socket(msg);
  if (!sock)
    return;
  Conn *k = g_hash_table_lookup(c->conns, sock);
  if (!k) {
    if (g_hash_table_size(c->conns) >= ARM_HTTP_MAX_CONNS) {
      /* Not tracked: it ends at libsoup's first read. */
      shut(sock);
      return;
    }
    k = g_new0(Conn, 1);
    k->owner = c;
    k->sock = g_object_ref(sock);
    k->link.data = k;
    k->phase = PHASE_NEW;
    g_hash_table_insert(c->conns, sock, k);
  }
  conn_follow(k, msg);
  if (k->phase != PHASE_CLOSING)
    enter_phase(k, PHASE_HEADERS);
}

static void
on_request_read(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  Conn *k = lookup(user_data, msg);
  if (k && k->phase != PHASE_CLOSING)
    enter_phase(k, PHASE_BUSY);
}

static void
on_request_done(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  /* A connection that is not kept alive gets "disconnected" right after,
   * which drops it; a kept one waits for its next request. */
  Conn *k = lookup(user_data, msg);
  if (k && k->phase != PHASE_CLOSING)
    enter_phase(k, PHASE_IDLE);
}

/* ---- setup --------------------------------------------------------------- */

ArmHttpConns *
arm_http_conns_new(SoupServer *server, const char *bounds, GError **error)
{
  gint64 bound_us[N_TIMED];
  if (!parse_bounds(bounds, bound_us, error))
    return NULL;
  ArmHttpConns *c = g_new0(ArmHttpConns, 1);
  c->server = g_object_ref(server);
  memcpy(c->bound_us, bound_us, sizeof bound_us);
  for (guint q = 0; q < N_TIMED; q++)
    g_queue_init(&c->queues[q]);
  c->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)conn_free);
  c->timer = g_source_new(&deadline_funcs, sizeof(DeadlineSource));
  ((DeadlineSource *)c->timer)->owner = c;
  g_source_set_name(c->timer, "web connection deadlines");
  g_source_set_ready_time(c->timer, -1);
  g_source_attach(c->timer, NULL);
  g_signal_connect(server, "request-started", G_CALLBACK(on_request_started), c);
  g_signal_connect(server, "request-read", G_CALLBACK(on_request_read), c);
  g_signal_connect(server, "request-finished", G_CALLBACK(on_request_done), c);
  g_signal_connect(server, "request-aborted", G_CALLBACK(on_request_done), c);
  return c;
}

void
arm_http_conns_free(ArmHttpConns *c)
{
  if (!c)
    return;
  g_signal_handlers_disconnect_by_data(c->server, c);
  g_hash_table_unref(c->conns);
  g_source_destroy(c->timer);
  g_source_unref(c->timer);
  g_object_unref(c->server);
  g_free(c);
}
