/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ar-monitor-settings.h"
#include "ar-names.h"
#include "ar-util.h"
#include "ar-web-open.h"
#include "arm-http-conns.h"
#include "arm-monitor.h"
#include "arm-web-resources.h"
#include "arm-web.h"

/* The web page's server (libsoup-3.0 on the monitor's GMainContext, see
 * arm-glib-loop.c). Every request passes the early handler first: Host
 * must be one of the bound names (DNS rebinding), the per-user token must
 * match (query ?token= or Authorization: Bearer), a body is at most
 * ARM_WEB_MAX_BODY bytes, and a POST needs a matching Origin and the CSRF
 * token. Answers carry a strict Content-Security-Policy. Live updates are
 * Server-Sent Events: each message is a project's whole view (so a
 * reconnect needs no merge logic) or one event line; the last ARM_WEB_RING
 * messages are kept for Last-Event-ID, whose ids carry the monitor's
 * instance so a restarted monitor answers with a full snapshot. */

#define TOKEN_FILE  AR_WEB_TOKEN_FILE
#define URL_FILE    AR_WEB_URL_FILE
#define HEARTBEAT_S 20
#define CSP                                                                                        \
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "  \
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct {
  guint64 seq;
  GBytes *text; /* the whole SSE message, "id: ...\n...\n\n", shared by every stream */
} RingEntry;

typedef struct {
  ArmWeb *web;
  SoupServerMessage *msg;
  gint64 backlog; /* appended but not yet written */
} SseClient;

struct ArmWeb {
  ArmMonitor *mon;
  SoupServer *server;
  ArmWebModel *model;
  char *token;
  char *csrf;
  char *instance;
  char *url;
  GPtrArray *hosts; /* allowed Host header values */
  GQueue ring;      /* RingEntry* */
  guint64 seq;
  GList *clients; /* SseClient* */
  guint n_clients;
  GHashTable *last_sent; /* project -> (member -> its JSON last broadcast) */
  guint heartbeat;
  GList *calls;        /* BusCall* waiting for a daemon's answer */
  ArmHttpConns *conns; /* deadlines and the cap (arm-http-conns.c) */
};

/* ---- token ------------------------------------------------------------- */

char *
arm_web_runtime_dir(void)
{
  return ar_web_runtime_dir();
}

static char *
load_or_make_token(GError **error)
{
  g_autofree char *dir = arm_web_runtime_dir();
  if (g_mkdir_with_parents(dir, 0700) < 0)
    return ar_set_error_errno(error, errno, _("cannot create %s"), dir), NULL;
  /* The token's secrecy is the directory's: make sure it is ours alone. */
  if (g_chmod(dir, 0700) < 0)
    return ar_set_error_errno(error, errno, _("cannot restrict %s to its owner"), dir), NULL;
  g_autofree char *path = g_build_filename(dir, TOKEN_FILE, NULL);
  g_autofree char *text = NULL;
  if (g_file_get_contents(path, &text, NULL, NULL)) {
    g_strstrip(text);
    if (strlen(text) >= 32)
      return g_steal_pointer(&text);
  }
  /* 192 bits from /dev/urandom (g_random is not meant for secrets). */
  guint8 raw[24];
  g_autoptr(GFile) f = g_file_new_for_path("/dev/urandom");
  g_autoptr(GFileInputStream) in = g_file_read(f, NULL, error);
  gsize got = 0;
  if (!in || !g_input_stream_read_all(G_INPUT_STREAM(in), raw, sizeof raw, &got, NULL, error))
    return NULL;
  g_autoptr(GString) hex = g_string_new(NULL);
  for (guint i = 0; i < got; i++)
    g_string_append_printf(hex, "%02x", raw[i]);
  int fd = g_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, hex->str, hex->len) != (ssize_t)hex->len) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return ar_set_error_errno(error, e, _("cannot write %s"), path), NULL;
  }
  close(fd);
  return g_string_free(g_steal_pointer(&hex), FALSE);
}

static gboolean
secret_equal(const char *a, const char *b)
{
  if (!a || !b)
    return FALSE;
  gsize la = strlen(a), lb = strlen(b);
  guint8 diff = la != lb;
  for (gsize i = 0; i < la; i++)
    diff |= (guint8)(a[i] ^ b[i % MAX(lb, 1)]);
  return diff == 0;
}

/* ---- answers ------------------------------------------------------------- */

static void
set_common_headers(SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(h, "Content-Security-Policy", CSP);
  soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace(h, "Cache-Control", "no-store");
}

static void
answer(SoupServerMessage *msg, guint status, const char *type, const char *body)
{
  set_common_headers(msg);
  soup_server_message_set_status(msg, status, NULL);
  soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, body, strlen(body));
}

static void
answer_error(SoupServerMessage *msg, guint status, const char *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_str(b, "error", message);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *json = json_to_string(root, FALSE);
  answer(msg, status, "application/json", json);
}

/* ---- the early checks ---------------------------------------------------- */

static const char *
request_token(SoupServerMessage *msg, GHashTable *query)
{
  const char *t = query ? g_hash_table_lookup(query, "token") : NULL;
  if (t)
    return t;
  const char *auth =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Authorization");
  if (auth && g_str_has_prefix(auth, "Bearer "))
    return auth + 7;
  return NULL;
}

static void
early_handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
              gpointer user_data)
{
  ArmWeb *w = user_data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
  const char *host = soup_message_headers_get_one(h, "Host");
  gboolean host_ok = FALSE;
  for (guint i = 0; host && i < w->hosts->len; i++)
    host_ok |= g_ascii_strcasecmp(host, g_ptr_array_index(w->hosts, i)) == 0;
  if (!host_ok) {
    answer_error(msg, SOUP_STATUS_MISDIRECTED_REQUEST, _("unknown Host"));
    return;
  }
  if (!secret_equal(request_token(msg, query), w->token)) {
    answer_error(msg, SOUP_STATUS_UNAUTHORIZED,
                 _("a token is needed: open the URL that 'agent-runner monitor --http' prints"));
    return;
  }
  goffset len = soup_message_headers_get_content_length(h);
  if (len > ARM_WEB_MAX_BODY || soup_message_headers_get_encoding(h) == SOUP_ENCODING_CHUNKED) {
    answer_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, _("request body too large"));
    return;
  }
  if (g_str_equal(soup_server_message_get_method(msg), "POST")) {
    const char *origin = soup_message_headers_get_one(h, "Origin");
    g_autofree char *want = g_strdup_printf("http://%s", host);
    if (!origin || g_ascii_strcasecmp(origin, want) != 0) {
      answer_error(msg, SOUP_STATUS_FORBIDDEN, _("cross-origin request refused"));
      return;
    }
    if (!secret_equal(soup_message_headers_get_one(h, "X-CSRF-Token"), w->csrf)) {
      answer_error(msg, SOUP_STATUS_FORBIDDEN, _("missing or wrong CSRF token"));
      return;
    }
  } else if (!g_str_equal(soup_server_message_get_method(msg), "GET") &&
             !g_str_equal(soup_server_message_get_method(msg), "HEAD")) {
    answer_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, _("method not allowed"));
    return;
  }
}

/* ---- the page ------------------------------------------------------------ */

static GBytes *
resource(const char *name)
{
  g_autofree char *path = g_strdup_printf("/org/agentrunner/monitor/web/%s", name);
  return g_resources_lookup_data(path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
}

static char *
replace(const char *text, const char *what, const char *with)
{
  g_auto(GStrv) parts = g_strsplit(text, what, -1);
  return g_strjoinv(with, parts);
}

static void
serve_page(ArmWeb *w, SoupServerMessage *msg)
{
  g_autoptr(GBytes) tmpl = resource("index.html");
  g_autofree char *cards = arm_web_model_html(w->model, w->mon);
  g_autofree char *t0 = g_strndup(g_bytes_get_data(tmpl, NULL), g_bytes_get_size(tmpl));
  g_autofree char *t1 = replace(t0, "@TOKEN@", w->token); /* hex */
  g_autofree char *t2 = replace(t1, "@CSRF@", w->csrf);   /* hex */
  g_autofree char *t3 = replace(t2, "@BUS@", w->mon->opts.system ? _("system bus") : _("user bus"));
  g_autofree char *page = replace(t3, "@CARDS@", cards);
  answer(msg, SOUP_STATUS_OK, "text/html; charset=utf-8", page);
}

static void
serve_static(SoupServerMessage *msg, const char *name, const char *type)
{
  g_autoptr(GBytes) data = resource(name);
  set_common_headers(msg);
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, g_bytes_get_data(data, NULL),
                                   g_bytes_get_size(data));
}

static char *
all_projects_json(ArmWeb *w)
{
  g_autoptr(GPtrArray) list = arm_web_sorted_projects(w->mon);
  GString *s = g_string_new("[");
  for (guint i = 0; i < list->len; i++) {
    g_autofree char *one = arm_web_model_project_json(w->model, g_ptr_array_index(list, i));
    g_string_append_printf(s, "%s%s", i ? "," : "", one);
  }
  g_string_append_c(s, ']');
  return g_string_free(s, FALSE);
}

/* ---- SSE ----------------------------------------------------------------- */

static void
client_append_bytes(SseClient *c, GBytes *bytes)
{
  gsize len = g_bytes_get_size(bytes);
  /* One message's bytes are shared by every stream (a reference each, no
   * copy per page). */
  soup_message_body_append_bytes(soup_server_message_get_response_body(c->msg), bytes);
  c->backlog += len;
  soup_server_message_unpause(c->msg);
  /* A client that does not read: drop it rather than buffer for it. */
  if (c->backlog > ARM_WEB_MAX_BACKLOG) {
    GSocket *sock = soup_server_message_get_socket(c->msg);
    if (sock)
      g_socket_shutdown(sock, TRUE, TRUE, NULL);
  }
}

static void
client_append_static(SseClient *c, const char *text)
{
  g_autoptr(GBytes) bytes = g_bytes_new_static(text, strlen(text));
  client_append_bytes(c, bytes);
}

static GBytes *
sse_message(ArmWeb *w, guint64 seq, const char *event, const char *data)
{
  /* data is single-line JSON: JSON escapes newlines inside strings. */
  char *text = g_strdup_printf("id: %s-%" G_GUINT64_FORMAT "\nevent: %s\ndata: %s\n\n", w->instance,
                               seq, event, data);
  return g_bytes_new_take(text, strlen(text));
}

static void
ring_entry_free(RingEntry *e)
{
  g_bytes_unref(e->text);
  g_free(e);
}

static void
broadcast(ArmWeb *w, const char *event, const char *data)
{
  RingEntry *e = g_new0(RingEntry, 1);
  e->seq = ++w->seq;
  e->text = sse_message(w, e->seq, event, data);
  g_queue_push_tail(&w->ring, e);
  while (w->ring.length > ARM_WEB_RING)
    ring_entry_free(g_queue_pop_head(&w->ring));
  for (GList *l = w->clients; l; l = l->next)
    client_append_bytes(l->data, e->text);
  /* Out now, not after the bus messages queued behind this one. */
  if (w->clients)
    arm_glib_loop_yield();
}

static void
on_wrote_body_data(SoupServerMessage *msg, guint chunk_size, gpointer user_data)
{
  SseClient *c = user_data;
  c->backlog -= chunk_size;
}

static void
on_client_finished(SoupServerMessage *msg, gpointer user_data)
{
  SseClient *c = user_data;
  ArmWeb *w = c->web;
  w->clients = g_list_remove(w->clients, c);
  w->n_clients--;
  g_signal_handlers_disconnect_by_data(msg, c);
  g_object_unref(c->msg);
  g_free(c);
}

/* The whole state as one "snapshot" message (after a restart of the
 * monitor, or a Last-Event-ID older than the ring). */
static void
send_snapshot(ArmWeb *w, SseClient *c)
{
  g_autofree char *all = all_projects_json(w);
  g_autoptr(GBytes) text = sse_message(w, w->seq, "snapshot", all);
  client_append_bytes(c, text);
}

static void web_changed(gpointer data, ArmProject *p);

static void
serve_events(ArmWeb *w, SoupServerMessage *msg)
{
  if (w->n_clients >= ARM_WEB_MAX_CLIENTS) {
    answer_error(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, _("too many open pages"));
    return;
  }
  /* Patches are diffs against what was last broadcast: bring that up to
   * date first, so a snapshot and the patches after it agree. */
  g_autoptr(GPtrArray) list = arm_web_sorted_projects(w->mon);
  for (guint i = 0; i < list->len; i++)
    web_changed(w, g_ptr_array_index(list, i));
  SoupMessageHeaders *rh = soup_server_message_get_response_headers(msg);
  set_common_headers(msg);
  soup_message_headers_set_content_type(rh, "text/event-stream", NULL);
  soup_message_headers_set_encoding(rh, SOUP_ENCODING_CHUNKED);
  soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
  /* A stream lives for days: a chunk is dropped once written instead of
   * being kept in the body (libsoup's default accumulates them all). */
  soup_message_body_set_accumulate(soup_server_message_get_response_body(msg), FALSE);
  /* Small messages go out at once: with Nagle a message written while the
   * previous one waits for the browser's delayed ACK is held up to 40 ms. */
  GSocket *sock = soup_server_message_get_socket(msg);
  if (sock)
    g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  SseClient *c = g_new0(SseClient, 1);
  c->web = w;
  c->msg = g_object_ref(msg);
  w->clients = g_list_prepend(w->clients, c);
  w->n_clients++;
  g_signal_connect(msg, "wrote-body-data", G_CALLBACK(on_wrote_body_data), c);
  g_signal_connect(msg, "finished", G_CALLBACK(on_client_finished), c);
  client_append_static(c, "retry: 1000\n\n");

  const char *last =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Last-Event-ID");
  g_autofree char *prefix = g_strdup_printf("%s-", w->instance);
  RingEntry *oldest = g_queue_peek_head(&w->ring);
  if (last && g_str_has_prefix(last, prefix)) {
    guint64 seen = g_ascii_strtoull(last + strlen(prefix), NULL, 10);
    if (seen <= w->seq && (!oldest || seen + 1 >= oldest->seq)) {
      for (GList *l = w->ring.head; l; l = l->next) {
        RingEntry *e = l->data;
        if (e->seq > seen)
          client_append_bytes(c, e->text);
      }
      return;
    }
  }
  send_snapshot(w, c);
}

static gboolean
heartbeat(gpointer user_data)
{
  ArmWeb *w = user_data;
  for (GList *l = w->clients; l; l = l->next)
    client_append_static(l->data, ": ping\n\n");
  return G_SOURCE_CONTINUE;
}

static void
web_event(gpointer data, ArmProject *p, const char *kind, const char *json_line, JsonObject *o)
{
  ArmWeb *w = data;
  arm_web_model_event(w->model, p, kind, o);
  if (p->replaying)
    return;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_str(b, "project", p->name);
  ar_json_add_str(b, "kind", kind);
  ar_json_add_str(b, "ts", ar_json_str(o, "ts"));
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *json = json_to_string(root, FALSE);
  broadcast(w, "event", json);
}

/* What was last sent of one member: its JSON text and, for an array, the
 * text of each element (strings take a fraction of a JsonNode tree's
 * memory, and 100 projects keep one of these per member). */
typedef struct {
  char *text;
  GPtrArray *elements; /* char*, NULL: not an array */
} Sent;

static void
sent_free(Sent *s)
{
  g_free(s->text);
  if (s->elements)
    g_ptr_array_unref(s->elements);
  g_free(s);
}

static Sent *
sent_new(JsonNode *value, char *text)
{
  Sent *s = g_new0(Sent, 1);
  s->text = text;
  if (JSON_NODE_HOLDS_ARRAY(value)) {
    JsonArray *a = json_node_get_array(value);
    s->elements = g_ptr_array_new_full(json_array_get_length(a), g_free);
    for (guint i = 0; i < json_array_get_length(a); i++)
      g_ptr_array_add(s->elements, json_to_string(json_array_get_element(a, i), FALSE));
  }
  return s;
}

/* An array member that slid or grew (the strip of rounds, the hourly
 * chart): new = old[drop .. drop + same) + new[same ..], with the longest
 * kept run. FALSE when nothing of the old array can be kept. */
static gboolean
array_splice(const Sent *old, const Sent *now, guint *drop, guint *same)
{
  if (!old || !old->elements || !now->elements)
    return FALSE;
  guint lo = old->elements->len, ln = now->elements->len;
  *same = 0;
  for (guint d = 0; d < lo; d++) {
    guint s = 0;
    while (
        d + s < lo && s < ln &&
        g_str_equal(g_ptr_array_index(old->elements, d + s), g_ptr_array_index(now->elements, s)))
      s++;
    if (s > *same) {
      *same = s;
      *drop = d;
    }
  }
  return *same > 0;
}

/* A project's view changed: its first message is the whole view
 * ("project"); every later one ("patch") carries only the members that
 * differ from what was last sent, and a slid array as a splice (the strip
 * gains one round, the chart's last hour changes). The event list is left
 * out: the "event" messages carry each event already. So a round costs a
 * page a few hundred bytes, not several KiB per event: with 100 projects
 * at 10 rounds/s that is what each open page has to read and parse. */
static void
web_changed(gpointer data, ArmProject *p)
{
  ArmWeb *w = data;
  if (p->replaying)
    return;
  g_autoptr(JsonNode) node = arm_web_model_project_node(w->model, p);
  GHashTable *sent = g_hash_table_lookup(w->last_sent, p->name);
  gboolean first = sent == NULL;
  if (first) {
    sent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)sent_free);
    g_hash_table_insert(w->last_sent, g_strdup(p->name), sent);
  }
  g_autoptr(JsonBuilder) b = json_builder_new();
  g_autoptr(JsonBuilder) splice = json_builder_new();
  json_builder_begin_object(b);
  json_builder_begin_object(splice);
  ar_json_add_str(b, "name", p->name);
  guint changed = 0, spliced = 0;
  JsonObjectIter it;
  const char *member;
  JsonNode *value;
  json_object_iter_init(&it, json_node_get_object(node));
  while (json_object_iter_next(&it, &member, &value)) {
    if (g_str_equal(member, "name") || (g_str_equal(member, "events") && !first))
      continue;
    Sent *old = g_hash_table_lookup(sent, member);
    g_autofree char *text = json_to_string(value, FALSE);
    if (old && g_str_equal(old->text, text))
      continue;
    Sent *now = sent_new(value, g_steal_pointer(&text));
    guint drop = 0, same = 0;
    if (array_splice(old, now, &drop, &same)) {
      JsonArray *a = json_node_get_array(value);
      json_builder_set_member_name(splice, member);
      json_builder_begin_array(splice);
      json_builder_add_int_value(splice, drop);
      json_builder_add_int_value(splice, same);
      json_builder_begin_array(splice);
      for (guint i = same; i < json_array_get_length(a); i++)
        json_builder_add_value(splice, json_node_copy(json_array_get_element(a, i)));
      json_builder_end_array(splice);
      json_builder_end_array(splice);
      spliced++;
    } else {
      json_builder_set_member_name(b, member);
      json_builder_add_value(b, json_node_copy(value));
    }
    changed++;
    g_hash_table_replace(sent, g_strdup(member), now);
  }
  json_builder_end_object(splice);
  if (spliced) {
    json_builder_set_member_name(b, "splice");
    json_builder_add_value(b, json_builder_get_root(splice));
  }
  json_builder_end_object(b);
  if (!changed && !first)
    return;
  g_autoptr(JsonNode) patch = json_builder_get_root(b);
  g_autofree char *json = json_to_string(first ? node : patch, FALSE);
  broadcast(w, first ? "project" : "patch", json);
}

const ArmSink arm_web_sink = {
  .event = web_event,
  .changed = web_changed,
};

/* ---- actions and the transcript tail, through the bus ---------------------- */

typedef struct {
  ArmWeb *web;
  SoupServerMessage *msg;
  gboolean tail;
  gboolean gone;     /* the client went away before the daemon answered */
  gboolean answered; /* on_bus_reply ran */
} BusCall;

static void
on_call_client_gone(SoupServerMessage *msg, gpointer user_data)
{
  ((BusCall *)user_data)->gone = TRUE;
}

static int
on_bus_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
  BusCall *call = userdata;
  SoupServerMessage *msg = call->msg;
  call->answered = TRUE;
  if (call->gone)
    return 0;
  const sd_bus_error *e = sd_bus_message_get_error(m);
  if (e) {
    guint status = g_str_has_suffix(e->name, "AccessDenied") ||
                           g_str_has_suffix(e->name, "NotAuthorized") ||
                           g_str_equal(e->name, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED)
                       ? SOUP_STATUS_FORBIDDEN
                       : SOUP_STATUS_CONFLICT;
    answer_error(msg, status, e->message ? e->message : e->name);
  } else if (call->tail) {
    const char *json = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonNode *tail = NULL;
    if (sd_bus_message_read(m, "s", &json) >= 0 &&
        json_parser_load_from_data(parser, json, -1, NULL) &&
        JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
      /* The running round's transcript, redacted by the daemon. */
      JsonObject *doc = json_node_get_object(json_parser_get_root(parser));
      JsonNode *cur = json_object_get_member(doc, "current_round");
      if (cur && JSON_NODE_HOLDS_OBJECT(cur))
        tail = json_object_get_member(json_node_get_object(cur), "log_tail");
    }
    g_autofree char *out = tail ? json_to_string(tail, FALSE) : g_strdup("null");
    g_autofree char *body = g_strdup_printf("{\"log_tail\":%s}", out);
    answer(msg, SOUP_STATUS_OK, "application/json", body);
  } else {
    answer(msg, SOUP_STATUS_OK, "application/json", "{\"ok\":true}");
  }
  soup_server_message_unpause(msg);
  return 0;
}

/* The reply slot's end: after on_bus_reply, or without a reply when the
 * bus goes away first (a remote host's ssh connection torn down), which
 * must not leave the request hanging. */
static void
bus_call_destroy(void *userdata)
{
  BusCall *call = userdata;
  g_autoptr(SoupServerMessage) msg = call->msg;
  g_signal_handlers_disconnect_by_data(msg, call);
  if (call->web)
    call->web->calls = g_list_remove(call->web->calls, call);
  if (!call->answered && !call->gone) {
    answer_error(msg, SOUP_STATUS_BAD_GATEWAY,
                 _("the connection to the project's bus ended before it answered"));
    soup_server_message_unpause(msg);
  }
  g_free(call);
}

static ArmProject *
find_project(ArmWeb *w, const char *name)
{
  if (!name)
    return NULL;
  g_autofree char *bus_name = ar_bus_name_for_project(name);
  ArmProject *p = bus_name ? g_hash_table_lookup(w->mon->projects, bus_name) : NULL;
  if (p || !strchr(name, '/'))
    return p;
  /* A remote card is named HOST/PROJECT (its key is HOST/BUS_NAME). */
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init(&it, w->mon->projects);
  while (g_hash_table_iter_next(&it, NULL, &value)) {
    ArmProject *q = value;
    if (q->remote && g_str_equal(q->name, name))
      return q;
  }
  return NULL;
}

/* The bus to call the project on: its host's, over ssh, for a remote
 * card; NULL (answered 502) while that host is out of reach. */
static sd_bus *
project_bus(SoupServerMessage *msg, ArmProject *p)
{
  sd_bus *bus = arm_project_bus(p);
  if (!bus) {
    g_autofree char *what =
        g_strdup_printf(_("%s is out of reach (ssh); try again once it is back"), p->host);
    answer_error(msg, SOUP_STATUS_BAD_GATEWAY, what);
  }
  return bus;
}

static void
start_call(ArmWeb *w, SoupServerMessage *msg, sd_bus *bus, sd_bus_message *call, gboolean tail)
{
  BusCall *bc = g_new0(BusCall, 1);
  bc->web = w;
  bc->msg = g_object_ref(msg);
  bc->tail = tail;
  g_autoptr(sd_bus_slot) slot = NULL;
  int r = sd_bus_call_async(bus, &slot, call, on_bus_reply, bc, 0);
  if (r >= 0) {
    /* Owned by the bus from here; bus_call_destroy frees bc. */
    (void)sd_bus_slot_set_floating(slot, 1);
    (void)sd_bus_slot_set_destroy_callback(slot, bus_call_destroy);
    g_signal_connect(msg, "finished", G_CALLBACK(on_call_client_gone), bc);
    w->calls = g_list_prepend(w->calls, bc);
  }
  if (r < 0) {
    g_object_unref(bc->msg);
    g_free(bc);
    answer_error(msg, SOUP_STATUS_BAD_GATEWAY, g_strerror(-r));
    return;
  }
  soup_server_message_pause(msg);
}

static void
serve_tail(ArmWeb *w, SoupServerMessage *msg, GHashTable *query)
{
  ArmProject *p = find_project(w, query ? g_hash_table_lookup(query, "project") : NULL);
  if (!p || !p->owner) {
    answer_error(msg, SOUP_STATUS_NOT_FOUND, _("no such running project"));
    return;
  }
  sd_bus *bus = project_bus(msg, p);
  if (!bus)
    return;
  g_autoptr(sd_bus_message) call = NULL;
  int r =
      sd_bus_message_new_method_call(bus, &call, p->owner, AR_BUS_PATH, AR_BUS_INTERFACE, "Peek");
  if (r >= 0)
    r = sd_bus_message_append(call, "a{sv}", 1, "log_tail", "u", (guint32)100);
  if (r < 0) {
    answer_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, g_strerror(-r));
    return;
  }
  start_call(w, msg, bus, call, TRUE);
}

static void
serve_action(ArmWeb *w, SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body(msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten(body);
  g_autofree char *text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
  g_autoptr(GHashTable) form = soup_form_decode(text);
  const char *action = g_hash_table_lookup(form, "action");
  ArmProject *p = find_project(w, g_hash_table_lookup(form, "project"));
  if (!p || !action) {
    answer_error(msg, SOUP_STATUS_NOT_FOUND, _("no such project"));
    return;
  }
  sd_bus *bus = project_bus(msg, p);
  if (!bus)
    return;
  g_autoptr(sd_bus_message) call = NULL;
  int r;
  if (g_str_equal(action, "start")) {
    /* The well-known name: starting is what the operator asked for, so
     * D-Bus activation of an installed project is wanted here. */
    r = sd_bus_message_new_method_call(bus, &call, p->bus_name, AR_BUS_PATH, AR_BUS_INTERFACE,
                                       "Serve");
    if (r >= 0)
      r = sd_bus_message_append(call, "a{sv}", 0);
  } else if (g_str_equal(action, "stop") || g_str_equal(action, "stop-now") ||
             g_str_equal(action, "cancel")) {
    if (!p->owner) {
      answer_error(msg, SOUP_STATUS_CONFLICT, _("the project is not running"));
      return;
    }
    /* stop: after the current round (the client's default); stop-now:
     * the round ends too (agent-runner stop --now). */
    gboolean cancel = g_str_equal(action, "cancel");
    r = sd_bus_message_new_method_call(bus, &call, p->owner, AR_BUS_PATH, AR_BUS_INTERFACE,
                                       cancel ? "Cancel" : "Stop");
    if (r >= 0 && !cancel)
      r = sd_bus_message_append(call, "s", g_str_equal(action, "stop") ? "graceful" : "now");
  } else {
    answer_error(msg, SOUP_STATUS_BAD_REQUEST, _("unknown action"));
    return;
  }
  if (r < 0) {
    answer_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, g_strerror(-r));
    return;
  }
  start_call(w, msg, bus, call, FALSE);
}

/* ---- routing ------------------------------------------------------------- */

static void
handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer user_data)
{
  ArmWeb *w = user_data;
  gboolean post = g_str_equal(soup_server_message_get_method(msg), "POST");
  if (post && g_str_equal(path, "/api/action"))
    serve_action(w, msg);
  else if (post)
    answer_error(msg, SOUP_STATUS_NOT_FOUND, _("not found"));
  else if (g_str_equal(path, "/"))
    serve_page(w, msg);
  else if (g_str_equal(path, "/app.js"))
    serve_static(msg, "app.js", "text/javascript; charset=utf-8");
  else if (g_str_equal(path, "/style.css"))
    serve_static(msg, "style.css", "text/css; charset=utf-8");
  else if (g_str_equal(path, "/events"))
    serve_events(w, msg);
  else if (g_str_equal(path, "/api/state")) {
    g_autofree char *all = all_projects_json(w);
    answer(msg, SOUP_STATUS_OK, "application/json", all);
  } else if (g_str_equal(path, "/api/tail"))
    serve_tail(w, msg, query);
  else
    answer_error(msg, SOUP_STATUS_NOT_FOUND, _("not found"));
}

/* ---- setup --------------------------------------------------------------- */

static gboolean
parse_listen(const char *listen, char **addr, guint *port, GError **error)
{
  if (ar_monitor_listen_parse(listen ? listen : AR_MONITOR_DEFAULT_LISTEN, addr, port, error))
    return TRUE;
  g_prefix_error(error, "--listen: ");
  return FALSE;
}

static void
add_host(ArmWeb *w, const char *host, guint port)
{
  gboolean v6 = strchr(host, ':') != NULL;
  g_ptr_array_add(w->hosts, g_strdup_printf(v6 ? "[%s]:%u" : "%s:%u", host, port));
}

ArmWeb *
arm_web_new(ArmMonitor *mon, const char *listen, GError **error)
{
  g_autofree char *addr = NULL;
  guint port = 0;
  if (!parse_listen(listen, &addr, &port, error))
    return NULL;
  g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(addr); /* parse_listen checked it */
  g_autofree char *token = load_or_make_token(error);
  if (!token)
    return NULL;
  static gsize registered = 0;
  if (g_once_init_enter(&registered))
    g_once_init_leave(&registered, (arm_web_register_resource(), 1));
  ArmWeb *w = g_new0(ArmWeb, 1);
  w->mon = mon;
  w->token = g_steal_pointer(&token);
  w->csrf = g_compute_hmac_for_string(G_CHECKSUM_SHA256, (const guchar *)w->token, strlen(w->token),
                                      "csrf", -1);
  w->instance = g_strdup_printf("%08x%08x", g_random_int(), g_random_int());
  w->model = arm_web_model_new();
  w->hosts = g_ptr_array_new_with_free_func(g_free);
  w->last_sent =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
  g_queue_init(&w->ring);
  w->server = soup_server_new("server-header", NULL, NULL);
  soup_server_add_early_handler(w->server, NULL, early_handler, w, NULL);
  soup_server_add_handler(w->server, NULL, handler, w, NULL);
  w->conns = arm_http_conns_new(w->server, mon->opts.http_bounds, error);
  if (!w->conns) {
    arm_web_free(w);
    return NULL;
  }
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(ia, (guint16)port);
  if (!soup_server_listen(w->server, sa, 0, error)) {
    g_prefix_error(error, _("cannot listen on %s:%u: "), addr, port);
    arm_web_free(w);
    return NULL;
  }
  GSList *uris = soup_server_get_uris(w->server);
  guint bound = uris ? (guint)g_uri_get_port(uris->data) : port;
  g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
  add_host(w, addr, bound);
  gboolean loopback = g_inet_address_get_is_loopback(ia);
  if (loopback) {
    add_host(w, "localhost", bound);
    add_host(w, "127.0.0.1", bound);
  } else {
    add_host(w, g_get_host_name(), bound);
    g_printerr(_("agent-runner-monitor: WARNING: the web page listens on %s:%u, reachable from "
                 "other machines; every request still needs the token, but the traffic is not "
                 "encrypted\n"),
               addr, bound);
  }
  const char *shown = loopback || g_inet_address_get_is_any(ia) ? "127.0.0.1" : addr;
  gboolean v6 = strchr(shown, ':') != NULL;
  w->url = g_strdup_printf(v6 ? "http://[%s]:%u/?token=%s" : "http://%s:%u/?token=%s", shown, bound,
                           w->token);
  if (g_inet_address_get_is_any(ia))
    add_host(w, "127.0.0.1", bound);
  g_autofree char *dir = arm_web_runtime_dir();
  g_autofree char *url_path = g_build_filename(dir, URL_FILE, NULL);
  g_autofree char *url_line = g_strdup_printf("%s\n", w->url);
  if (!g_file_set_contents_full(url_path, url_line, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL))
    g_message(_("cannot write %s"), url_path);
  if (mon->opts.output != ARM_OUT_NONE)
    g_printerr(_("agent-runner-monitor: web page: %s\n"), w->url);
  g_autoptr(GError) open_error = NULL;
  if (mon->opts.open && !ar_web_open(dir, w->url, FALSE, &open_error))
    g_printerr("agent-runner-monitor: %s\n", open_error->message);
  w->heartbeat = g_timeout_add_seconds(HEARTBEAT_S, heartbeat, w);
  return w;
}

static gboolean
set_flag(gpointer user_data)
{
  *(gboolean *)user_data = TRUE;
  return G_SOURCE_REMOVE;
}

void
arm_web_free(ArmWeb *w)
{
  if (!w)
    return;
  g_clear_handle_id(&w->heartbeat, g_source_remove);
  /* The page goes first: a bus that ends later finds nobody to answer. */
  for (GList *l = w->calls; l; l = l->next) {
    ((BusCall *)l->data)->gone = TRUE;
    ((BusCall *)l->data)->web = NULL;
  }
  g_clear_pointer(&w->calls, g_list_free);
  /* End every stream with its last chunk, so a page sees a clean end and
   * reconnects (EventSource retry) instead of reporting a broken
   * response; half a second at most. */
  for (GList *l = w->clients; l; l = l->next) {
    SseClient *c = l->data;
    soup_message_body_complete(soup_server_message_get_response_body(c->msg));
    soup_server_message_unpause(c->msg);
  }
  gboolean expired = FALSE;
  guint timer = w->clients ? g_timeout_add(500, set_flag, &expired) : 0;
  while (w->clients && !expired)
    g_main_context_iteration(NULL, TRUE);
  if (timer && !expired)
    g_source_remove(timer);
  if (w->server)
    soup_server_disconnect(w->server);
  while (w->clients)
    on_client_finished(((SseClient *)w->clients->data)->msg, w->clients->data);
  g_clear_pointer(&w->conns, arm_http_conns_free);
  g_clear_object(&w->server);
  g_queue_clear_full(&w->ring, (GDestroyNotify)ring_entry_free);
  g_hash_table_unref(w->last_sent);
  g_ptr_array_unref(w->hosts);
  arm_web_model_free(w->model);
  g_free(w->token);
  g_free(w->csrf);
  g_free(w->instance);
  g_free(w->url);
  g_free(w);
}
