/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* agent-runner-monitor: one witness per bus. Its files call one way
 * only, down:
 *
 *   arm-main.c    arguments, the loop, and the wiring: makes the inputs
 *                 and the outputs and registers each output as a sink
 *   inputs        arm-remote.c (hosts over ssh) over arm-bus.c (the bus
 *                 glue: names, Event signals, Peek, MonitorAlert) and
 *                 arm-health.c (host samples); they feed the model
 *   outputs       arm-console.c (foreground lines, journal entries),
 *                 arm-notify.c (desktop), arm-hooks.c ([hooks] detector),
 *                 arm-http.c over arm-web-model.c (the page); beside the
 *                 inputs, neither calls the other
 *   model         arm-project.c (per-project state from the events) over
 *                 arm-alerts.c (detector answers -> alert state, once per
 *                 transition) over arm-detectors.c (the table, pure
 *                 functions) and arm-sinks.c (the registered sinks)
 *
 * The model names no output: it hands events, alerts and changes to every
 * registered sink (ArmSink). Where an output must act, it is given a narrow
 * function at registration (the hooks' Peek) or asks the model where the
 * project is (arm_project_bus: the page's Stop), never calls up into the
 * bus glue. The loop is sd-event. */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "ar-config.h"
#include "ar-events.h"
#include "arm-web.h"

G_BEGIN_DECLS

#define ARM_BUS_NAME      "org.agentrunner.Monitor1"
#define ARM_HOST_DETECTOR "remote_unreachable" /* a --host bus out of reach too long */
#define ARM_EXIT_WINDOW   10                   /* agent exits the rate detectors look at */
#define ARM_SHORT_EXIT_S  60.0                 /* a failing exit shorter than this is "short" */
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

/* An alert outside the table (a detector hook's): its severity is its own. */
typedef struct {
  gboolean active;
  char *message;
  ArmSeverity severity;
} ArmNamedAlert;

/* The daemon's own stops, kept in ArmProject.immediate[]. */
typedef enum {
  ARM_IMM_CRASH,
  ARM_IMM_AUTH,
  ARM_IMM_QUOTA,
  ARM_IMM_CONFIG,
} ArmImmediate;

typedef struct ArmMonitor ArmMonitor;
typedef struct ArmProject ArmProject;
typedef struct ArmHost ArmHost;

/* A watched bus of another host (--host): what the bus glue, the model
 * and the page read of it. Its connection's life is arm-remote.c's. */
struct ArmHost {
  ArmMonitor *mon;
  char *spec;           /* [USER@]HOST[:PORT] as given */
  sd_bus *bus;          /* NULL while the host is out of reach */
  gboolean has_monitor; /* an acting monitor runs on the host: it records the alerts */
  char *alert_message;  /* remote_unreachable's while that alert is active, else NULL */
  /* ListNames answered (names) or failed (NULL, why). */
  void (*listed)(ArmHost *h, char **names, const char *why);
};

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

  gboolean peek_pending;   /* start-up Peek asked, not answered yet */
  guint peek_serial;       /* which Peek call is the current one */
  GPtrArray *held;         /* "kind\nline" of Event signals received meanwhile */
  GHashTable *start_lines; /* lines replayed at start-up, until a new signal */
  ArmAlertState alerts[ARM_MAX_DETECTORS];
  GHashTable *named_alerts; /* alerts by name ([hooks] detectors): name -> ArmNamedAlert */
  gboolean started_emitted; /* monitor_started is out */

  /* where it is (arm-remote.c) */
  char *key;            /* in mon->projects: bus_name, or HOST/bus_name */
  char *host;           /* the --host spec of a remote project, NULL: local */
  ArmHost *remote;      /* its host's bus, NULL: local */
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

/* ---- what hears of the model: the outputs (arm-sinks.c) -------------------- */

/* One alert transition, as every output sees it. */
typedef struct {
  const char *detector;
  ArmSeverity severity;
  gboolean active;         /* emitted (TRUE) or resolved */
  const char *message;     /* never NULL */
  const char *auto_action; /* "stop_service", or NULL */
} ArmAlert;

/* What an output wants to hear of; any member may be NULL. data is the
 * output's own, given at registration. */
typedef struct ArmSink {
  /* An event of a project: live, or replayed at start-up (p->replaying). */
  void (*event)(gpointer data, ArmProject *p, const char *kind, const char *json_line,
                JsonObject *o);
  /* A line for the foreground stream alone (who: a project or a host):
   * the monitor's own events, and an event replayed at start-up that then
   * came live as well. */
  void (*line)(gpointer data, const char *who, const char *kind, const char *json_line);
  /* A detector's condition changed (built-in or named). */
  void (*alert)(gpointer data, ArmProject *p, const ArmAlert *a);
  /* A host's outage (remote_unreachable) alerts or resolves. */
  void (*host_alert)(gpointer data, const char *host, gboolean active, const char *message);
  /* Something the page shows of the project changed. */
  void (*changed)(gpointer data, ArmProject *p);
  /* The project was judged on fresh figures (start-up replay done, a host
   * sample): the moment for the detector hooks. */
  void (*judged)(gpointer data, ArmProject *p);
} ArmSink;

/* In the order they were added, which is the order each hears of a thing. */
void arm_monitor_add_sink(ArmMonitor *mon, const ArmSink *sink, gpointer data);
void arm_monitor_clear_sinks(ArmMonitor *mon);
void arm_sinks_event(ArmProject *p, const char *kind, const char *json_line, JsonObject *o);
void arm_sinks_line(ArmMonitor *mon, const char *who, const char *kind, const char *json_line);
void arm_sinks_alert(ArmProject *p, const ArmAlert *a);
void arm_sinks_host_alert(ArmMonitor *mon, const char *host, gboolean active, const char *message);
void arm_sinks_changed(ArmProject *p);
void arm_sinks_judged(ArmProject *p);

/* ---- the monitor (arm-main.c) ------------------------------------------ */

struct ArmMonitor {
  ArmOptions opts;
  sd_event *event;
  sd_bus *bus;          /* the watched bus */
  gboolean acting;      /* owns ARM_BUS_NAME: records alerts, stops, notifies */
  GHashTable *projects; /* bus name -> ArmProject* */
  GArray *sinks;        /* what hears of the model (arm-sinks.c) */
  struct ArmHealth *health;
  GPtrArray *remotes; /* ArmRemote*, one per --host */
  /* The outputs; arm-main.c makes them and registers each as a sink,
   * the other layers never name them. */
  struct ArmConsole *console;
  struct ArmNotify *notify;
  struct ArmHooks *hooks;
  struct ArmWeb *web; /* NULL without --http */
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
/* The bus the project's daemon is on; NULL while its host is out of reach. */
sd_bus *arm_project_bus(ArmProject *p);

/* ---- arm-alerts.c ------------------------------------------------------- */

/* Re-run the detectors, hand each changed answer to the sinks once, and
 * re-arm the deadline timer. */
void arm_alerts_evaluate(ArmProject *p);
/* An alert by name (a detector hook's answer), once per transition:
 * auto-stop only when stop_allowed (the hook asked for stop_service) and
 * auto_stop_on names it. */
void arm_alerts_set_named(ArmProject *p, const char *name, ArmSeverity severity, gboolean active,
                          const char *message, gboolean stop_allowed);
/* The active named alerts of the project, by name. */
typedef void (*ArmAlertFunc)(const char *detector, ArmSeverity severity, const char *message,
                             gpointer data);
void arm_alerts_foreach_named(ArmProject *p, ArmAlertFunc func, gpointer data);

/* ---- arm-bus.c ---------------------------------------------------------- */

gboolean arm_bus_start(ArmMonitor *mon, GError **error);
void arm_bus_stop(ArmMonitor *mon);
/* Follow the projects on a remote host's bus (connected, not yet
 * answering): NameOwnerChanged, then ListNames; the answer or its failure
 * goes to h->listed. */
void arm_bus_follow_remote(ArmHost *h);
/* The acting monitor's record of its alerts: MonitorAlert on the
 * project's daemon, which writes them into the project's events and, for
 * stop_service, stops for good. data: unused. */
extern const ArmSink arm_bus_alert_sink;

/* Peek (no transcript) on the project's daemon; cb gets the document, or
 * NULL when the call failed. FALSE when it could not be sent. */
typedef void (*ArmPeekFunc)(ArmProject *p, const char *peek_json, guint serial);
gboolean arm_bus_peek(ArmProject *p, ArmPeekFunc cb, guint serial);
/* How an output asks for a Peek (arm_bus_peek, given at registration). */
typedef gboolean (*ArmPeekCall)(ArmProject *p, ArmPeekFunc cb, guint serial);

/* ---- arm-hooks.c -------------------------------------------------------- */

typedef struct ArmHooks ArmHooks;
/* The acting monitor's [hooks] detector runner; peek fetches the state
 * each run hands the hooks. Register it with arm_hooks_sink. */
ArmHooks *arm_hooks_new(ArmPeekCall peek);
void arm_hooks_free(ArmHooks *h);
extern const ArmSink arm_hooks_sink;
/* agent-runner-monitor --run-detector-hooks CONFIG: the helper. */
int arm_hooks_helper_main(const char *config_path, gboolean journal);

/* ---- arm-remote.c ------------------------------------------------------- */

/* Watch --host's buses: connect, and reconnect with back-off; an outage
 * shorter than --remote-tolerance is a blip (journal only), a longer one
 * alerts once and resolves on reconnect. */
void arm_remote_start(ArmMonitor *mon);
void arm_remote_stop(ArmMonitor *mon);

/* ---- arm-console.c ------------------------------------------------------ */

/* The monitor's own lines: the foreground output (--mode, --json) and
 * its journal entries of each alert. */
typedef struct ArmConsole ArmConsole;
ArmConsole *arm_console_new(ArmMonitor *mon);
void arm_console_free(ArmConsole *c);
extern const ArmSink arm_console_sink;

/* ---- arm-notify.c ------------------------------------------------------- */

typedef struct ArmNotify ArmNotify;
ArmNotify *arm_notify_new(ArmMonitor *mon);
void arm_notify_free(ArmNotify *n);
extern const ArmSink arm_notify_sink;

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
/* Hears of a reloaded config (data: unused): a fresh sample before it is
 * judged. */
extern const ArmSink arm_health_sink;

G_END_DECLS
