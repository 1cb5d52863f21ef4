/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-bus.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-names.h"
#include "ar-util.h"
#include "ard-output.h"
#include "ard-peek.h"
#include "ard-polkit.h"
#include "ard-upgrade.h"

/* The values of the changing properties as last announced; a status
 * change compares against them and announces the difference. */
typedef struct {
  const char *state;
  guint32 round_num;
  char *phase;
  guint32 agent_pid;
  guint64 round_started_at;
  gint32 last_exit_code;
  char *last_outcome;
  guint64 throttled_until;
} Props;

struct ArdBus {
  ArdLoop *loop;
  sd_bus *bus;
  sd_bus_slot *vtable_slot;
  char *name;
  gboolean system;
  char *action_manage; /* polkit action ids (ard_polkit_actions_for) */
  char *action_upgrade;
  char *action_read; /* read-transcript: Peek's log_tail on the system bus */
  ArdPeek *peek;
  Props announced;
};

/* ---- properties -------------------------------------------------------- */

static void
props_read(ArdBus *self, Props *p)
{
  const ArdStatus *st = ard_loop_get_status(self->loop);
  const ArdRoundSummary *last = g_queue_peek_tail((GQueue *)&st->recent);
  p->state = ard_run_state_to_string(st->state);
  p->round_num = ard_status_round_num(st);
  const char *phase = ard_status_phase(st);
  p->phase = g_strdup(phase ? phase : "");
  p->agent_pid = st->agent_pid > 0 ? (guint32)st->agent_pid : 0;
  p->round_started_at = st->round_started_at_us > 0 ? (guint64)st->round_started_at_us : 0;
  p->last_exit_code = last ? last->exit_code : 0;
  p->last_outcome = g_strdup(last && last->outcome ? last->outcome : "");
  p->throttled_until = st->throttled_until_us > 0 ? (guint64)st->throttled_until_us : 0;
}

static void
props_clear(Props *p)
{
  g_clear_pointer(&p->phase, g_free);
  g_clear_pointer(&p->last_outcome, g_free);
}

static int
prop_get(sd_bus *bus, const char *path, const char *interface, const char *property,
         sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  ArdBus *self = userdata;
  const ArConfig *cfg = ard_loop_get_config(self->loop);
  Props p = { 0 };
  props_read(self, &p);
  int r;
  if (g_str_equal(property, "Project"))
    r = sd_bus_message_append(reply, "s", cfg->project);
  else if (g_str_equal(property, "Version"))
    r = sd_bus_message_append(reply, "s", ard_version());
  else if (g_str_equal(property, "ConfigPath"))
    r = sd_bus_message_append(reply, "s", cfg->config_path);
  else if (g_str_equal(property, "WorkDir"))
    r = sd_bus_message_append(reply, "s", cfg->work_dir);
  else if (g_str_equal(property, "LogDir"))
    r = sd_bus_message_append(reply, "s", cfg->log_dir);
  else if (g_str_equal(property, "State"))
    r = sd_bus_message_append(reply, "s", p.state);
  else if (g_str_equal(property, "RoundNum"))
    r = sd_bus_message_append(reply, "u", p.round_num);
  else if (g_str_equal(property, "Phase"))
    r = sd_bus_message_append(reply, "s", p.phase);
  else if (g_str_equal(property, "AgentPid"))
    r = sd_bus_message_append(reply, "u", p.agent_pid);
  else if (g_str_equal(property, "RoundStartedAt"))
    r = sd_bus_message_append(reply, "t", p.round_started_at);
  else if (g_str_equal(property, "LastExitCode"))
    r = sd_bus_message_append(reply, "i", p.last_exit_code);
  else if (g_str_equal(property, "LastOutcome"))
    r = sd_bus_message_append(reply, "s", p.last_outcome);
  else if (g_str_equal(property, "ThrottledUntil"))
    r = sd_bus_message_append(reply, "t", p.throttled_until);
  else
    r = sd_bus_error_setf(error, SD_BUS_ERROR_UNKNOWN_PROPERTY, "unknown property %s", property);
  props_clear(&p);
  return r;
}

/* The one place PropertiesChanged is sent from. */
static void
announce_changes(ArdBus *self)
{
  if (!self->bus)
    return;
  Props now = { 0 };
  props_read(self, &now);
  Props *old = &self->announced;
  const char *changed[9];
  guint n = 0;
  if (g_strcmp0(now.state, old->state) != 0)
    changed[n++] = "State";
  if (now.round_num != old->round_num)
    changed[n++] = "RoundNum";
  if (g_strcmp0(now.phase, old->phase) != 0)
    changed[n++] = "Phase";
  if (now.agent_pid != old->agent_pid)
    changed[n++] = "AgentPid";
  if (now.round_started_at != old->round_started_at)
    changed[n++] = "RoundStartedAt";
  if (now.last_exit_code != old->last_exit_code)
    changed[n++] = "LastExitCode";
  if (g_strcmp0(now.last_outcome, old->last_outcome) != 0)
    changed[n++] = "LastOutcome";
  if (now.throttled_until != old->throttled_until)
    changed[n++] = "ThrottledUntil";
  changed[n] = NULL;
  props_clear(old);
  *old = now;
  if (n == 0)
    return;
  int r = sd_bus_emit_properties_changed_strv(self->bus, AR_BUS_PATH, AR_BUS_INTERFACE,
                                              (char **)changed);
  if (r < 0)
    g_debug("PropertiesChanged: %s", g_strerror(-r));
}

static void
on_status_changed(ArdLoop *loop, gpointer user_data)
{
  announce_changes(user_data);
}

/* ---- signals: the one emitter sink ------------------------------------- */

static void
bus_sink(const ArEvent *ev, gpointer user_data)
{
  ArdBus *self = user_data;
  const char *name = ev->kind->name;
  /* Each signal names its project, so one subscriber to every
   * org.agentrunner.Runner1.* name needs no Get per signal. */
  const char *project = ard_loop_get_config(self->loop)->project;
  int r = sd_bus_emit_signal(self->bus, AR_BUS_PATH, AR_BUS_INTERFACE, "Event", "sss", name,
                             ev->json_line, project);
  if (r >= 0 && g_str_equal(name, "round_start")) {
    const char *phase = ar_event_get_string(ev, "phase");
    r = sd_bus_emit_signal(self->bus, AR_BUS_PATH, AR_BUS_INTERFACE, "RoundStarted", "uss",
                           (guint32)ar_event_get_int(ev, "round_num", NULL), phase ? phase : "",
                           project);
  } else if (r >= 0 && g_str_equal(name, "round_end")) {
    const char *outcome = ar_event_get_string(ev, "outcome");
    double secs = ar_event_get_number(ev, "duration_s", NULL);
    r = sd_bus_emit_signal(self->bus, AR_BUS_PATH, AR_BUS_INTERFACE, "RoundFinished", "usits",
                           (guint32)ar_event_get_int(ev, "round_num", NULL), outcome ? outcome : "",
                           (gint32)ar_event_get_int(ev, "exit_code", NULL),
                           (guint64)(MAX(secs, 0.0) * G_USEC_PER_SEC), project);
  }
  if (r < 0)
    g_debug("signal for %s: %s", name, g_strerror(-r));
  announce_changes(self);
}

/* ---- methods ------------------------------------------------------------ */

typedef struct {
  const char *key;
  guint32 *value;
} UintOption;

/* a{sv} of unsigned integers. A gdbus or busctl user writes <2> (int32)
 * or <uint64 2> as readily as <uint32 2>: every integer type is taken when
 * its value fits in a uint32; unknown keys, other types and negative or
 * too large values are InvalidArgs. */
static int
read_uint_value(sd_bus_message *m, const char *key, guint32 *out, sd_bus_error *error)
{
  char type = 0;
  const char *contents = NULL;
  int r = sd_bus_message_peek_type(m, &type, &contents);
  if (r < 0)
    return r;
  if (!contents || strlen(contents) != 1 || !strchr("ynqiuxt", contents[0]))
    return sd_bus_error_setf(error, AR_BUS_ERROR_PREFIX "InvalidArgs",
                             _("option \"%s\" must be an integer, not of type %s"), key,
                             contents ? contents : "?");
  union {
    guint8 y;
    gint16 n;
    guint16 q;
    gint32 i;
    guint32 u;
    gint64 x;
    guint64 t;
  } v = { 0 };
  r = sd_bus_message_read(m, "v", contents, &v);
  if (r < 0)
    return r;
  gint64 value = 0;
  gboolean too_big = FALSE;
  switch (contents[0]) {
  case 'y':
    value = v.y;
    break;
  case 'n':
    value = v.n;
    break;
  case 'q':
    value = v.q;
    break;
  case 'i':
    value = v.i;
    break;
  case 'u':
    value = v.u;
    break;
  case 'x':
    value = v.x;
    break;
  default:
    too_big = v.t > G_MAXUINT32;
    value = too_big ? 0 : (gint64)v.t;
    break;
  }
  if (too_big || value < 0 || value > G_MAXUINT32)
    return sd_bus_error_setf(error, AR_BUS_ERROR_PREFIX "InvalidArgs",
                             _("option \"%s\" must be between 0 and %u"), key, G_MAXUINT32);
  *out = (guint32)value;
  return 0;
}

static int
read_uint_options(sd_bus_message *m, UintOption *opts, sd_bus_error *error)
{
  int r = sd_bus_message_enter_container(m, 'a', "{sv}");
  if (r < 0)
    return r;
  while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
    const char *key = NULL;
    r = sd_bus_message_read(m, "s", &key);
    if (r < 0)
      return r;
    UintOption *o = opts;
    while (o->key && !g_str_equal(o->key, key))
      o++;
    if (!o->key)
      return sd_bus_error_setf(error, AR_BUS_ERROR_PREFIX "InvalidArgs", _("unknown option \"%s\""),
                               key);
    r = read_uint_value(m, key, o->value, error);
    if (r < 0)
      return r;
    r = sd_bus_message_exit_container(m);
    if (r < 0)
      return r;
  }
  if (r < 0)
    return r;
  return sd_bus_message_exit_container(m);
}

static int
reply_gerror(sd_bus_message *m, const GError *error)
{
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  ar_bus_error_from_gerror(&e, error);
  return sd_bus_reply_method_error(m, &e);
}

static int
reply_ar_error(sd_bus_message *m, int code, const char *message)
{
  g_autoptr(GError) error = g_error_new_literal(AR_ERROR, code, message);
  return reply_gerror(m, error);
}

/* The mutating methods, once authorized: each reads its arguments and
 * replies. */
typedef int (*ApplyFunc)(ArdBus *self, sd_bus_message *m);

static int
apply_serve(ArdBus *self, sd_bus_message *m)
{
  g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
  guint32 max_rounds = 0;
  UintOption opts[] = { { "max_rounds", &max_rounds }, { NULL } };
  int r = read_uint_options(m, opts, &e);
  if (r < 0)
    return sd_bus_error_is_set(&e) ? sd_bus_reply_method_error(m, &e)
                                   : sd_bus_reply_method_errno(m, r, NULL);
  if (ard_loop_stop_requested(self->loop))
    return reply_ar_error(m, AR_ERROR_BUSY,
                          _("the service is stopping; start it again when it has stopped"));
  if (max_rounds > 0)
    ard_loop_set_max_rounds(self->loop, max_rounds);
  /* Reply first: ending a back-off starts the round within this call. */
  r = sd_bus_reply_method_return(m, NULL);
  ard_loop_resume_now(self->loop, "serve");
  return r;
}

static int
apply_stop(ArdBus *self, sd_bus_message *m)
{
  const char *mode = NULL;
  int r = sd_bus_message_read(m, "s", &mode);
  if (r < 0)
    return sd_bus_reply_method_errno(m, r, NULL);
  gboolean now;
  if (g_str_equal(mode, "graceful") || g_str_equal(mode, ""))
    now = FALSE;
  else if (g_str_equal(mode, "now"))
    now = TRUE;
  else
    return reply_ar_error(m, AR_ERROR_INVALID_ARGS, _("mode must be \"graceful\" or \"now\""));
  /* Reply first: the loop may exit within this iteration. */
  r = sd_bus_reply_method_return(m, NULL);
  ard_loop_request_stop(self->loop, now);
  return r;
}

static int
apply_cancel(ArdBus *self, sd_bus_message *m)
{
  if (!ard_loop_cancel_round(self->loop))
    return reply_ar_error(m, AR_ERROR_NOT_RUNNING, _("no round is running"));
  return sd_bus_reply_method_return(m, NULL);
}

static int
apply_reload(ArdBus *self, sd_bus_message *m)
{
  g_autoptr(GError) error = NULL;
  if (!ard_loop_reload(self->loop, &error))
    return reply_gerror(m, error);
  return sd_bus_reply_method_return(m, NULL);
}

static int
apply_upgrade(ArdBus *self, sd_bus_message *m)
{
  return ard_upgrade_handle(self->loop, self->bus, m);
}

/* MonitorAlert: the monitor's alerts land in the project's events through
 * the daemon, the single writer of its files. stop_service makes the stop
 * last: log_dir/.monitor-stop keeps a restarted daemon stopped until an
 * explicit start (ard-loop.c). */
static int
apply_monitor_alert(ArdBus *self, sd_bus_message *m)
{
  const char *detector = NULL, *severity = NULL, *transition = NULL, *message = NULL,
             *auto_action = NULL;
  int r =
      sd_bus_message_read(m, "sssss", &detector, &severity, &transition, &message, &auto_action);
  if (r < 0)
    return sd_bus_reply_method_errno(m, r, NULL);
  static const char *const severities[] = { "info", "warning", "critical", NULL };
  gboolean emitted = g_str_equal(transition, "emitted");
  gboolean stop = g_str_equal(auto_action, "stop_service");
  if (!*detector || !g_strv_contains(severities, severity) ||
      (!emitted && !g_str_equal(transition, "resolved")) || (!stop && *auto_action))
    return reply_ar_error(m, AR_ERROR_INVALID_ARGS,
                          _("expected a detector, a severity (info, warning, critical), "
                            "\"emitted\" or \"resolved\", a message and \"stop_service\" or \"\""));
  ArEmitter *em = ard_loop_get_emitter(self->loop);
  if (!emitted) {
    ar_emit(em, "monitor_alert_resolved", AR_EV_S("detector", detector),
            AR_EV_S("severity", severity), AR_EV_S("message", message), NULL);
    return sd_bus_reply_method_return(m, NULL);
  }
  ar_emit(em, "monitor_alert_emitted", AR_EV_S("detector", detector), AR_EV_S("severity", severity),
          AR_EV_S("message", message), AR_EV_S("auto_action", stop ? auto_action : NULL), NULL);
  if (!stop)
    return sd_bus_reply_method_return(m, NULL);
  ar_emit(em, "monitor_auto_stop_triggered", AR_EV_S("detector", detector), "host", AR_EV_NULL,
          NULL);
  g_autofree char *marker =
      g_build_filename(ard_loop_get_config(self->loop)->log_dir, ARD_MONITOR_STOP_FILE, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_file_set_contents(marker, detector, -1, &error))
    g_warning("%s", error->message);
  r = sd_bus_reply_method_return(m, NULL);
  ard_loop_request_stop(self->loop, TRUE);
  return r;
}

typedef struct {
  ArdBus *self;
  ApplyFunc apply;
} Authorized;

static void
on_authorized(sd_bus_message *m, gboolean allowed, const sd_bus_error *error, gpointer user_data)
{
  Authorized *a = user_data;
  if (allowed)
    (void)a->apply(a->self, m);
  else
    (void)sd_bus_reply_method_error(m, error);
  g_free(a);
}

static int
authorize_then(ArdBus *self, sd_bus_message *m, const char *action, ApplyFunc apply,
               sd_bus_error *error)
{
  Authorized *a = g_new0(Authorized, 1);
  a->self = self;
  a->apply = apply;
  int r = ard_polkit_check(m, action, on_authorized, a, error);
  if (r != 0)
    g_free(a);
  if (r < 0)
    return r;
  if (r > 0)
    return apply(self, m);
  return 1; /* answered when polkit answers */
}

static int
method_serve(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ArdBus *self = userdata;
  return authorize_then(self, m, self->action_manage, apply_serve, error);
}

static int
method_stop(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ArdBus *self = userdata;
  return authorize_then(self, m, self->action_manage, apply_stop, error);
}

static int
method_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ArdBus *self = userdata;
  return authorize_then(self, m, self->action_manage, apply_cancel, error);
}

static int
method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ArdBus *self = userdata;
  return authorize_then(self, m, self->action_manage, apply_reload, error);
}

static int
method_upgrade(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ArdBus *self = userdata;
  return authorize_then(self, m, self->action_upgrade, apply_upgrade, error);
}

static int
method_monitor_alert(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ArdBus *self = userdata;
  return authorize_then(self, m, self->action_manage, apply_monitor_alert, error);
}

/* Peek's reply; the message is read from its start (a polkit answer
 * comes back to it later). withheld: the caller may not read transcripts. */
static int
peek_reply(ArdBus *self, sd_bus_message *m, gboolean withheld, sd_bus_error *error)
{
  ArdPeekOptions po = { 0 };
  UintOption opts[] = {
    { "log_tail", &po.log_tail },
    { "events", &po.events },
    { "round", &po.round },
    { NULL },
  };
  int r = sd_bus_message_rewind(m, 1);
  if (r >= 0)
    r = read_uint_options(m, opts, error);
  if (r < 0)
    return r;
  po.events = MIN(po.events, ARD_PEEK_EVENTS);
  po.log_withheld = withheld;
  g_autofree char *json = ard_peek_to_json(self->peek, &po);
  return sd_bus_reply_method_return(m, "s", json);
}

static int
apply_peek_with_log(ArdBus *self, sd_bus_message *m)
{
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  int r = peek_reply(self, m, FALSE, &error);
  if (r < 0)
    return sd_bus_reply_method_errno(m, r, &error);
  return r;
}

static int
method_peek(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  ArdBus *self = userdata;
  guint log_tail = 0, events = 0, round = 0;
  UintOption opts[] = {
    { "log_tail", &log_tail },
    { "events", &events },
    { "round", &round },
    { NULL },
  };
  int r = read_uint_options(m, opts, error);
  if (r < 0)
    return r;
  /* A transcript is the agent's raw output, secrets it printed included:
   * on the system bus only the service's user, root, or whom polkit
   * allows (read-transcript) read it. The rest of Peek is for everyone. */
  if (!self->system || ard_polkit_caller_is_owner(m))
    return peek_reply(self, m, FALSE, error);
  if (log_tail == 0)
    return peek_reply(self, m, TRUE, error);
  return authorize_then(self, m, self->action_read, apply_peek_with_log, error);
}

#define CONST_PROP(name, sig) SD_BUS_PROPERTY(name, sig, prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST)
#define CHANGING_PROP(name, sig)                                                                   \
  SD_BUS_PROPERTY(name, sig, prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

static const sd_bus_vtable runner_vtable[] = {
  SD_BUS_VTABLE_START(0),
  CONST_PROP("Project", "s"),
  CONST_PROP("Version", "s"),
  CHANGING_PROP("State", "s"),
  CHANGING_PROP("RoundNum", "u"),
  CHANGING_PROP("Phase", "s"),
  CHANGING_PROP("AgentPid", "u"),
  CHANGING_PROP("RoundStartedAt", "t"),
  CHANGING_PROP("LastExitCode", "i"),
  CHANGING_PROP("LastOutcome", "s"),
  CHANGING_PROP("ThrottledUntil", "t"),
  CONST_PROP("ConfigPath", "s"),
  CONST_PROP("WorkDir", "s"),
  CONST_PROP("LogDir", "s"),
  SD_BUS_METHOD_WITH_ARGS("Serve", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT, method_serve,
                          SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("s", mode), SD_BUS_NO_RESULT, method_stop,
                          SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS("Cancel", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_cancel,
                          SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload,
                          SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS("Peek", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("s", json),
                          method_peek, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS("Upgrade", SD_BUS_ARGS("s", target, "a{sv}", options),
                          SD_BUS_RESULT("s", result_json), method_upgrade,
                          SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_ARGS(
      "MonitorAlert",
      SD_BUS_ARGS("s", detector, "s", severity, "s", transition, "s", message, "s", auto_action),
      SD_BUS_NO_RESULT, method_monitor_alert, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_SIGNAL_WITH_ARGS("RoundStarted", SD_BUS_ARGS("u", round, "s", phase, "s", project), 0),
  SD_BUS_SIGNAL_WITH_ARGS(
      "RoundFinished",
      SD_BUS_ARGS("u", round, "s", outcome, "i", exit_code, "t", duration_usec, "s", project), 0),
  SD_BUS_SIGNAL_WITH_ARGS("Event", SD_BUS_ARGS("s", kind, "s", payload_json, "s", project), 0),
  SD_BUS_VTABLE_END,
};

/* ---- setup ------------------------------------------------------------- */

static gboolean
connect_bus(ArdBus *self, GError **error)
{
  const ArConfig *cfg = ard_loop_get_config(self->loop);
  self->name = ar_bus_name_for_project(cfg->project);
  if (!self->name) {
    g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, _("project name \"%s\" cannot be a bus name"),
                cfg->project);
    return FALSE;
  }
  const char *which = self->system ? _("system bus") : _("user bus");
  int r = self->system ? sd_bus_open_system(&self->bus) : sd_bus_open_user(&self->bus);
  if (r >= 0)
    r = sd_bus_add_object_vtable(self->bus, &self->vtable_slot, AR_BUS_PATH, AR_BUS_INTERFACE,
                                 runner_vtable, self);
  if (r >= 0)
    r = sd_bus_attach_event(self->bus, ard_loop_get_event(self->loop), SD_EVENT_PRIORITY_NORMAL);
  if (r >= 0)
    r = sd_bus_request_name(self->bus, self->name, 0);
  if (r == -EEXIST) {
    g_set_error(error, AR_ERROR, AR_ERROR_LOCKED,
                _("%s is already owned on the %s: project %s is served by another "
                  "agent-runnerd"),
                self->name, which, cfg->project);
    return FALSE;
  }
  if (r < 0)
    return ar_set_error_errno(error, -r, _("cannot own %s on the %s"), self->name, which);
  ard_output_set_urgent_fd(sd_bus_get_fd(self->bus));
  return TRUE;
}

ArdBus *
ard_bus_new(ArdLoop *loop, gboolean system, GError **error)
{
  g_autoptr(ArdBus) self = g_new0(ArdBus, 1);
  self->loop = loop;
  self->system = system;
  ard_polkit_actions_for(ard_loop_get_config(loop)->project, system, &self->action_manage,
                         &self->action_upgrade);
  self->action_read = ard_polkit_action_read_for(self->action_manage);
  g_autoptr(GError) local = NULL;
  if (!connect_bus(self, &local)) {
    if (system || g_error_matches(local, AR_ERROR, AR_ERROR_LOCKED) ||
        g_error_matches(local, AR_ERROR, AR_ERROR_CONFIG)) {
      g_propagate_error(error, g_steal_pointer(&local));
      return NULL;
    }
    /* `serve` in a plain ssh session has no user bus: the loop is what
     * matters, the bus is a convenience. */
    g_warning(_("%s; running without the bus (status, stop and peek over the bus are "
                "unavailable; stop with SIGTERM)"),
              local->message);
    ard_output_set_urgent_fd(-1);
    self->vtable_slot = sd_bus_slot_unref(self->vtable_slot);
    self->bus = sd_bus_flush_close_unref(self->bus);
  }
  self->peek = ard_peek_new(loop, self->bus ? (system ? "system" : "user") : "none");
  if (self->bus) {
    ar_emitter_add_sink(ard_loop_get_emitter(loop), bus_sink, self);
    ard_loop_set_status_hook(loop, on_status_changed, self);
    props_read(self, &self->announced);
  }
  return g_steal_pointer(&self);
}

void
ard_bus_free(ArdBus *self)
{
  if (!self)
    return;
  if (self->bus) {
    ard_output_set_urgent_fd(-1);
    ard_loop_set_status_hook(self->loop, NULL, NULL);
    ar_emitter_remove_sink(ard_loop_get_emitter(self->loop), bus_sink, self);
    /* The last signals (serve_stopping, round_end) must reach the bus
     * before the name goes away. */
    (void)sd_bus_flush(self->bus);
    (void)sd_bus_release_name(self->bus, self->name);
    (void)sd_bus_detach_event(self->bus);
  }
  g_clear_pointer(&self->peek, ard_peek_free);
  /* Their slots hold the connection: it would never be freed. */
  ard_polkit_cancel_all();
  sd_bus_slot_unref(self->vtable_slot);
  sd_bus_flush_close_unref(self->bus);
  props_clear(&self->announced);
  g_free(self->action_manage);
  g_free(self->action_upgrade);
  g_free(self->action_read);
  g_free(self->name);
  g_free(self);
}

gboolean
ard_bus_is_connected(ArdBus *self)
{
  return self->bus != NULL;
}

const char *
ard_bus_get_name(ArdBus *self)
{
  return self->name;
}
