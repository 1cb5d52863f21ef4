/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The agent's output: one pipe carries its stdout and stderr (so their
 * interleaving is kept); every byte goes unchanged into the round's
 * transcript rounds/R<N>-<stamp>.log, and a line scanner with a bounded
 * buffer hands each line to the classifier as it arrives. */

#include <glib.h>
#include <systemd/sd-event.h>

G_BEGIN_DECLS

/* Longest line the scanner hands over whole. A longer line is passed on cut
 * to this size with truncated = TRUE, and its rest is skipped up to the
 * newline, so a gigabyte without a newline costs no memory. */
#define ARD_LINE_MAX (64 * 1024)

typedef void (*ArdLineFunc)(const char *line, gsize len, gboolean truncated, gpointer user_data);

typedef struct {
  char *buf;
  gsize len;
  gboolean skipping; /* inside the unseen rest of a truncated line */
  guint64 truncated_lines;
  guint64 lines;
} ArdLineScanner;

void ard_line_scanner_init(ArdLineScanner *sc);
void ard_line_scanner_clear(ArdLineScanner *sc);
/* Lines are passed without their "\n". */
void ard_line_scanner_feed(ArdLineScanner *sc, const char *data, gsize len, ArdLineFunc func,
                           gpointer user_data);
/* Offered a run of whole lines (data ends with "\n") once per feed; returns
 * how many bytes of whole lines from the start it consumed (with the
 * effect of func on each); the scanner passes the rest one by one. It may
 * only consume lines no longer than ARD_LINE_MAX (the scanner counts them,
 * truncates none). */
typedef gsize (*ArdLinesFunc)(const char *data, gsize len, gpointer user_data);
void ard_line_scanner_feed_bulk(ArdLineScanner *sc, const char *data, gsize len, ArdLineFunc func,
                                ArdLinesFunc bulk, gpointer user_data);
/* At EOF: a last line without newline is passed too. */
void ard_line_scanner_finish(ArdLineScanner *sc, ArdLineFunc func, gpointer user_data);

/* Create log_dir/rounds/R<N>-<UTC %Y%m%dT%H%M%S>.log (O_APPEND) and point
 * log_dir/round-current.log at it (relative symlink, replaced atomically).
 * Returns the fd; *path_out gets the absolute path. */
int ard_transcript_create(const char *log_dir, guint round_num, gint64 realtime_us, char **path_out,
                          GError **error);

typedef struct ArdOutput ArdOutput;
typedef void (*ArdOutputEofFunc)(ArdOutput *out, gpointer user_data);

/* Takes ownership of pipe_fd (read end, made non-blocking) and
 * transcript_fd. on_line sees every line; on_eof runs once, when every
 * writer has closed the pipe. */
ArdOutput *ard_output_new(sd_event *event, int pipe_fd, int transcript_fd, ArdLineFunc on_line,
                          ArdOutputEofFunc on_eof, gpointer user_data, GError **error);
/* Lets on_line's owner take whole runs of lines at once (see
 * ard_line_scanner_feed_bulk). */
void ard_output_set_bulk(ArdOutput *out, ArdLinesFunc bulk);
/* The daemon's bus connection (-1: none). Between two reads of a flood,
 * output work stops early when a message waits on it, so a bus call waits
 * for one read, not for the whole per-wakeup budget. One per process. */
void ard_output_set_urgent_fd(int fd);
void ard_output_free(ArdOutput *out);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArdOutput, ard_output_free)

/* Read what the pipe holds right now, then close it (descendants that
 * still hold the write end after the round are not waited for). */
void ard_output_drain_and_close(ArdOutput *out);

gboolean ard_output_is_eof(const ArdOutput *out);
guint64 ard_output_get_bytes(const ArdOutput *out);
/* CLOCK_MONOTONIC µs of the last byte received; 0 before the first. */
gint64 ard_output_get_last_write_us(const ArdOutput *out);
const ArdLineScanner *ard_output_get_scanner(const ArdOutput *out);

/* Upgrade in place. The fds the output reads and writes; FALSE when it
 * cannot be handed over as it is (ended, or the transcript misses bytes). */
gboolean ard_output_get_fds(const ArdOutput *out, int *pipe_fd, int *transcript_fd);
/* In the new image: the counters of the output as the previous image left it. */
void ard_output_restore(ArdOutput *out, guint64 bytes, gint64 last_write_us);
/* Feed the transcript's first bytes through the line scanner again with
 * these callbacks: every byte the previous image read is in it, so the
 * scanner ends where that image's did (a partial line in its buffer). */
gboolean ard_output_replay(ArdOutput *out, guint64 bytes, ArdLineFunc on_line,
                           ArdLinesFunc on_lines, gpointer user_data, GError **error);

G_END_DECLS
