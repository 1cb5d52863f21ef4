/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Peek: the daemon's state as one JSON document (schema in docs/peek.md),
 * served from memory. A sink of the emitter keeps the last
 * ARD_PEEK_EVENTS events in a ring buffer; nothing re-reads the events
 * files. Only the transcript tail (on request) and the system figures are
 * read at call time, both bounded. */

#include <glib.h>

#include "ard-loop.h"

G_BEGIN_DECLS

#define ARD_PEEK_SCHEMA_VERSION "2.0"
/* Events kept in memory for recent_events. */
#define ARD_PEEK_EVENTS 200
/* Upper bounds of the options. */
#define ARD_PEEK_MAX_LOG_TAIL   1000
#define ARD_PEEK_TAIL_MAX_BYTES (256 * 1024)

typedef struct ArdPeek ArdPeek;

typedef struct {
  guint log_tail;        /* 0: no log_tail */
  guint events;          /* 0: recent_events = [] */
  guint round;           /* 0: the current round; else that round's summary + log */
  gboolean log_withheld; /* the caller may not read transcripts (system bus) */
} ArdPeekOptions;

/* mode: "user", "system" or "none" (no bus). Adds its sink to the loop's
 * emitter; removes it in ard_peek_free. */
ArdPeek *ard_peek_new(ArdLoop *loop, const char *mode);
void ard_peek_free(ArdPeek *peek);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdPeek, ard_peek_free)

char *ard_peek_to_json(ArdPeek *peek, const ArdPeekOptions *opts);

/* The last n lines of a file (read backwards from its end, at most
 * max_bytes), as a string array; NULL when the file cannot be read. */
GPtrArray *ard_peek_file_tail(const char *path, guint n, gsize max_bytes);

G_END_DECLS
