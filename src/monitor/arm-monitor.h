/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* agent-runner-monitor: one witness per bus. It follows every
 * org.agentrunner.Runner1.* name (arm-bus.c), keeps per-project state from
 * their signals (arm-project.c), runs the detector table over it
 * (arm-detectors.c), turns condition changes into alerts once per
 * transition (arm-alerts.c), tells the desktop (arm-notify.c) and samples
 * the host while something runs (arm-health.c).
 *
 * The loop is sd-event; the only bus glue is arm-bus.c (sd_bus attached to
 * that loop), so a later GLib host (the web page) replaces one file. */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "ar-config.h"
#include "ar-events.h"
#include "arm-web.h"

G_BEGIN_DECLS

#define ARM_BUS_NAME      "org.agentrunner.Monitor1"
#define ARM_EXIT_WINDOW   10   /* agent exits the rate detectors look at */
#define ARM_SHORT_EXIT_S  60.0 /* a failing exit shorter than this is "short" */
#define ARM_MAX_DETECTORS 24

typedef enum {
  ARM_SEV_INFO,
  ARM_SEV_WARNING,
  ARM_SEV_CRITICAL,
} ArmSeverity;

const char *arm_severity_name(ArmSeverity sev);

typedef enum {
  ARM_OUT_ALERTS,  /* one line per alert transition */
  ARM_OUT_EVENTS,  /* every event as a JSON line, with its project */
  ARM_OUT_NARRATE, /* every event as a readable line */
  ARM_OUT_NONE,    /* the service: journal only */
} ArmOutput;

typedef struct {
  gboolean system;
  gboolean json;
  gboolean journal;
  ArmOutput output;
  guint interval_s; /* host-health sampling period */
  char *project;    /* only this project (NULL: all) */
  gboolean no_notify;
  gboolean http;      /* serve the web page (arm-http.c) */
  char *listen;       /* --listen ADDR:PORT, NULL: 127.0.0.1 */
  gboolean open;      /* --open: the page in a browser (xdg-open) */
  char *hooks_helper; /* --run-detector-hooks CONFIG (arm-hooks.c) */
  char *http_bounds;  /* --http-bounds FIRST,IDLE,RESPONSE (hidden; tests) */

  /* other hosts' buses over ssh (arm-remote.c) */
  char **hosts;             /* --host [USER@]HOST[:PORT] */
  guint remote_tolerance_s; /* --remote-tolerance: outage before a host alerts */
} ArmOptions;

/* One agent exit, as the rate detectors need it. */
typedef struct {
  guint round_num;
  gboolean timed_out;
  gboolean short_fail;
  gboolean auth_match;
  gboolean net_match;
} ArmExit;

typedef struct {
  gboolean active;
  char *message;
} ArmAlertState;

/* The daemon's own stops, kept in ArmProject.immediate[]. */
typedef enum {
  ARM_IMM_CRASH,
  ARM_IMM_AUTH,
  ARM_IMM_QUOTA,
  ARM_IMM_CONFIG,
} ArmImmediate;

typedef struct ArmMonitor ArmMonitor;
typedef struct ArmProject ArmProject;
typedef struct ArmHooks ArmHooks;
typedef struct ArmRemote ArmRemote;

struct ArmProject {
  ArmMonitor *mon;
  char *name;     /* the project; HOST/PROJECT for a remote one */
  char *bus_name; /* org.agentrunner.Runner1.<escaped> */
  char *owner;    /* unique name while on the bus, else NULL */
  ArConfig *cfg;  /* NULL until ConfigPath was read and loaded */
  char *log_dir;
  sd_bus_slot *match_slot;
  sd_event_source *timer; /* hung / stale deadline */

  /* detector inputs, kept incrementally */
  ArmExit exits[ARM_EXIT_WINDOW];
  guint n_exits; /* valid entries, newest at (head + n - 1) % W */
  guint exits_head;
  guint round_num;         /* the running round, 0 between rounds */
  char *round_phase;       /* its phase */
  gint64 round_started_us; /* realtime */
  gboolean round_orphaned; /* orphan_stashed seen in the running round */
  gboolean round_dirty;    /* dirty_detected seen in the running round */
  guint orphan_streak;
  guint orphan_last_round;
  gint64 throttled_until_s; /* epoch seconds of a rate limit, 0 none */
  char *throttle_class;
  char *throttle_agent;
  guint max_round;
  GArray *repetitive; /* guint round numbers of anomaly_repetitive_tool */
  char *repetitive_tool;
  char *repetitive_target;
  gint64 last_event_us;    /* realtime of the newest event */
  gboolean stopping_seen;  /* serve_stopping before the name went away */
  gboolean vanished;       /* the name went away without serve_stopping */
  char *immediate[4];      /* reasons of crash_loop, auth_failed, quota_exhausted, config_broken */
  char *last_head;         /* git_head after the previous round */
  gboolean seen_substrate; /* last_head is known */
  guint no_progress_streak;
  double disk_pct;     /* -1: not sampled */
  double mem_avail_mb; /* -1: not sampled */
  gboolean replaying;  /* start-up replay of Peek's recent events */

  ArEmitter *journal;      /* the monitor's own journal entries (no file), or NULL */
  gboolean peek_pending;   /* start-up Peek asked, not answered yet */
  guint peek_serial;       /* which Peek call is the current one */
  GPtrArray *held;         /* "kind\nline" of Event signals received meanwhile */
  GHashTable *start_lines; /* lines replayed at start-up, until a new signal */
  ArmAlertState alerts[ARM_MAX_DETECTORS];
  guint32 notify_id;        /* the desktop notification this project owns */
  gboolean started_emitted; /* monitor_started is out */
  ArmHooks *hooks;          /* [hooks] detector runs and alerts (arm-hooks.c), or NULL */

  /* where it is (arm-remote.c) */
  char *key;            /* in mon->projects: bus_name, or HOST/bus_name */
  char *host;           /* the --host spec of a remote project, NULL: local */
  ArmRemote *remote;    /* its host's connection, NULL: local */
  gboolean unreachable; /* its host's connection is down */
};

typedef struct ArmDetector {
  const char *name;
  ArmSeverity severity;
  /* TRUE while the condition holds; *message says why (new string). */
  gboolean (*eval)(ArmProject *p, const struct ArmDetector *d, gint64 now_us, char **message);
  /* The next realtime (µs) at which the answer may change without an
   * event (a deadline), or 0. */
  gint64 (*deadline)(ArmProject *p);
  const char *condition; /* docs: when it fires */
  const char *keys;      /* docs: the config keys it reads */
  gsize arg;             /* for a shared eval: an ArmExit field offset, an ArmImmediate */
} ArmDetector;

/* The table; docs/monitor.md shows it (tools/gen-monitor.c). */
const ArmDetector *arm_detectors(guint *n);

/* ---- the monitor (arm-main.c) ------------------------------------------ */

struct ArmMonitor {
  ArmOptions opts;
  sd_event *event;
  sd_bus *bus;          /* the watched bus */
  gboolean acting;      /* owns ARM_BUS_NAME: records alerts, stops, notifies */
  GHashTable *projects; /* bus name -> ArmProject* */
  struct ArmNotify *notify;
  struct ArmHealth *health;
  struct ArmWeb *web; /* NULL without --http */
  GPtrArray *remotes; /* ArmRemote*, one per --host */
};

/* ---- arm-project.c ------------------------------------------------------ */

ArmProject *arm_project_new(ArmMonitor *mon, const char *bus_name, const char *project);
void arm_project_free(ArmProject *p);
/* Feed one event (its events-file line). */
void arm_project_ingest(ArmProject *p, const char *kind, const char *json_line);
/* The config at path became known (ConfigPath): thresholds. */
void arm_project_set_config(ArmProject *p, const char *config_path, const char *log_dir);
/* Start-up: a Peek document (recent events, current round), NULL when
 * Peek failed; then the events held back meanwhile. */
void arm_project_load_peek(ArmProject *p, const char *peek_json);
/* TRUE for a signal that carries a line already replayed at start-up. */
gboolean arm_project_seen_at_start(ArmProject *p, const char *json_line);
/* An Event signal while Peek is pending: kept for after the replay. */
void arm_project_hold(ArmProject *p, const char *kind, const char *json_line);
/* The daemon's name appeared (owner) or went away (NULL). */
void arm_project_set_owner(ArmProject *p, const char *owner);
/* Re-run the detectors and re-arm the deadline timer. */
void arm_project_evaluate(ArmProject *p);
/* Effective thresholds */
guint arm_project_stale_threshold_s(ArmProject *p);
guint arm_project_hung_threshold_s(ArmProject *p);
guint arm_project_no_progress_rounds(ArmProject *p);

/* ---- arm-alerts.c ------------------------------------------------------- */

/* A detector's condition changed: the sinks (output, journal, the daemon's
 * events, auto-stop, desktop). */
void arm_alert_transition(ArmProject *p, const ArmDetector *d, gboolean active,
                          const char *message);
/* The same for an alert by name (a detector hook's): auto-stop only when
 * stop_allowed (the hook asked for stop_service) and auto_stop_on names it. */
void arm_alert_emit(ArmProject *p, const char *name, ArmSeverity severity, gboolean active,
                    const char *message, gboolean stop_allowed);
/* A plain event line for --mode events / narrate. */
void arm_output_event(ArmMonitor *mon, const char *project, const char *kind,
                      const char *json_line);

/* ---- arm-bus.c ---------------------------------------------------------- */

gboolean arm_bus_start(ArmMonitor *mon, GError **error);
void arm_bus_stop(ArmMonitor *mon);
/* Follow the projects on a remote host's bus (connected, not yet
 * answering): NameOwnerChanged, then ListNames; the answer or its failure
 * goes to arm_remote_listed(). */
void arm_bus_follow_remote(ArmRemote *r, sd_bus *bus);
/* The bus a project's daemon is on. */
sd_bus *arm_project_bus(ArmProject *p);
/* MonitorAlert on the project's daemon; FALSE when it is not on the bus. */
gboolean arm_bus_record_alert(ArmProject *p, const char *detector, const char *severity,
                              const char *transition, const char *message, const char *auto_action);

/* Peek (no transcript) on the project's daemon; cb gets the document, or
 * NULL when the call failed. FALSE when it could not be sent. */
typedef void (*ArmPeekFunc)(ArmProject *p, const char *peek_json, guint serial);
gboolean arm_bus_peek(ArmProject *p, ArmPeekFunc cb, guint serial);

/* ---- arm-hooks.c -------------------------------------------------------- */

/* Before the loop: remember this binary (the helper is started from it). */
void arm_hooks_init(void);
/* A round ended or a host sample was taken: run [hooks] detector. */
void arm_hooks_trigger(ArmProject *p);
void arm_hooks_free(ArmHooks *h);
/* agent-runner-monitor --run-detector-hooks CONFIG: the helper. */
int arm_hooks_helper_main(const char *config_path, gboolean journal);
/* The active alerts of the project's hook detectors, by name. */
typedef void (*ArmAlertFunc)(const char *detector, ArmSeverity severity, const char *message,
                             gpointer data);
void arm_hooks_foreach_alert(ArmProject *p, ArmAlertFunc func, gpointer data);
/* ---- arm-remote.c ------------------------------------------------------- */

/* Watch --host's buses: connect, and reconnect with back-off; an outage
 * shorter than --remote-tolerance is a blip (journal only), a longer one
 * alerts once and resolves on reconnect. */
void arm_remote_start(ArmMonitor *mon);
void arm_remote_stop(ArmMonitor *mon);
ArmMonitor *arm_remote_monitor(ArmRemote *r);
const char *arm_remote_spec(ArmRemote *r);
sd_bus *arm_remote_bus(ArmRemote *r);
/* The host's remote_unreachable message while that alert is active, else NULL. */
const char *arm_remote_alert(ArmRemote *r);
/* An acting monitor runs on the host itself: it records the alerts. */
gboolean arm_remote_has_monitor(ArmRemote *r);
/* ListNames answered (names) or failed (NULL, why). */
void arm_remote_listed(ArmRemote *r, char **names, const char *why);
/* The desktop notification the host's outage owns. */
guint32 *arm_remote_notify_id(ArmMonitor *mon, const char *key);
/* The project of a remote bus name (created on first sight). */
ArmProject *arm_remote_project(ArmRemote *r, const char *bus_name, const char *project);

/* ---- arm-notify.c ------------------------------------------------------- */

typedef struct ArmNotify ArmNotify;
ArmNotify *arm_notify_new(ArmMonitor *mon);
void arm_notify_free(ArmNotify *n);
/* Show (or replace) the project's notification. */
void arm_notify_show(ArmNotify *n, ArmProject *p, ArmSeverity sev, const char *summary,
                     const char *body);
/* The same for what key names (a project's, or a remote host's outage). */
void arm_notify_show_key(ArmNotify *n, const char *key, guint32 replaces_id, ArmSeverity sev,
                         const char *summary, const char *body);
/* Does the project's config ask for this kind ("critical", "warning",
 * "finished", "round_end")? */
gboolean arm_notify_wants(ArmProject *p, const char *what);
/* Non-alert news: finished (.agent-done, max_rounds), round ends. */
void arm_notify_event(ArmNotify *n, ArmProject *p, const char *kind, JsonObject *o);

/* ---- arm-health.c ------------------------------------------------------- */

typedef struct ArmHealth ArmHealth;
ArmHealth *arm_health_new(ArmMonitor *mon);
void arm_health_free(ArmHealth *h);
/* Something started or stopped running: arm or disarm the sampling. */
void arm_health_update(ArmHealth *h);
/* Sample every present project now. */
void arm_health_sample(ArmHealth *h);
/* Sample one project whose log_dir just became known. */
void arm_health_sample_one(ArmProject *p);

G_END_DECLS
