/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The event system: one table of event kinds, one emitter, four sinks
 * (events file, journal, and two registered by the daemon: the bus signal
 * and the in-memory state that Peek serializes). See docs/events.md, which
 * is generated from the table in ar-event-table.c. */

#include <syslog.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ar-json.h"

G_BEGIN_DECLS

/* ---- The table ---------------------------------------------------------- */

typedef enum {
  AR_FIELD_INT,         /* JSON integer */
  AR_FIELD_NUMBER,      /* JSON number: integer or fraction */
  AR_FIELD_BOOL,        /* true / false */
  AR_FIELD_STRING,      /* UTF-8 string */
  AR_FIELD_STRING_LIST, /* array of strings */
  AR_FIELD_OBJECT_LIST, /* array of objects */
  AR_FIELD_OBJECT,      /* object */
} ArFieldType;

typedef enum {
  AR_FIELD_REQUIRED = 0,
  AR_FIELD_NULLABLE = 1 << 0, /* the value may be JSON null */
  AR_FIELD_OPTIONAL = 1 << 1, /* the key may be absent */
} ArFieldFlags;

typedef struct {
  const char *name;
  ArFieldType type;
  ArFieldFlags flags;
  guint max_chars; /* strings are cut to this many characters; 0 = no limit */
} ArEventField;

#define AR_EVENT_MAX_FIELDS 16

typedef struct {
  const char *name;
  const char *message_id; /* 32 lowercase hex digits, fixed forever */
  int priority;           /* syslog LOG_ERR .. LOG_DEBUG */
  const char *origin;     /* which program emits it: daemon, monitor, upgrade */
  const char *summary;    /* one line; the catalog's Subject */
  const char *message;    /* journal MESSAGE, "%{field}" replaced from the payload */
  const char *description;
  ArEventField fields[AR_EVENT_MAX_FIELDS]; /* in file order, ends at name == NULL */
} ArEventKind;

/* Kinds a config declares in [events] kinds, for hooks to emit: free
 * payload (every string redacted as outside text), origin "hook", not in
 * ar_event_kinds(). FALSE when the name is a built-in kind. Call from the
 * emitting thread. */
#define AR_EVENT_ORIGIN_HOOK "hook"
gboolean ar_event_kind_register_custom(const char *name, GError **error);

/* NULL when the kind is not in the table. */
const ArEventKind *ar_event_kind_lookup(const char *name);
/* The whole table, in documentation order. */
const ArEventKind *ar_event_kinds(gsize *n_kinds);
const ArEventField *ar_event_kind_field(const ArEventKind *kind, const char *field_name);
guint ar_event_kind_n_fields(const ArEventKind *kind);

/* Free-text fields carry text from outside (agent output, exception
 * messages, file contents): the emitter redacts them before any sink. */
gboolean ar_event_field_is_free_text(const char *field_name);
const char *const *ar_event_free_text_fields(void);

const char *ar_event_field_type_name(ArFieldType type); /* "integer", "string", ... */
const char *ar_event_priority_name(int priority);       /* "err", "notice", ... */

/* The journal sentence: kind->message with each %{field} replaced by the
 * payload value (strings raw, string lists joined with ", ", other values as
 * JSON, a missing field as "-"). */
char *ar_event_format_message(const ArEventKind *kind, JsonObject *payload);

/* ---- The emitter ------------------------------------------------------- */

typedef struct _ArEmitter ArEmitter;

/* One emitted event as every sink receives it: the kind's table row (its
 * priority, message, fields), the payload after redaction and the exact
 * line the events file got. All of it belongs to the emitter and lives only
 * for the sink call. */
typedef struct {
  const ArEventKind *kind;
  JsonObject *payload;   /* the fields in file order, without ts and event */
  const char *json_line; /* without "\n" */
  gint64 ts_us;          /* the "ts" value, wall-clock microseconds */
} ArEvent;

/* Typed reads of the payload, checked against the kind's row: reading a
 * field the row does not declare, or as another type, is a programming
 * error (g_critical). An absent or null value reads as 0 / 0.0 / NULL;
 * *present (may be NULL) says whether there was a value. A number field
 * reads as integer truncated toward zero, an integer as a number. Kinds
 * declared by a config (free payload) are not checked. */
gint64 ar_event_get_int(const ArEvent *event, const char *field, gboolean *present);
double ar_event_get_number(const ArEvent *event, const char *field, gboolean *present);
const char *ar_event_get_string(const ArEvent *event, const char *field);

typedef void (*ArEventSinkFunc)(const ArEvent *event, gpointer user_data);

/* Returns wall-clock microseconds since the epoch, like g_get_real_time(). */
typedef gint64 (*ArClockFunc)(void);

/* log_dir may be NULL (no file sink: e.g. a monitor without a local log
 * dir); the directory must exist. project may be NULL. An emitter is not
 * thread-safe: one per thread, or one thread. */
ArEmitter *ar_emitter_new(const char *log_dir, const char *project);
ArEmitter *ar_emitter_ref(ArEmitter *self);
void ar_emitter_unref(ArEmitter *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArEmitter, ar_emitter_unref)

/* Round and phase for the journal fields AGENT_RUNNER_ROUND/_PHASE
 * (0 / NULL: none). */
void ar_emitter_set_context(ArEmitter *self, guint round_num, const char *phase);
/* Extra sinks run after the file and journal sinks, in the order added. */
void ar_emitter_add_sink(ArEmitter *self, ArEventSinkFunc func, gpointer user_data);
void ar_emitter_remove_sink(ArEmitter *self, ArEventSinkFunc func, gpointer user_data);
/* Journal sink on (default) or off (tests, CLI one-shots). */
void ar_emitter_set_journal(ArEmitter *self, gboolean enabled);
/* Injectable clock for tests (month rollover); NULL restores the real one. */
void ar_emitter_set_clock(ArEmitter *self, ArClockFunc now_us);
/* fsync the events file: called at round end, so a power cut loses at most
 * the events of the round in progress. Failures are logged. */
void ar_emitter_sync(ArEmitter *self);
/* Path of the events file currently open (NULL before the first event). */
const char *ar_emitter_get_path(ArEmitter *self);

/* Emit one event. An unknown kind is a programming error: g_critical and
 * FALSE. Every sink gets the event even when the file write fails; the
 * result is that of the file sink (journal failures are ignored: no
 * journald is a normal situation). In debug builds (no NDEBUG) fields not
 * in the table, missing required fields and wrong types raise g_warning. */
gboolean ar_emitter_emit(ArEmitter *self, const char *kind, JsonObject *payload, GError **error);

/* Value types of ar_emit()'s (name, type, value) triples. */
typedef enum {
  AR_EV_INT = 1, /* gint64: cast literals, (gint64)3 */
  AR_EV_DOUBLE,  /* double */
  AR_EV_BOOL,    /* gboolean */
  AR_EV_STR,     /* const char *; NULL gives null */
  AR_EV_STRV,    /* const char *const *; NULL gives null */
  AR_EV_NODE,    /* JsonNode *, transfer none; NULL gives null */
  AR_EV_NULL,    /* no value argument: null */
} ArEvType;

/* Shorthands that get the casts right:
 *   ar_emit(em, "round_end", AR_EV_I("round_num", n), AR_EV_S("outcome", "ok"), NULL); */
#define AR_EV_I(name, v)  (name), AR_EV_INT, ((gint64)(v))
#define AR_EV_D(name, v)  (name), AR_EV_DOUBLE, ((double)(v))
#define AR_EV_B(name, v)  (name), AR_EV_BOOL, ((gboolean)(v))
#define AR_EV_S(name, v)  (name), AR_EV_STR, ((const char *)(v))
#define AR_EV_SV(name, v) (name), AR_EV_STRV, ((const char *const *)(v))
#define AR_EV_N(name, v)  (name), AR_EV_NODE, ((JsonNode *)(v))

/* Varargs form: NULL-terminated (name, ArEvType, value) triples. File-sink
 * failures are logged with g_message (once per failure streak) and return
 * FALSE. */
gboolean ar_emit(ArEmitter *self, const char *kind, ...) G_GNUC_NULL_TERMINATED;
gboolean ar_emitv(ArEmitter *self, const char *kind, va_list ap);

/* ---- Reading the events files ------------------------------------------ */

/* log_dir/events-YYYY-MM.jsonl for the UTC month of realtime_us. */
char *ar_events_file_path(const char *log_dir, gint64 realtime_us);

/* Full paths of the monthly events files, oldest first. A missing log_dir
 * gives an empty array (no events yet), not an error. */
GPtrArray *ar_events_list_files(const char *log_dir, GError **error);

/* The "event" value of a raw line (either spacing style: ours or the Python
 * tool's), or NULL when the line has none. */
char *ar_event_line_kind(const char *line, gssize len);
/* kinds NULL or empty matches every line that has a kind. */
gboolean ar_event_line_matches(const char *line, gssize len, const char *const *kinds);

/* The last n lines whose kind is in kinds (NULL: all), across the monthly
 * files, oldest first, without "\n". Files are read backwards in blocks
 * from the newest, so the cost depends on how far back the n-th match is,
 * not on the size of the history. A final line without its "\n" (a write
 * in progress) is left out. */
GPtrArray *ar_events_tail(const char *log_dir, const char *const *kinds, guint n, GError **error);

/* Follow the events files: each read returns the complete lines appended
 * since the previous read, moving on to a newer monthly file when one
 * appears. Call it when inotify reports a change in log_dir (or on start).
 * from_end: start after the lines that exist now. */
typedef struct _ArEventsFollower ArEventsFollower;
ArEventsFollower *ar_events_follower_new(const char *log_dir, const char *const *kinds,
                                         gboolean from_end);
void ar_events_follower_free(ArEventsFollower *self);
GPtrArray *ar_events_follower_read(ArEventsFollower *self, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArEventsFollower, ar_events_follower_free)

G_END_DECLS
