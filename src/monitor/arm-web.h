/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The monitor's web page: a libsoup-3.0 server on the monitor's
 * loop, fed by the same signals the detectors see.
 *
 *   arm-glib-loop.c  sd-event hosted in a GSource, so one GMainLoop runs
 *                    both the bus (sd-bus on sd-event) and libsoup
 *   arm-web-model.c  per-project view: state, strip of rounds, usage,
 *                    cost, hourly chart, narrative; JSON and HTML snapshots
 *   arm-http.c       the server: token, Host/Origin/CSRF checks, CSP,
 *                    bounds, the page, SSE with Last-Event-ID, actions */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-event.h>

G_BEGIN_DECLS

typedef struct ArmMonitor ArmMonitor;
typedef struct ArmProject ArmProject;
typedef struct ArmSink ArmSink;

#define ARM_WEB_STRIP        50  /* rounds in the strip */
#define ARM_WEB_CHART_HOURS  72  /* hours in the chart */
#define ARM_WEB_MAX_CLIENTS  256 /* open EventSources; more get 503 */
#define ARM_WEB_RING         512 /* SSE messages kept for Last-Event-ID */
#define ARM_WEB_MAX_BODY     4096
#define ARM_WEB_MAX_BACKLOG  (1024 * 1024) /* unsent SSE bytes before a client is dropped */
#define ARM_WEB_DEFAULT_PORT 8765

/* ---- arm-glib-loop.c ---- */
/* Runs sd-event inside the default GMainContext until sd_event_exit(). */
int arm_glib_loop_run(sd_event *event);
/* Let the web's pending writes go out before the next bus message. */
void arm_glib_loop_yield(void);

/* ---- arm-web-model.c ---- */
typedef struct ArmWebModel ArmWebModel;
ArmWebModel *arm_web_model_new(void);
void arm_web_model_free(ArmWebModel *m);
/* One event of a project (replayed or live). */
void arm_web_model_event(ArmWebModel *m, ArmProject *p, const char *kind, JsonObject *o);
/* The project's view as a JSON object (new string). */
char *arm_web_model_project_json(ArmWebModel *m, ArmProject *p);
/* The same view as a JSON object node (the server diffs its members). */
JsonNode *arm_web_model_project_node(ArmWebModel *m, ArmProject *p);
/* Every project as escaped HTML cards (the page without JavaScript). */
char *arm_web_model_html(ArmWebModel *m, ArmMonitor *mon);
/* The narrative of a project rendered to sanitized HTML (NULL: none). */
char *arm_web_narrative_html(ArmProject *p);
/* The monitor's projects sorted by name (container only). */
GPtrArray *arm_web_sorted_projects(ArmMonitor *mon);
/* Escape text for HTML element content and attribute values. */
char *arm_web_escape(const char *text);

/* ---- arm-http.c ---- */
typedef struct ArmWeb ArmWeb;
/* listen: "ADDR:PORT" or NULL (127.0.0.1:ARM_WEB_DEFAULT_PORT; port 0 picks one). */
ArmWeb *arm_web_new(ArmMonitor *mon, const char *listen, GError **error);
void arm_web_free(ArmWeb *w);
/* The page as an output (data: the ArmWeb): events feed the model and
 * the streams, a changed project goes out as a patch. */
extern const ArmSink arm_web_sink;
/* ---- arm-web-settings.c ---- */
/* monitor.toml's [monitor] http for the acting monitor (after arm_bus_start);
 * FALSE: the file is wrong (FILE:LINE:COL in error). */
gboolean arm_web_settings_apply(ArmMonitor *mon, GError **error);

/* Where the token and URL files live ($XDG_RUNTIME_DIR/agent-runner). */
char *arm_web_runtime_dir(void);

G_END_DECLS
