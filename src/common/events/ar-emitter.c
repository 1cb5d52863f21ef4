/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-events.h"
#include "ar-json.h"
#include "ar-redact.h"
#include "ar-util.h"

/* The emitter's own file would be a useless CODE_FILE for every event. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>

typedef struct {
  ArEventSinkFunc func;
  gpointer user_data;
} Sink;

struct _ArEmitter {
  gatomicrefcount ref_count;
  char *log_dir;
  char *project;
  guint round_num;
  char *phase;
  gboolean journal;
  ArClockFunc now_us;
  GArray *sinks; /* Sink */

  /* The events file stays open between events; reopened when the UTC month
   * changes or when the file was moved or deleted under us. */
  int fd;
  char *path;
  gboolean failing; /* log file-sink failures once per streak */
};

/* ---- payload preparation -------------------------------------------------- */

/* A deep copy in which every string is valid UTF-8 and free of registered
 * secrets: those must not reach any sink, nested or not. */
static JsonNode *
scrub_node(JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT(node)) {
    JsonObject *copy = json_object_new();
    JsonObjectIter iter;
    const char *name;
    JsonNode *member;
    json_object_iter_init_ordered(&iter, json_node_get_object(node));
    while (json_object_iter_next_ordered(&iter, &name, &member))
      json_object_set_member(copy, name, scrub_node(member));
    return json_node_init_object(json_node_alloc(), copy);
  }
  if (JSON_NODE_HOLDS_ARRAY(node)) {
    JsonArray *src = json_node_get_array(node);
    JsonArray *copy = json_array_sized_new(json_array_get_length(src));
    for (guint i = 0; i < json_array_get_length(src); i++)
      json_array_add_element(copy, scrub_node(json_array_get_element(src, i)));
    return json_node_init_array(json_node_alloc(), copy);
  }
  if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
    g_autofree char *clean = ar_redact_known_secrets(json_node_get_string(node));
    return json_node_init_string(json_node_alloc(), clean);
  }
  return json_node_copy(node);
}

static gboolean
is_value_of(JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == type;
}

static gboolean
array_all(JsonNode *node, gboolean (*check)(JsonNode *))
{
  if (!JSON_NODE_HOLDS_ARRAY(node))
    return FALSE;
  JsonArray *a = json_node_get_array(node);
  for (guint i = 0; i < json_array_get_length(a); i++)
    if (!check(json_array_get_element(a, i)))
      return FALSE;
  return TRUE;
}

static gboolean
check_int(JsonNode *n)
{
  return is_value_of(n, G_TYPE_INT64);
}

static gboolean
check_number(JsonNode *n)
{
  return is_value_of(n, G_TYPE_INT64) || is_value_of(n, G_TYPE_DOUBLE);
}

static gboolean
check_bool(JsonNode *n)
{
  return is_value_of(n, G_TYPE_BOOLEAN);
}

static gboolean
check_string(JsonNode *n)
{
  return is_value_of(n, G_TYPE_STRING);
}

static gboolean
check_object(JsonNode *n)
{
  return JSON_NODE_HOLDS_OBJECT(n);
}

static gboolean
check_string_list(JsonNode *n)
{
  return array_all(n, check_string);
}

static gboolean
check_object_list(JsonNode *n)
{
  return array_all(n, check_object);
}

static gboolean (*const type_checks[])(JsonNode *) = {
  [AR_FIELD_INT] = check_int,
  [AR_FIELD_NUMBER] = check_number,
  [AR_FIELD_BOOL] = check_bool,
  [AR_FIELD_STRING] = check_string,
  [AR_FIELD_STRING_LIST] = check_string_list,
  [AR_FIELD_OBJECT_LIST] = check_object_list,
  [AR_FIELD_OBJECT] = check_object,
};

/* Field checks help callers during development; release builds built with
 * NDEBUG skip them. */
#ifdef NDEBUG
#define FIELD_CHECKS FALSE
#else
#define FIELD_CHECKS TRUE
#endif

static void
check_field(const ArEventKind *kind, const ArEventField *field, const char *name, JsonNode *node)
{
  if (field == NULL && g_str_equal(kind->origin, AR_EVENT_ORIGIN_HOOK))
    return; /* a hook's own kind: its payload is free */
  if (field == NULL) {
    g_warning("event %s: unknown field \"%s\" (not in the event table)", kind->name, name);
    return;
  }
  if (JSON_NODE_HOLDS_NULL(node) && (field->flags & AR_FIELD_NULLABLE))
    return;
  if (!type_checks[field->type](node))
    g_warning("event %s: field \"%s\" must be %s%s", kind->name, name,
              ar_event_field_type_name(field->type),
              (field->flags & AR_FIELD_NULLABLE) ? " or null" : "");
}

static void
add_member(JsonObject *out, const ArEventKind *kind, const ArEventField *field, const char *name,
           JsonNode *node)
{
  if (FIELD_CHECKS)
    check_field(kind, field, name, node);
  if (!check_string(node)) {
    json_object_set_member(out, name, scrub_node(node));
    return;
  }
  /* Redact before cutting: a cut could leave half a token no pattern
   * recognises. */
  const char *text = json_node_get_string(node);
  g_autofree char *clean =
      ar_event_field_is_free_text(name) || g_str_equal(kind->origin, AR_EVENT_ORIGIN_HOOK)
          ? ar_redact(text)
          : ar_redact_known_secrets(text);
  if (field != NULL && field->max_chars > 0) {
    char *cut = ar_redact_truncate(clean, field->max_chars);
    g_free(clean);
    clean = cut;
  }
  json_object_set_string_member(out, name, clean);
}

/* The payload as every sink sees it: table fields in table order, then
 * fields the table does not know, in the caller's order. */
static JsonObject *
prepare_payload(const ArEventKind *kind, JsonObject *in)
{
  JsonObject *out = json_object_new();
  for (const ArEventField *f = kind->fields; f->name != NULL; f++) {
    if (in != NULL && json_object_has_member(in, f->name)) {
      add_member(out, kind, f, f->name, json_object_get_member(in, f->name));
      continue;
    }
    if (FIELD_CHECKS && !(f->flags & AR_FIELD_OPTIONAL))
      g_warning("event %s: required field \"%s\" missing", kind->name, f->name);
  }
  if (in == NULL)
    return out;
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  json_object_iter_init_ordered(&iter, in);
  while (json_object_iter_next_ordered(&iter, &name, &member))
    if (ar_event_kind_field(kind, name) == NULL)
      add_member(out, kind, NULL, name, member);
  return out;
}

/* ---- file sink ------------------------------------------------------------- */

static void
close_file(ArEmitter *self)
{
  if (self->fd >= 0)
    close(self->fd);
  self->fd = -1;
  g_clear_pointer(&self->path, g_free);
}

/* TRUE when fd is still the file at path (not deleted, moved or replaced,
 * e.g. by an operator compressing old months by hand). */
static gboolean
fd_is_path(int fd, const char *path)
{
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* A writer killed in the middle of a write() can leave a line without its
 * "\n"; appending to it would glue our first line onto the fragment, and
 * lose both. But while another writer's long line is being copied in, the
 * file size can already show part of it: the check must not run during
 * someone else's write. Our writers hold a non-blocking flock around each
 * write (never blocking: a stopped process must not stall the supervisor),
 * and the check runs only under it; in the rare case that a writer could
 * not get the lock and writes meanwhile, the cost is one empty line, which
 * every reader skips. */
static void
terminate_fragment(int fd)
{
  struct stat st;
  char last;
  if (fstat(fd, &st) == 0 && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 &&
      last != '\n')
    (void)!write(fd, "\n", 1);
}

/* One write() per line: with O_APPEND the kernel places each line whole
 * at the end, even with several writers. Only a full disk (or a file size
 * limit) gives a short write, and a torn fragment ({"ts": "2026-12-02T)
 * would break every jq over the whole file forever: the file goes back to
 * the length it had, and the caller reports the lost line. before is that
 * length, or -1 when unknown (another writer held the lock: cutting could
 * hit its line, so the fragment stays and the next open ends it). */
static gboolean
write_line(int fd, const char *line, gsize len, off_t before)
{
  gsize done = 0;
  while (done < len) {
    ssize_t n = write(fd, line + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int errsv = errno;
      struct stat st;
      if (done > 0 && before >= 0 && fstat(fd, &st) == 0 && st.st_size == before + (off_t)done)
        (void)!ftruncate(fd, before);
      errno = errsv;
      return FALSE;
    }
    done += n;
  }
  return TRUE;
}

static gboolean
file_sink_write(ArEmitter *self, gint64 now_us, const char *line, gsize len, GError **error)
{
  g_autofree char *path = ar_events_file_path(self->log_dir, now_us);
  gboolean opened = FALSE;
  if (self->fd < 0 || g_strcmp0(path, self->path) != 0 || !fd_is_path(self->fd, path)) {
    close_file(self);
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
      return ar_set_error_errno(error, errno, _("Cannot open the events file %s"), path);
    self->fd = fd;
    self->path = g_steal_pointer(&path);
    opened = TRUE;
  }
  gboolean locked = flock(self->fd, LOCK_EX | LOCK_NB) == 0;
  if (opened && locked)
    terminate_fragment(self->fd);
  /* Under the lock no other writer of ours appends: the length before the
   * write is exact. */
  struct stat st;
  off_t before = locked && fstat(self->fd, &st) == 0 ? st.st_size : -1;
  gboolean ok = write_line(self->fd, line, len, before);
  int errsv = errno;
  if (locked)
    flock(self->fd, LOCK_UN);
  if (!ok)
    return ar_set_error_errno(error, errsv,
                              _("Cannot write to the events file %s (the event was not recorded "
                                "there; the file is left as it was)"),
                              self->path);
  return TRUE;
}

/* ---- journal sink ----------------------------------------------------------- */

/* Journal field names allow A-Z, 0-9 and "_" only. */
static char *
journal_field_name(const char *name)
{
  g_autofree char *upper = g_ascii_strup(name, -1);
  g_strcanon(upper, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", '_');
  return g_strconcat("AGENT_RUNNER_", upper, NULL);
}

/* Fields the emitter sets itself; a payload field of the same name (phase)
 * feeds them instead of doubling them. */
/* round_num feeds AGENT_RUNNER_ROUND: one round field to match on, not
 * both AGENT_RUNNER_ROUND and AGENT_RUNNER_ROUND_NUM. */
static const char *const journal_reserved[] = {
  "AGENT_RUNNER_EVENT",
  "AGENT_RUNNER_PROJECT",
  "AGENT_RUNNER_ROUND",
  "AGENT_RUNNER_ROUND_NUM",
  "AGENT_RUNNER_PHASE",
  "AGENT_RUNNER_PAYLOAD",
  NULL,
};

static void
journal_sink(ArEmitter *self, const ArEventKind *kind, JsonObject *payload)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *message = ar_event_format_message(kind, payload);
  g_ptr_array_add(items, g_strconcat("MESSAGE=", message, NULL));
  g_ptr_array_add(items, g_strconcat("MESSAGE_ID=", kind->message_id, NULL));
  g_ptr_array_add(items, g_strdup_printf("PRIORITY=%d", kind->priority));
  const char *prgname = g_get_prgname();
  g_ptr_array_add(items, g_strconcat("SYSLOG_IDENTIFIER=", prgname ? prgname : PACKAGE_NAME, NULL));
  g_ptr_array_add(items, g_strconcat("AGENT_RUNNER_EVENT=", kind->name, NULL));
  if (self->project != NULL)
    g_ptr_array_add(items, g_strconcat("AGENT_RUNNER_PROJECT=", self->project, NULL));

  /* The event's own round and phase are more precise than the context. */
  JsonNode *round = json_object_get_member(payload, "round_num");
  gint64 round_num = round && check_int(round) ? json_node_get_int(round) : self->round_num;
  if (round_num > 0)
    g_ptr_array_add(items, g_strdup_printf("AGENT_RUNNER_ROUND=%" G_GINT64_FORMAT, round_num));
  JsonNode *phase_node = json_object_get_member(payload, "phase");
  const char *phase =
      phase_node && check_string(phase_node) ? json_node_get_string(phase_node) : self->phase;
  if (phase != NULL && *phase != '\0')
    g_ptr_array_add(items, g_strconcat("AGENT_RUNNER_PHASE=", phase, NULL));

  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  json_object_iter_init_ordered(&iter, payload);
  while (json_object_iter_next_ordered(&iter, &name, &member)) {
    g_autofree char *field = journal_field_name(name);
    if (g_strv_contains(journal_reserved, field))
      continue;
    g_autoptr(GString) item = g_string_new(field);
    g_string_append_c(item, '=');
    if (check_string(member))
      g_string_append(item, json_node_get_string(member));
    else
      ar_json_append(item, member);
    g_ptr_array_add(items, g_string_free(g_steal_pointer(&item), FALSE));
  }
  g_autoptr(GString) json = g_string_new("AGENT_RUNNER_PAYLOAD={");
  ar_json_append_members(json, payload, FALSE);
  g_string_append_c(json, '}');
  g_ptr_array_add(items, g_string_free(g_steal_pointer(&json), FALSE));

  g_autofree struct iovec *iov = g_new(struct iovec, items->len);
  for (guint i = 0; i < items->len; i++) {
    iov[i].iov_base = items->pdata[i];
    iov[i].iov_len = strlen(items->pdata[i]);
  }
  /* No journald (a container, a test, a non-systemd host) is normal: the
   * events file still has the event. */
  int r = sd_journal_sendv(iov, items->len);
  if (r < 0)
    g_debug("journal: %s", g_strerror(-r));
}

/* ---- the emitter ------------------------------------------------------------- */

ArEmitter *
ar_emitter_new(const char *log_dir, const char *project)
{
  ArEmitter *self = g_new0(ArEmitter, 1);
  g_atomic_ref_count_init(&self->ref_count);
  self->log_dir = g_strdup(log_dir);
  self->project = g_strdup(project);
  self->journal = TRUE;
  self->now_us = g_get_real_time;
  self->sinks = g_array_new(FALSE, FALSE, sizeof(Sink));
  self->fd = -1;
  return self;
}

ArEmitter *
ar_emitter_ref(ArEmitter *self)
{
  g_atomic_ref_count_inc(&self->ref_count);
  return self;
}

void
ar_emitter_unref(ArEmitter *self)
{
  if (self == NULL || !g_atomic_ref_count_dec(&self->ref_count))
    return;
  close_file(self);
  g_array_unref(self->sinks);
  g_free(self->log_dir);
  g_free(self->project);
  g_free(self->phase);
  g_free(self);
}

void
ar_emitter_set_context(ArEmitter *self, guint round_num, const char *phase)
{
  self->round_num = round_num;
  g_free(self->phase);
  self->phase = g_strdup(phase);
}

void
ar_emitter_add_sink(ArEmitter *self, ArEventSinkFunc func, gpointer user_data)
{
  Sink sink = { func, user_data };
  g_array_append_val(self->sinks, sink);
}

void
ar_emitter_remove_sink(ArEmitter *self, ArEventSinkFunc func, gpointer user_data)
{
  for (guint i = 0; i < self->sinks->len; i++) {
    Sink *s = &g_array_index(self->sinks, Sink, i);
    if (s->func == func && s->user_data == user_data) {
      g_array_remove_index(self->sinks, i);
      return;
    }
  }
}

void
ar_emitter_set_journal(ArEmitter *self, gboolean enabled)
{
  self->journal = enabled;
}

void
ar_emitter_set_clock(ArEmitter *self, ArClockFunc now_us)
{
  self->now_us = now_us ? now_us : g_get_real_time;
}

const char *
ar_emitter_get_path(ArEmitter *self)
{
  return self->path;
}

void
ar_emitter_sync(ArEmitter *self)
{
  if (self->fd >= 0 && fdatasync(self->fd) < 0)
    g_message("events: fsync %s: %s", self->path, g_strerror(errno));
}

gboolean
ar_emitter_emit(ArEmitter *self, const char *kind_name, JsonObject *payload, GError **error)
{
  const ArEventKind *kind = ar_event_kind_lookup(kind_name);
  if (kind == NULL) {
    g_critical("unknown event kind \"%s\"", kind_name ? kind_name : "(null)");
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS, "unknown event kind \"%s\"",
                kind_name ? kind_name : "(null)");
    return FALSE;
  }
  gint64 now_us = self->now_us();
  g_autoptr(JsonObject) clean = prepare_payload(kind, payload);

  g_autofree char *ts = ar_utc_iso_ms(now_us);
  g_autoptr(GString) line = g_string_new("{\"ts\": ");
  ar_json_append_string(line, ts);
  g_string_append(line, ", \"event\": ");
  ar_json_append_string(line, kind->name);
  ar_json_append_members(line, clean, TRUE);
  g_string_append(line, "}\n");

  gboolean ok = TRUE;
  g_autoptr(GError) file_error = NULL;
  if (self->log_dir != NULL)
    ok = file_sink_write(self, now_us, line->str, line->len, &file_error);
  if (self->journal)
    journal_sink(self, kind, clean);

  /* Sinks see the line without its newline. */
  g_string_truncate(line, line->len - 1);
  const ArEvent event = { .kind = kind, .payload = clean, .json_line = line->str, .ts_us = now_us };
  /* A sink may add or remove sinks: walk a snapshot. */
  g_autoptr(GArray) sinks = g_array_copy(self->sinks);
  for (guint i = 0; i < sinks->len; i++) {
    Sink *s = &g_array_index(sinks, Sink, i);
    s->func(&event, s->user_data);
  }

  if (!ok)
    g_propagate_error(error, g_steal_pointer(&file_error));
  return ok;
}

/* ---- typed reads for the sinks ------------------------------------------ */

/* The field's value node, after checking that the row declares it with one
 * of the accepted types; NULL for absent or null values. */
static JsonNode *
event_value(const ArEvent *event, const char *field, guint accepted_types, gboolean *present)
{
  if (present)
    *present = FALSE;
  g_return_val_if_fail(event != NULL && event->kind != NULL, NULL);
  if (g_strcmp0(event->kind->origin, AR_EVENT_ORIGIN_HOOK) != 0) {
    const ArEventField *f = ar_event_kind_field(event->kind, field);
    if (f == NULL || !(accepted_types & (1u << f->type))) {
      g_critical("event %s: field \"%s\" is not declared with the type read", event->kind->name,
                 field);
      return NULL;
    }
  }
  JsonNode *node = json_object_get_member(event->payload, field);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE(node))
    return NULL;
  if (present)
    *present = TRUE;
  return node;
}

#define NUMERIC_TYPES ((1u << AR_FIELD_INT) | (1u << AR_FIELD_NUMBER))

gint64
ar_event_get_int(const ArEvent *event, const char *field, gboolean *present)
{
  gboolean have = FALSE;
  event_value(event, field, NUMERIC_TYPES, &have);
  gint64 value = have ? ar_json_int(event->payload, field, &have) : 0;
  if (present)
    *present = have;
  return value;
}

double
ar_event_get_number(const ArEvent *event, const char *field, gboolean *present)
{
  gboolean have = FALSE;
  event_value(event, field, NUMERIC_TYPES, &have);
  double value = have ? ar_json_double(event->payload, field, &have) : 0.0;
  if (present)
    *present = have;
  return value;
}

const char *
ar_event_get_string(const ArEvent *event, const char *field)
{
  return event_value(event, field, 1u << AR_FIELD_STRING, NULL) ? ar_json_str(event->payload, field)
                                                                : NULL;
}

gboolean
ar_emitv(ArEmitter *self, const char *kind, va_list ap)
{
  g_autoptr(JsonObject) payload = json_object_new();
  for (const char *name = va_arg(ap, const char *); name != NULL; name = va_arg(ap, const char *)) {
    ArEvType type = va_arg(ap, int);
    JsonNode *node = json_node_alloc();
    switch (type) {
    case AR_EV_INT:
      json_node_init_int(node, va_arg(ap, gint64));
      break;
    case AR_EV_DOUBLE:
      json_node_init_double(node, va_arg(ap, double));
      break;
    case AR_EV_BOOL:
      json_node_init_boolean(node, va_arg(ap, gboolean));
      break;
    case AR_EV_STR: {
      const char *s = va_arg(ap, const char *);
      if (s != NULL)
        json_node_init_string(node, s);
      else
        json_node_init_null(node);
      break;
    }
    case AR_EV_STRV: {
      const char *const *strv = va_arg(ap, const char *const *);
      if (strv == NULL) {
        json_node_init_null(node);
        break;
      }
      JsonArray *array = json_array_new();
      for (; *strv != NULL; strv++)
        json_array_add_string_element(array, *strv);
      json_node_init_array(node, array);
      json_array_unref(array);
      break;
    }
    case AR_EV_NODE: {
      JsonNode *value = va_arg(ap, JsonNode *);
      json_node_unref(node);
      node = value ? json_node_copy(value) : json_node_init_null(json_node_alloc());
      break;
    }
    case AR_EV_NULL:
      json_node_init_null(node);
      break;
    default:
      /* The rest of the list cannot be read without knowing this type. */
      g_critical("event %s: field \"%s\" has an invalid ArEvType %d", kind, name, type);
      json_node_unref(node);
      return FALSE;
    }
    json_object_set_member(payload, name, node);
  }

  g_autoptr(GError) error = NULL;
  if (ar_emitter_emit(self, kind, payload, &error)) {
    self->failing = FALSE;
    return TRUE;
  }
  /* Unknown kinds were reported by ar_emitter_emit; a failing disk is
   * reported once, not at every event. */
  if (g_error_matches(error, AR_ERROR, AR_ERROR_INVALID_ARGS))
    return FALSE;
  if (!self->failing)
    g_message("events: %s", error->message);
  self->failing = TRUE;
  return FALSE;
}

gboolean
ar_emit(ArEmitter *self, const char *kind, ...)
{
  va_list ap;
  va_start(ap, kind);
  gboolean ok = ar_emitv(self, kind, ap);
  va_end(ap);
  return ok;
}
