/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ar-events.h"
#include "ar-util.h"

/* Readers for the `events` verb, Peek's start-up and the monitor. They never
 * parse the whole history: the newest lines are found by reading backwards,
 * and a follower only reads what was appended. */

#define BLOCK_SIZE    (64 * 1024)
#define FILE_NAME_LEN (sizeof "events-YYYY-MM.jsonl" - 1)

char *
ar_events_file_path(const char *log_dir, gint64 realtime_us)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(realtime_us / G_USEC_PER_SEC);
  g_autofree char *name = g_date_time_format(dt, "events-%Y-%m.jsonl");
  return g_build_filename(log_dir, name, NULL);
}

/* events-YYYY-MM.jsonl exactly; "events-2026-01.jsonl.gz" and the like are
 * an operator's archive, not ours to read. */
static gboolean
is_events_file_name(const char *name)
{
  static const char shape[] = "events-DDDD-DD.jsonl";
  if (strlen(name) != FILE_NAME_LEN)
    return FALSE;
  for (gsize i = 0; i < FILE_NAME_LEN; i++)
    if (shape[i] == 'D' ? !g_ascii_isdigit(name[i]) : name[i] != shape[i])
      return FALSE;
  return TRUE;
}

static gint
compare_paths(gconstpointer a, gconstpointer b)
{
  /* Fixed-width names: byte order is month order. */
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
ar_events_list_files(const char *log_dir, GError **error)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) dir = g_dir_open(log_dir, 0, &local);
  if (dir == NULL) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      return g_steal_pointer(&files);
    g_propagate_error(error, g_steal_pointer(&local));
    return NULL;
  }
  for (const char *name = g_dir_read_name(dir); name != NULL; name = g_dir_read_name(dir))
    if (is_events_file_name(name))
      g_ptr_array_add(files, g_build_filename(log_dir, name, NULL));
  g_ptr_array_sort(files, compare_paths);
  return g_steal_pointer(&files);
}

char *
ar_event_line_kind(const char *line, gssize len)
{
  if (len < 0)
    len = strlen(line);
  const char *end = line + len;
  const char *p = g_strstr_len(line, len, "\"event\"");
  if (p == NULL)
    return NULL;
  p += strlen("\"event\"");
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p >= end || *p++ != ':')
    return NULL;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p >= end || *p++ != '"')
    return NULL;
  const char *q = memchr(p, '"', end - p);
  return q ? g_strndup(p, q - p) : NULL;
}

gboolean
ar_event_line_matches(const char *line, gssize len, const char *const *kinds)
{
  g_autofree char *kind = ar_event_line_kind(line, len);
  if (kind == NULL)
    return FALSE;
  return kinds == NULL || kinds[0] == NULL || g_strv_contains(kinds, kind);
}

static gboolean
read_at(int fd, char *buf, gsize len, goffset offset, const char *path, GError **error)
{
  gsize done = 0;
  while (done < len) {
    ssize_t n = pread(fd, buf + done, len - done, offset + done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ar_set_error_errno(error, errno, _("Cannot read %s"), path);
    if (n == 0)
      break; /* truncated meanwhile: the rest reads as nothing */
    done += n;
  }
  memset(buf + done, 0, len - done);
  return TRUE;
}

typedef struct {
  const char *const *kinds;
  guint n;
  GPtrArray *found; /* newest first */
} Tail;

static void
tail_take(Tail *t, const char *line, gsize len)
{
  if (len > 0 && ar_event_line_matches(line, len, t->kinds))
    g_ptr_array_add(t->found, g_strndup(line, len));
}

/* Walk one file from its end, block by block. `carry` holds the start of
 * the line that continues into the bytes already scanned. */
static gboolean
tail_file(Tail *t, const char *path, GError **error)
{
  g_auto(ArFd) fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? TRUE : ar_set_error_errno(error, errno, _("Cannot open %s"), path);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return ar_set_error_errno(error, errno, _("Cannot read %s"), path);

  goffset pos = st.st_size;
  g_autoptr(GByteArray) carry = g_byte_array_new();
  /* Until the first "\n" from the end is seen, bytes belong to a line still
   * being written: not an event yet. */
  gboolean have_end = FALSE;
  while (pos > 0 && t->found->len < t->n) {
    gsize want = MIN((goffset)BLOCK_SIZE, pos);
    pos -= want;
    gsize total = want + carry->len;
    g_autofree char *buf = g_malloc(total);
    if (!read_at(fd, buf, want, pos, path, error))
      return FALSE;
    if (carry->len > 0) /* an empty GByteArray has no data pointer */
      memcpy(buf + want, carry->data, carry->len);

    gsize line_end = total;
    for (gssize i = (gssize)want - 1; i >= 0 && t->found->len < t->n; i--) {
      if (buf[i] != '\n')
        continue;
      if (have_end)
        tail_take(t, buf + i + 1, line_end - i - 1);
      have_end = TRUE;
      line_end = i;
    }
    g_byte_array_set_size(carry, 0);
    if (have_end)
      g_byte_array_append(carry, (const guint8 *)buf, line_end);
  }
  /* The file's first line has no "\n" before it. */
  if (pos == 0 && have_end && t->found->len < t->n)
    tail_take(t, (const char *)carry->data, carry->len);
  return TRUE;
}

GPtrArray *
ar_events_tail(const char *log_dir, const char *const *kinds, guint n, GError **error)
{
  g_autoptr(GPtrArray) files = ar_events_list_files(log_dir, error);
  if (files == NULL)
    return NULL;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
  Tail t = { kinds, n, found };
  for (guint i = files->len; i > 0 && found->len < n; i--)
    if (!tail_file(&t, files->pdata[i - 1], error))
      return NULL;
  /* Oldest first, like tail(1). */
  for (guint i = 0, j = found->len; i + 1 < j; i++, j--) {
    gpointer tmp = found->pdata[i];
    found->pdata[i] = found->pdata[j - 1];
    found->pdata[j - 1] = tmp;
  }
  return g_steal_pointer(&found);
}

/* ---- follower ---- */

struct _ArEventsFollower {
  char *log_dir;
  GStrv kinds;
  gboolean from_end;
  gboolean started;
  char *path;          /* file being followed, NULL before the first one exists */
  goffset offset;      /* bytes of it already consumed */
  GByteArray *partial; /* start of a line whose "\n" is not written yet */
  gboolean skip_line;  /* partial began before we did: drop it */
};

ArEventsFollower *
ar_events_follower_new(const char *log_dir, const char *const *kinds, gboolean from_end)
{
  ArEventsFollower *self = g_new0(ArEventsFollower, 1);
  self->log_dir = g_strdup(log_dir);
  self->kinds = kinds ? g_strdupv((char **)kinds) : NULL;
  self->from_end = from_end;
  self->partial = g_byte_array_new();
  return self;
}

void
ar_events_follower_free(ArEventsFollower *self)
{
  if (self == NULL)
    return;
  g_free(self->log_dir);
  g_strfreev(self->kinds);
  g_free(self->path);
  g_byte_array_unref(self->partial);
  g_free(self);
}

static void
follow_switch(ArEventsFollower *self, const char *path, goffset offset)
{
  char *copy = g_strdup(path); /* path may be self->path itself */
  g_free(self->path);
  self->path = copy;
  self->offset = offset;
  /* A fragment left in the previous file will never be completed. */
  g_byte_array_set_size(self->partial, 0);
  self->skip_line = FALSE;
}

static gboolean
follow_read_file(ArEventsFollower *self, GPtrArray *out, GError **error)
{
  g_auto(ArFd) fd = open(self->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? TRUE
                           : ar_set_error_errno(error, errno, _("Cannot open %s"), self->path);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return ar_set_error_errno(error, errno, _("Cannot read %s"), self->path);
  if (st.st_size < self->offset) /* truncated or replaced: start over */
    follow_switch(self, self->path, 0);
  while (self->offset < st.st_size) {
    gsize want = MIN((goffset)BLOCK_SIZE, st.st_size - self->offset);
    g_autofree char *buf = g_malloc(want);
    if (!read_at(fd, buf, want, self->offset, self->path, error))
      return FALSE;
    self->offset += want;
    const char *p = buf, *end = buf + want;
    for (const char *nl; (nl = memchr(p, '\n', end - p)) != NULL; p = nl + 1) {
      g_byte_array_append(self->partial, (const guint8 *)p, nl - p);
      const char *line = (const char *)self->partial->data;
      if (!self->skip_line && self->partial->len > 0 &&
          ar_event_line_matches(line, self->partial->len, (const char *const *)self->kinds))
        g_ptr_array_add(out, g_strndup(line, self->partial->len));
      g_byte_array_set_size(self->partial, 0);
      self->skip_line = FALSE;
    }
    g_byte_array_append(self->partial, (const guint8 *)p, end - p);
  }
  return TRUE;
}

/* The first file that sorts after the current one, or NULL. */
static const char *
newer_file(GPtrArray *files, const char *current)
{
  for (guint i = 0; i < files->len; i++)
    if (current == NULL || strcmp(files->pdata[i], current) > 0)
      return files->pdata[i];
  return NULL;
}

GPtrArray *
ar_events_follower_read(ArEventsFollower *self, GError **error)
{
  g_autoptr(GPtrArray) files = ar_events_list_files(self->log_dir, error);
  if (files == NULL)
    return NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
  if (!self->started) {
    self->started = TRUE;
    if (self->from_end && files->len > 0) {
      const char *newest = files->pdata[files->len - 1];
      struct stat st;
      goffset size = stat(newest, &st) == 0 ? st.st_size : 0;
      follow_switch(self, newest, size);
      /* Starting inside a fragment: its end is not a line of its own. */
      g_auto(ArFd) fd = open(newest, O_RDONLY | O_CLOEXEC);
      char last = '\n';
      if (fd >= 0 && size > 0 && pread(fd, &last, 1, size - 1) == 1 && last != '\n')
        self->skip_line = TRUE;
    }
  }
  if (self->path == NULL) {
    const char *first = newer_file(files, NULL);
    if (first == NULL)
      return g_steal_pointer(&out);
    follow_switch(self, first, 0);
  }
  for (;;) {
    if (!follow_read_file(self, out, error))
      return NULL;
    const char *next = newer_file(files, self->path);
    if (next == NULL)
      break;
    follow_switch(self, next, 0);
  }
  return g_steal_pointer(&out);
}
