/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-output.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ar-cleanup.h"
#include "ar-redact.h"
#include "ar-util.h"

/* One read() moves up to this much; a dispatch does a few of them, for at
 * most WAKE_BUDGET_US, before going back to the loop, so that timers and
 * signals wait at most that long behind a flooding agent, and a bus call
 * one read (a dispatch ends early when a bus message waits: urgent_input).
 * The source also has a lower priority than theirs: they go first
 * whenever both are ready. */
#define READ_CHUNK     (256 * 1024)
#define READS_PER_WAKE 8
#define WAKE_BUDGET_US 1000
/* Below the bus, timers, signals and child exits (all NORMAL). */
#define OUTPUT_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)
/* A bigger pipe lets a fast writer fill more per wakeup (fewer epoll
 * round trips per GiB); failure (pipe-max-size) is harmless. */
#define PIPE_SIZE (1024 * 1024)

/* The bus connection, polled between reads (ard_output_set_urgent_fd). */
static int urgent_fd = -1;

void
ard_output_set_urgent_fd(int fd)
{
  urgent_fd = fd;
}

/* Whether a bus message waits: one poll per read (256 KiB of output), so
 * ~4,000 syscalls per GiB, and none while the agent is quiet. */
static gboolean
urgent_input(void)
{
  struct pollfd p = { .fd = urgent_fd, .events = POLLIN };
  return urgent_fd >= 0 && poll(&p, 1, 0) > 0;
}

/* ---- line scanner ---------------------------------------------------- */

void
ard_line_scanner_init(ArdLineScanner *sc)
{
  memset(sc, 0, sizeof *sc);
  sc->buf = g_malloc(ARD_LINE_MAX);
}

void
ard_line_scanner_clear(ArdLineScanner *sc)
{
  g_clear_pointer(&sc->buf, g_free);
  sc->len = 0;
}

typedef guchar ArdV16 __attribute__((vector_size(16)));

static guint64
count_newlines(const char *data, gsize len)
{
  guint64 n = 0;
  gsize i = 0;
  /* 16 bytes a step; lanes count down from 0 (a match is -1) and are
   * folded into n before they can wrap. */
  while (i + 16 <= len) {
    ArdV16 acc = { 0 };
    for (int k = 0; k < 255 && i + 16 <= len; k++, i += 16) {
      ArdV16 v;
      memcpy(&v, data + i, 16);
      acc -= (ArdV16)(v == (guchar)'\n') & (guchar)1;
    }
    for (int k = 0; k < 16; k++)
      n += acc[k];
  }
  for (; i < len; i++)
    n += data[i] == '\n';
  return n;
}

void
ard_line_scanner_feed(ArdLineScanner *sc, const char *data, gsize len, ArdLineFunc func,
                      gpointer user_data)
{
  ard_line_scanner_feed_bulk(sc, data, len, func, NULL, user_data);
}

void
ard_line_scanner_feed_bulk(ArdLineScanner *sc, const char *data, gsize len, ArdLineFunc func,
                           ArdLinesFunc bulk, gpointer user_data)
{
  const char *p = data;
  const char *end = data + len;
  gboolean offered = bulk == NULL;
  while (p < end) {
    if (!offered && sc->len == 0 && !sc->skipping) {
      /* Once a chunk, at the first line boundary: the whole lines that
       * follow, in one go. */
      offered = TRUE;
      const char *last = memrchr(p, '\n', end - p);
      gsize took = last ? bulk(p, last + 1 - p, user_data) : 0;
      if (took > 0) {
        sc->lines += count_newlines(p, took);
        p += took;
        continue;
      }
    }
    const char *nl = memchr(p, '\n', end - p);
    gsize seg = (nl ? nl : end) - p;
    if (sc->skipping) {
      /* The rest of a line already passed on truncated: skip to its end. */
      if (nl)
        sc->skipping = FALSE;
    } else if (sc->len == 0 && nl && seg <= ARD_LINE_MAX) {
      /* Common case: a whole line inside the chunk, no copy. */
      sc->lines++;
      func(p, seg, FALSE, user_data);
    } else if (sc->len + seg > ARD_LINE_MAX) {
      gsize take = ARD_LINE_MAX - sc->len;
      memcpy(sc->buf + sc->len, p, take);
      sc->lines++;
      sc->truncated_lines++;
      /* The rest of the line is skipped: a secret value cut by the limit
       * would leave its first bytes in the clear, where no redaction can
       * recognise them. Those bytes go with the rest. */
      gsize keep = ARD_LINE_MAX - ar_redact_partial_tail(sc->buf, ARD_LINE_MAX);
      func(sc->buf, keep, TRUE, user_data);
      sc->len = 0;
      sc->skipping = (nl == NULL);
    } else {
      memcpy(sc->buf + sc->len, p, seg);
      sc->len += seg;
      if (nl) {
        sc->lines++;
        func(sc->buf, sc->len, FALSE, user_data);
        sc->len = 0;
      }
    }
    p = nl ? nl + 1 : end;
  }
}

void
ard_line_scanner_finish(ArdLineScanner *sc, ArdLineFunc func, gpointer user_data)
{
  if (sc->len > 0 && !sc->skipping) {
    sc->lines++;
    func(sc->buf, sc->len, FALSE, user_data);
  }
  sc->len = 0;
  sc->skipping = FALSE;
}

/* ---- transcript ------------------------------------------------------ */

static gboolean
link_current(const char *log_dir, const char *rel_target, GError **error)
{
  g_autofree char *link = g_build_filename(log_dir, "round-current.log", NULL);
  g_autofree char *tmp = g_strdup_printf("%s/.round-current.log.%08x", log_dir, g_random_int());
  (void)unlink(tmp);
  if (symlink(rel_target, tmp) < 0)
    return ar_set_error_errno(error, errno, "symlink %s", tmp);
  /* rename() replaces the old link in one step: readers never see it
   * missing. */
  if (rename(tmp, link) < 0) {
    int errsv = errno;
    (void)unlink(tmp);
    return ar_set_error_errno(error, errsv, "rename %s", link);
  }
  return TRUE;
}

int
ard_transcript_create(const char *log_dir, guint round_num, gint64 realtime_us, char **path_out,
                      GError **error)
{
  g_autofree char *rounds = g_build_filename(log_dir, "rounds", NULL);
  if (g_mkdir_with_parents(rounds, 0700) < 0) {
    ar_set_error_errno(error, errno, "mkdir %s", rounds);
    return -1;
  }
  time_t secs = (time_t)(realtime_us / G_USEC_PER_SEC);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  g_autofree char *name = g_strdup_printf("R%u-%s.log", round_num, stamp);
  g_autofree char *path = g_build_filename(rounds, name, NULL);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    ar_set_error_errno(error, errno, "create %s", path);
    return -1;
  }
  g_autofree char *rel = g_build_filename("rounds", name, NULL);
  g_autoptr(GError) link_error = NULL;
  /* The symlink is a convenience for humans (tail -f): failing to place it
   * must not cost the round. */
  if (!link_current(log_dir, rel, &link_error))
    g_warning("%s", link_error->message);
  *path_out = g_steal_pointer(&path);
  return fd;
}

/* ---- the pipe reader ------------------------------------------------- */

struct ArdOutput {
  sd_event *event;
  sd_event_source *source;
  int pipe_fd;
  int transcript_fd;
  gboolean eof;
  gboolean write_failed;
  guint64 bytes;
  gint64 last_write_us;
  ArdLineScanner scanner;
  ArdLineFunc on_line;
  ArdLinesFunc on_lines;
  ArdOutputEofFunc on_eof;
  gpointer user_data;
  char *buf;
};

static void
write_transcript(ArdOutput *out, const char *data, gsize len)
{
  if (out->write_failed)
    return;
  while (len > 0) {
    ssize_t n = write(out->transcript_fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      /* Keep draining the pipe (an agent blocked on a full pipe would hang
       * the round) but say once that the transcript is incomplete. */
      g_warning("transcript write failed: %s; the rest of this round's output is dropped",
                g_strerror(errno));
      out->write_failed = TRUE;
      return;
    }
    data += n;
    len -= n;
  }
}

static void
mark_eof(ArdOutput *out)
{
  if (out->eof)
    return;
  out->eof = TRUE;
  ard_line_scanner_finish(&out->scanner, out->on_line, out->user_data);
  out->source = sd_event_source_disable_unref(out->source);
  if (out->pipe_fd >= 0) {
    close(out->pipe_fd);
    out->pipe_fd = -1;
  }
  if (out->on_eof)
    out->on_eof(out, out->user_data);
}

/* Returns FALSE when the pipe has nothing more right now (EAGAIN) or ended. */
static gboolean
read_once(ArdOutput *out)
{
  ssize_t n = read(out->pipe_fd, out->buf, READ_CHUNK);
  if (n < 0 && errno == EINTR)
    return TRUE;
  if (n < 0 && errno == EAGAIN)
    return FALSE;
  if (n <= 0) {
    mark_eof(out);
    return FALSE;
  }
  uint64_t now = 0;
  (void)sd_event_now(out->event, CLOCK_MONOTONIC, &now);
  out->last_write_us = (gint64)now;
  out->bytes += (guint64)n;
  write_transcript(out, out->buf, n);
  ard_line_scanner_feed_bulk(&out->scanner, out->buf, n, out->on_line, out->on_lines,
                             out->user_data);
  return !out->eof;
}

static int
on_readable(sd_event_source *s, int fd, uint32_t revents, void *user_data)
{
  ArdOutput *out = user_data;
  gint64 start = g_get_monotonic_time();
  for (int i = 0; i < READS_PER_WAKE && !out->eof; i++) {
    if (!read_once(out))
      break;
    if (g_get_monotonic_time() - start >= WAKE_BUDGET_US || urgent_input())
      break;
  }
  return 0;
}

ArdOutput *
ard_output_new(sd_event *event, int pipe_fd, int transcript_fd, ArdLineFunc on_line,
               ArdOutputEofFunc on_eof, gpointer user_data, GError **error)
{
  g_auto(ArFd) pfd = pipe_fd;
  g_auto(ArFd) tfd = transcript_fd;
  int flags = fcntl(pfd, F_GETFL);
  if (flags < 0 || fcntl(pfd, F_SETFL, flags | O_NONBLOCK) < 0) {
    ar_set_error_errno(error, errno, "fcntl O_NONBLOCK");
    return NULL;
  }
  (void)fcntl(pfd, F_SETPIPE_SZ, PIPE_SIZE);
  ArdOutput *out = g_new0(ArdOutput, 1);
  out->event = sd_event_ref(event);
  out->pipe_fd = g_steal_fd(&pfd);
  out->transcript_fd = g_steal_fd(&tfd);
  out->on_line = on_line;
  out->on_eof = on_eof;
  out->user_data = user_data;
  out->buf = g_malloc(READ_CHUNK);
  ard_line_scanner_init(&out->scanner);
  int r = sd_event_add_io(event, &out->source, out->pipe_fd, EPOLLIN, on_readable, out);
  if (r < 0) {
    ar_set_error_errno(error, -r, "sd_event_add_io");
    ard_output_free(out);
    return NULL;
  }
  (void)sd_event_source_set_description(out->source, "agent-output");
  (void)sd_event_source_set_priority(out->source, OUTPUT_PRIORITY);
  return out;
}

void
ard_output_drain_and_close(ArdOutput *out)
{
  if (out->eof)
    return;
  /* Bounded: whatever is buffered now, not what a stray writer keeps
   * producing. */
  for (int i = 0; i < 64 && !out->eof; i++)
    if (!read_once(out))
      break;
  mark_eof(out);
}

void
ard_output_set_bulk(ArdOutput *out, ArdLinesFunc bulk)
{
  out->on_lines = bulk;
}

void
ard_output_free(ArdOutput *out)
{
  if (!out)
    return;
  sd_event_source_disable_unref(out->source);
  if (out->pipe_fd >= 0)
    close(out->pipe_fd);
  if (out->transcript_fd >= 0)
    close(out->transcript_fd);
  ard_line_scanner_clear(&out->scanner);
  sd_event_unref(out->event);
  g_free(out->buf);
  g_free(out);
}

gboolean
ard_output_is_eof(const ArdOutput *out)
{
  return out->eof;
}

guint64
ard_output_get_bytes(const ArdOutput *out)
{
  return out->bytes;
}

gint64
ard_output_get_last_write_us(const ArdOutput *out)
{
  return out->last_write_us;
}

const ArdLineScanner *
ard_output_get_scanner(const ArdOutput *out)
{
  return &out->scanner;
}

/* ---- upgrade in place ------------------------------------------------ */

gboolean
ard_output_get_fds(const ArdOutput *out, int *pipe_fd, int *transcript_fd)
{
  *pipe_fd = out->pipe_fd;
  *transcript_fd = out->transcript_fd;
  return !out->eof && !out->write_failed && out->pipe_fd >= 0 && out->transcript_fd >= 0;
}

void
ard_output_restore(ArdOutput *out, guint64 bytes, gint64 last_write_us)
{
  out->bytes = bytes;
  out->last_write_us = last_write_us;
}

gboolean
ard_output_replay(ArdOutput *out, guint64 bytes, ArdLineFunc on_line, ArdLinesFunc on_lines,
                  gpointer user_data, GError **error)
{
  /* The transcript fd is write-only: open the same file again through it
   * (it may have been renamed since; the inode is what counts). */
  g_autofree char *proc = g_strdup_printf("/proc/self/fd/%d", out->transcript_fd);
  g_auto(ArFd) fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return ar_set_error_errno(error, errno, "reopen the transcript (%s)", proc);
  guint64 off = 0;
  while (off < bytes) {
    gsize want = (gsize)MIN(bytes - off, (guint64)READ_CHUNK);
    ssize_t n = pread(fd, out->buf, want, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      g_set_error(error, AR_ERROR, AR_ERROR_FAILED,
                  "the transcript ends at %" G_GUINT64_FORMAT
                  " bytes, the output had %" G_GUINT64_FORMAT,
                  off, bytes);
      return FALSE;
    }
    ard_line_scanner_feed_bulk(&out->scanner, out->buf, (gsize)n, on_line, on_lines, user_data);
    off += (guint64)n;
  }
  return TRUE;
}
