/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

#include "ar-cleanup.h"

G_BEGIN_DECLS

#define AR_ERROR (ar_error_quark())
GQuark ar_error_quark(void);

/* Domain errors. Each maps to one named D-Bus error
 * (org.agentrunner.Error.<Name>) at the bus edge. */
typedef enum {
  AR_ERROR_FAILED,
  AR_ERROR_INVALID_ARGS,
  AR_ERROR_CONFIG,
  AR_ERROR_NOT_RUNNING,
  AR_ERROR_BUSY,
  AR_ERROR_LOCKED,
  AR_ERROR_NOT_FOUND,
  AR_ERROR_GIT,
  AR_ERROR_ACCESS_DENIED,
} ArErrorCode;

/* Write a file so that readers see the old or the new content, never a
 * mix: temporary file in the same directory, fsync, rename, fsync dir. */
gboolean ar_write_file_atomic(const char *path, const char *data, gssize len, GError **error);
/* The same with the new file's mode (0600 for what lives in log_dir). */
gboolean ar_write_file_atomic_mode(const char *path, const char *data, gssize len, int mode,
                                   GError **error);

/* UTC timestamp as the events file wants it: 2026-05-17T02:13:44.123Z */
char *ar_utc_iso_ms(gint64 realtime_us);

/* Project names go into bus names, unit names and ssh commands. */
gboolean ar_project_name_valid(const char *name);

/* Levenshtein distance, for "did you mean ...?" hints. */
guint ar_edit_distance(const char *a, const char *b);

/* Human durations: "4m12s", "2h05m", "35s". */
char *ar_format_duration(gint64 seconds);

/* Set an error from errno with a prefix: "open /x: No such file". */
gboolean ar_set_error_errno(GError **error, int errsv, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* The locale from the environment and the project's message catalog
 * (UTF-8): the first call of every program's main(). */
void ar_i18n_init(void);

/* Read a file that must be a regular one of at most max_bytes: a FIFO
 * would block the reader forever, a symlink to /dev/zero would fill
 * memory. Errors in G_FILE_ERROR (NOENT when missing, INVAL otherwise),
 * their message naming the path and what it is. */
char *ar_read_regular_file(const char *path, gsize max_bytes, gsize *len, GError **error);

/* The first executable regular file named prog in the directories of the
 * colon-separated search_path (empty entries skipped), or NULL. */
char *ar_find_in_path(const char *prog, const char *search_path);

/* Where the installed data and helper programs are: the configured prefix,
 * or the source/build tree when the program runs from its build directory
 * (so `./build/src/client/agent-runner` works before `meson install`).
 * AGENT_RUNNER_PRESETS_DIR, AGENT_RUNNER_DAEMON and AGENT_RUNNER_MONITOR
 * override them. */
const char *ar_presets_dir(void);
const char *ar_daemon_path(void);
const char *ar_monitor_path(void);
/* The full client with the git verbs (agent-runner-vcs in libexecdir, see
 * src/client/arc-vcs-exec.c); AGENT_RUNNER_VCS_HELPER overrides it. */
const char *ar_vcs_helper_path(void);

/* The sd-event accuracy for a timer someone waits on (restart delay,
 * back-off, round timeouts): 1 % of the wait, at most 10 ms. 0 would mean
 * sd-event's default of 250 ms (a 1 s delay became 1.25 s); the minimum
 * of 1 µs still lets the kernel coalesce. Timers nobody waits on (the
 * watchdog ping, which sd-event schedules itself between 1/2 and 3/4 of
 * its period) keep their slack. */
static inline guint64
ar_timer_accuracy_us(guint64 wait_us)
{
  return CLAMP(wait_us / 100, 1, 10000);
}

G_END_DECLS
