/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-serialize.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "ar-cleanup.h"
#include "ar-json.h"
#include "ar-util.h"

/* A hand-over document is a few hundred bytes; anything far larger is not
 * one of ours. */
#define HANDOVER_MAX_BYTES (64 * 1024)

void
ard_handover_free(ArdHandover *h)
{
  if (!h)
    return;
  g_free(h->from_version);
  g_free(h->to_version);
  g_free(h->config_path);
  g_free(h->exe_path);
  g_free(h->run_state);
  g_free(h->rollback_reason);
  if (h->round)
    json_node_unref(h->round);
  g_free(h);
}

gboolean
ard_handover_keep_fd(int fd, gboolean keep)
{
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0)
    return FALSE;
  flags = keep ? (flags & ~FD_CLOEXEC) : (flags | FD_CLOEXEC);
  return fcntl(fd, F_SETFD, flags) == 0;
}

int
ard_handover_write(const ArdHandover *h, GError **error)
{
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_int(b, "schema", h->round ? 2 : 1);
  ar_json_add_str(b, "from_version", h->from_version);
  ar_json_add_str(b, "to_version", h->to_version ? h->to_version : "");
  ar_json_add_str(b, "config_path", h->config_path);
  ar_json_add_int(b, "started_mono_us", h->started_mono_us);
  ar_json_add_int(b, "lock_fd", h->lock_fd);
  ar_json_add_int(b, "exe_fd", h->exe_fd);
  ar_json_add_str(b, "exe_path", h->exe_path ? h->exe_path : "");
  ar_json_add_int(b, "rounds_completed", h->rounds_completed);
  ar_json_add_int(b, "max_rounds", h->max_rounds);
  ar_json_add_int(b, "once", h->once ? 1 : 0);
  ar_json_add_str(b, "run_state", h->run_state ? h->run_state : "");
  ar_json_add_int(b, "next_round_at_us", h->next_round_at_us);
  ar_json_add_int(b, "wait_factor", h->wait_factor);
  if (h->round) {
    json_builder_set_member_name(b, "round");
    json_builder_add_value(b, json_node_copy(h->round));
  }
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, FALSE);
  gsize len = strlen(text);

  g_auto(ArFd) fd = memfd_create("agent-runner-handover", MFD_CLOEXEC);
  if (fd < 0) {
    ar_set_error_errno(error, errno, "memfd_create");
    return -1;
  }
  gsize off = 0;
  while (off < len) {
    ssize_t n = write(fd, text + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ar_set_error_errno(error, n < 0 ? errno : EIO, _("cannot write the hand-over state"));
      return -1;
    }
    off += (gsize)n;
  }
  return g_steal_fd(&fd);
}

static gboolean
fd_is_open(gint64 fd)
{
  return fd > 2 && fd < G_MAXINT && fcntl((int)fd, F_GETFD) >= 0;
}

ArdHandover *
ard_handover_read(int fd, gboolean check_fds, GError **error)
{
  struct stat st;
  if (fstat(fd, &st) < 0) {
    ar_set_error_errno(error, errno, _("--deserialize %d: not an open file descriptor"), fd);
    return NULL;
  }
  if (st.st_size <= 0 || st.st_size > HANDOVER_MAX_BYTES) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("--deserialize %d: not a hand-over document (%jd bytes)"), fd,
                (intmax_t)st.st_size);
    return NULL;
  }
  g_autofree char *text = g_malloc0((gsize)st.st_size + 1);
  gsize off = 0;
  while (off < (gsize)st.st_size) {
    ssize_t n = pread(fd, text + off, (gsize)st.st_size - off, (off_t)off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ar_set_error_errno(error, n < 0 ? errno : EIO, _("--deserialize %d: cannot read"), fd);
      return NULL;
    }
    off += (gsize)n;
  }
  g_autoptr(JsonParser) parser = json_parser_new();
  if (!json_parser_load_from_data(parser, text, (gssize)off, error))
    return NULL;
  JsonNode *root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("--deserialize %d: the hand-over document is not a JSON object"), fd);
    return NULL;
  }
  JsonObject *o = json_node_get_object(root);
  g_autoptr(ArdHandover) h = g_new0(ArdHandover, 1);
  h->schema = (int)json_object_get_int_member_with_default(o, "schema", 0);
  if (h->schema < 1 || h->schema > ARD_HANDOVER_SCHEMA) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("hand-over schema %d is not understood by this version (reads up to %d)"),
                h->schema, ARD_HANDOVER_SCHEMA);
    return NULL;
  }
  h->from_version = g_strdup(json_object_get_string_member_with_default(o, "from_version", ""));
  h->to_version = g_strdup(json_object_get_string_member_with_default(o, "to_version", ""));
  h->config_path = g_strdup(json_object_get_string_member_with_default(o, "config_path", ""));
  h->exe_path = g_strdup(json_object_get_string_member_with_default(o, "exe_path", ""));
  h->run_state = g_strdup(json_object_get_string_member_with_default(o, "run_state", ""));
  h->started_mono_us = json_object_get_int_member_with_default(o, "started_mono_us", 0);
  gint64 lock_fd = json_object_get_int_member_with_default(o, "lock_fd", -1);
  gint64 exe_fd = json_object_get_int_member_with_default(o, "exe_fd", -1);
  h->rounds_completed = (guint)json_object_get_int_member_with_default(o, "rounds_completed", 0);
  h->max_rounds = (guint)json_object_get_int_member_with_default(o, "max_rounds", 0);
  h->once = json_object_get_int_member_with_default(o, "once", 0) != 0;
  h->next_round_at_us = json_object_get_int_member_with_default(o, "next_round_at_us", 0);
  h->wait_factor = (guint)json_object_get_int_member_with_default(o, "wait_factor", 1);
  JsonNode *round = json_object_get_member(o, "round");
  if (round && JSON_NODE_HOLDS_OBJECT(round))
    h->round = json_node_copy(round);
  if (!*h->config_path || !*h->from_version) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the hand-over document names no config or version"));
    return NULL;
  }
  if (check_fds && !fd_is_open(lock_fd)) {
    g_set_error(error, AR_ERROR, AR_ERROR_INVALID_ARGS,
                _("the project lock (fd %" PRId64 ") did not survive the exec"), lock_fd);
    return NULL;
  }
  h->lock_fd = (int)lock_fd;
  h->exe_fd = fd_is_open(exe_fd) ? (int)exe_fd : -1;
  return g_steal_pointer(&h);
}
