/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-leftovers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "ar-json.h"
#include "ar-redact.h"
#include "ar-util.h"
#include "ard-cgroup.h"
#include "ard-reap.h"

/* Rescans after the KILL pass: a leftover may fork while it is being
 * ended; a bounded number of passes catches that without looping on a
 * fork bomb forever. */
#define KILL_PASSES 4

char *
ard_leftovers_new_token(void)
{
  g_autoptr(GString) s = g_string_sized_new(33);
  for (int i = 0; i < 4; i++)
    g_string_append_printf(s, "%08x", g_random_int());
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static char *
read_boot_id(void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents("/proc/sys/kernel/random/boot_id", &text, NULL, NULL))
    return g_strdup("");
  return g_strdup(g_strstrip(text));
}

JsonNode *
ard_leftovers_record(guint round_num, pid_t agent_pid, const char *token)
{
  g_auto(ArFd) proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char name[16];
  g_snprintf(name, sizeof name, "%d", (int)agent_pid);
  ArdProcStat st = { 0 };
  if (proc < 0 || !ard_reap_read_stat(proc, name, &st))
    return NULL;
  g_autofree char *boot = read_boot_id();
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  ar_json_add_int(b, "round_num", round_num);
  ar_json_add_int(b, "session", agent_pid);
  ar_json_add_int(b, "agent_start_ticks", (gint64)st.start_ticks);
  ar_json_add_str(b, "boot_id", boot);
  ar_json_add_str(b, "token", token);
  json_builder_end_object(b);
  return json_builder_get_root(b);
}

/* Does /proc/NAME/environ hold needle ("AGENT_RUNNER_ROUND_ID=<token>")
 * as a whole entry? Unreadable (other users' processes) means no. */
static gboolean
environ_has(int proc_fd, const char *name, const char *needle)
{
  char path[64];
  g_snprintf(path, sizeof path, "%s/environ", name);
  g_auto(ArFd) fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  g_autoptr(GString) env = g_string_new(NULL);
  char buf[8192];
  ssize_t n;
  /* Environments are small; a cap keeps a hostile one from costing much. */
  while (env->len < (1 << 20) && (n = read(fd, buf, sizeof buf)) > 0)
    g_string_append_len(env, buf, n);
  gsize nlen = strlen(needle);
  for (gsize off = 0; off < env->len;) {
    const char *entry = env->str + off;
    gsize elen = strnlen(entry, env->len - off);
    if (elen == nlen && memcmp(entry, needle, nlen) == 0)
      return TRUE;
    off += elen + 1;
  }
  return FALSE;
}

/* This process and its ancestors: never ours to kill, whatever they carry
 * (the daemon started from a shell that an agent opened, say). */
static GHashTable *
self_and_ancestors(int proc_fd)
{
  GHashTable *set = g_hash_table_new(NULL, NULL);
  pid_t p = getpid();
  for (guint depth = 0; p > 0 && depth < 4096; depth++) {
    g_hash_table_add(set, GINT_TO_POINTER(p));
    char name[16];
    g_snprintf(name, sizeof name, "%d", (int)p);
    ArdProcStat st = { 0 };
    if (!ard_reap_read_stat(proc_fd, name, &st))
      break;
    p = st.ppid;
  }
  return set;
}

GArray *
ard_leftovers_find(JsonObject *record)
{
  GArray *out = g_array_new(FALSE, FALSE, sizeof(pid_t));
  g_autofree char *boot = read_boot_id();
  const char *rec_boot = ar_json_str(record, "boot_id");
  if (!rec_boot || g_strcmp0(rec_boot, boot) != 0)
    return out; /* rebooted since: nothing of that round can be alive */
  pid_t sid = (pid_t)ar_json_int(record, "session", NULL);
  guint64 start_ticks = (guint64)ar_json_int(record, "agent_start_ticks", NULL);
  const char *token = ar_json_str(record, "token");
  g_autofree char *needle =
      token && *token ? g_strdup_printf("%s=%s", ARD_ROUND_ID_ENV, token) : NULL;
  DIR *d = opendir("/proc");
  if (!d)
    return out;
  int proc_fd = dirfd(d);
  g_autoptr(GHashTable) mine = self_and_ancestors(proc_fd);
  /* A session id cannot be handed out again while any process still uses
   * it; but once the whole session is gone the number can come back as
   * someone else's session. A live leader with another start time is that
   * case: then only the token tells. */
  gboolean session_valid = sid > 1;
  if (session_valid) {
    char name[16];
    g_snprintf(name, sizeof name, "%d", (int)sid);
    ArdProcStat leader = { 0 };
    if (ard_reap_read_stat(proc_fd, name, &leader) && leader.start_ticks != start_ticks)
      session_valid = FALSE;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!g_ascii_isdigit(e->d_name[0]))
      continue;
    pid_t pid = (pid_t)atoi(e->d_name);
    if (g_hash_table_contains(mine, GINT_TO_POINTER(pid)))
      continue;
    ArdProcStat st = { 0 };
    if (!ard_reap_read_stat(proc_fd, e->d_name, &st))
      continue;
    if (st.state == 'Z' || st.state == 'X' || st.state == 'x')
      continue;
    /* Older than the agent: cannot be anything the round started. */
    if (st.start_ticks < start_ticks)
      continue;
    gboolean in_session = session_valid && (st.session == sid || st.pgrp == sid);
    if (in_session || (needle && environ_has(proc_fd, e->d_name, needle)))
      g_array_append_val(out, pid);
  }
  closedir(d);
  return out;
}

JsonNode *
ard_leftovers_describe(GArray *pids)
{
  g_autoptr(JsonArray) list = json_array_new();
  for (guint i = 0; i < pids->len && i < ARD_LEFTOVERS_LIST_MAX; i++) {
    pid_t pid = g_array_index(pids, pid_t, i);
    g_autofree char *name = ard_reap_proc_name(pid);
    g_autofree char *cmdline = ard_reap_proc_cmdline(pid);
    /* Command lines can carry secrets (tokens in argv): redacted, cut. */
    g_autofree char *valid = g_utf8_make_valid(cmdline ? cmdline : "", -1);
    g_autofree char *clean = ar_redact_truncate(valid, ARD_LEFTOVERS_CMDLINE_MAX);
    JsonObject *o = json_object_new();
    json_object_set_int_member(o, "pid", pid);
    json_object_set_string_member(o, "name", name);
    json_object_set_string_member(o, "cmdline", clean);
    json_array_add_object_element(list, o);
  }
  return json_node_init_array(json_node_alloc(), list);
}

/* Signal each pid through a pidfd opened first, so a pid recycled between
 * the scan and the signal is never hit; keep the pidfds to wait on. */
static void
signal_all(GArray *pids, int sig, GArray *pidfds)
{
  for (guint i = 0; i < pids->len; i++) {
    int fd = pidfd_open(g_array_index(pids, pid_t, i), 0);
    if (fd < 0)
      continue;
    (void)pidfd_send_signal(fd, sig, NULL, 0);
    if (pidfds)
      g_array_append_val(pidfds, fd);
    else
      close(fd);
  }
}

/* Wait until every pidfd is readable (its process exited) or the time is
 * up. TRUE when all exited. */
static gboolean
wait_all(GArray *pidfds, guint64 usec)
{
  gint64 deadline = g_get_monotonic_time() + (gint64)usec;
  for (guint i = 0; i < pidfds->len; i++) {
    struct pollfd pfd = { .fd = g_array_index(pidfds, int, i), .events = POLLIN };
    for (;;) {
      gint64 left = deadline - g_get_monotonic_time();
      if (left <= 0)
        return FALSE;
      int r = poll(&pfd, 1, (int)MAX(left / 1000, 1));
      if (r > 0)
        break;
      if (r < 0 && errno != EINTR)
        break;
    }
  }
  return TRUE;
}

static void
close_all(GArray *pidfds)
{
  for (guint i = 0; i < pidfds->len; i++)
    close(g_array_index(pidfds, int, i));
  g_array_set_size(pidfds, 0);
}

JsonNode *
ard_leftovers_kill(JsonObject *record, guint64 grace_usec, guint *count)
{
  *count = 0;
  g_autoptr(GArray) pids = ard_leftovers_find(record);
  /* The round's own cgroup (ard-cgroup.h) holds also what left both the
   * session and the token behind: counted, and killed at the end. */
  const char *cgroup = ar_json_str(record, "cgroup");
  if (cgroup) {
    g_autoptr(GArray) in_cgroup = ard_cgroup_pids(cgroup);
    for (guint i = 0; i < in_cgroup->len; i++) {
      pid_t pid = g_array_index(in_cgroup, pid_t, i);
      gboolean known = FALSE;
      for (guint j = 0; j < pids->len && !known; j++)
        known = g_array_index(pids, pid_t, j) == pid;
      if (!known)
        g_array_append_val(pids, pid);
    }
  }
  if (pids->len == 0) {
    if (cgroup)
      (void)ard_cgroup_kill_remove(cgroup, G_USEC_PER_SEC);
    return NULL;
  }
  *count = pids->len;
  JsonNode *described = ard_leftovers_describe(pids);
  g_autoptr(GArray) pidfds = g_array_new(FALSE, FALSE, sizeof(int));
  signal_all(pids, SIGTERM, pidfds);
  gboolean all_gone = wait_all(pidfds, grace_usec);
  close_all(pidfds);
  for (guint pass = 0; !all_gone && pass < KILL_PASSES; pass++) {
    g_autoptr(GArray) rest = ard_leftovers_find(record);
    if (rest->len == 0)
      break;
    signal_all(rest, SIGKILL, pidfds);
    all_gone = wait_all(pidfds, G_USEC_PER_SEC);
    close_all(pidfds);
  }
  /* Whatever forked during the TERM grace and is still there. */
  g_autoptr(GArray) late = ard_leftovers_find(record);
  if (late->len > 0) {
    signal_all(late, SIGKILL, pidfds);
    (void)wait_all(pidfds, G_USEC_PER_SEC);
    close_all(pidfds);
  }
  if (cgroup)
    (void)ard_cgroup_kill_remove(cgroup, G_USEC_PER_SEC);
  return described;
}

void
ard_leftovers_end(JsonNode *record, guint64 grace_usec, ArEmitter *emitter)
{
  if (!record || !JSON_NODE_HOLDS_OBJECT(record))
    return;
  JsonObject *o = json_node_get_object(record);
  guint count = 0;
  g_autoptr(JsonNode) list = ard_leftovers_kill(o, grace_usec, &count);
  if (count == 0)
    return;
  ar_emit(emitter, "round_leftovers_killed",
          AR_EV_I("round_num", ar_json_int(o, "round_num", NULL)), AR_EV_I("count", count),
          AR_EV_N("processes", list), AR_EV_B("after_restart", TRUE), NULL);
}
