/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-exit.h"
#include "ar-remote.h"
#include "ar-util.h"
#include "arm-monitor.h"

/* agent-runner-monitor: arguments, the sd-event loop, signals, and the
 * wiring of the layers (arm-monitor.h): the inputs feed the model, and
 * each output is registered on the monitor as a sink, in the order it
 * hears of a thing. The unit agent-runner-monitor.service runs it with
 * --quiet (the journal is its output); `agent-runner monitor` runs it in
 * the foreground. */

static int
on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
  return sd_event_exit(sd_event_source_get_event(s), 0);
}

/* The user's fleet (client.toml, as `agent-runner list --fleet` reads it).
 * A malformed file is noted, not fatal: the service still watches this
 * host. */
static void
add_fleet_hosts(ArmOptions *o)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) fleet = ar_fleet_config_hosts(NULL, &error);
  if (!fleet) {
    g_message(_("the fleet's hosts are not watched: %s"), error->message);
    return;
  }
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  if (o->hosts)
    g_strv_builder_addv(b, (const char **)o->hosts);
  for (guint i = 0; i < fleet->len; i++)
    if (!o->hosts || !g_strv_contains((const char *const *)o->hosts, fleet->pdata[i]))
      g_strv_builder_add(b, fleet->pdata[i]);
  g_strfreev(o->hosts);
  o->hosts = g_strv_builder_end(b);
}

static gboolean
parse_args(ArmOptions *o, int *argc, char ***argv, GError **error)
{
  gboolean user = FALSE, quiet = FALSE, no_journal = FALSE;
  g_autofree char *mode = NULL;
  int interval = 30, tolerance = 90;
  gboolean fleet = FALSE;
  GOptionEntry entries[] = {
    { "user", 0, 0, G_OPTION_ARG_NONE, &user, N_("Watch the user bus (default)"), NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &o->system, N_("Watch the system bus"), NULL },
    { "project", 'p', 0, G_OPTION_ARG_STRING, &o->project, N_("Only this project"), N_("NAME") },
    { "interval", 0, 0, G_OPTION_ARG_INT, &interval,
      N_("Host-health sampling period in seconds (default 30)"), "S" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode,
      N_("What to print: alerts (default), events (JSON lines) or narrate"), N_("MODE") },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o->json, N_("Alerts as JSON lines"), NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, N_("Print nothing (the service)"), NULL },
    { "no-journal", 0, 0, G_OPTION_ARG_NONE, &no_journal,
      N_("Do not write the monitor's own journal entries"), NULL },
    { "no-notify", 0, 0, G_OPTION_ARG_NONE, &o->no_notify, N_("No desktop notifications"), NULL },
    { "http", 0, 0, G_OPTION_ARG_NONE, &o->http,
      N_("Serve the web page (127.0.0.1, with a token; prints the URL)"), NULL },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &o->listen,
      N_("Address of the web page (default 127.0.0.1:8765; implies --http)"), N_("ADDR:PORT") },
    { "run-detector-hooks", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &o->hooks_helper, NULL,
      NULL },
    /* For tests: the web connections' bounds in seconds (arm-http-conns.h). */
    { "http-bounds", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &o->http_bounds, NULL, NULL },
    { "host", 'H', 0, G_OPTION_ARG_STRING_ARRAY, &o->hosts,
      N_("Also watch the bus of this host over ssh (repeatable)"), N_("[USER@]HOST[:PORT]") },
    { "fleet", 0, 0, G_OPTION_ARG_NONE, &fleet,
      N_("Also watch the hosts of [fleet] hosts in ~/.config/agent-runner/client.toml"), NULL },
    { "remote-tolerance", 0, 0, G_OPTION_ARG_INT, &tolerance,
      N_("Seconds a host may stay unreachable before it alerts (default 90; "
         "remote_failure_tolerance_s)"),
      "S" },
    { "open", 0, 0, G_OPTION_ARG_NONE, &o->open,
      N_("Open the web page in the browser (xdg-open; implies --http)"), NULL },
    { NULL },
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_summary(
      ctx, _("Watch every agent-runner project on the bus: detectors, alerts, auto-stop, "
             "desktop notifications."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse(ctx, argc, argv, error))
    return FALSE;
  if (*argc > 1) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _("unexpected argument \"%s\""),
                (*argv)[1]);
    return FALSE;
  }
  if (interval < 1) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("--interval must be at least 1 second"));
    return FALSE;
  }
  if (tolerance < 0 || tolerance > 3600) {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("--remote-tolerance must be between 0 and 3600 seconds"));
    return FALSE;
  }
  if (fleet)
    add_fleet_hosts(o);
  for (guint i = 0; o->hosts && o->hosts[i]; i++) {
    ArHost h;
    if (!ar_host_parse(o->hosts[i], &h, error))
      return FALSE;
    ar_host_clear(&h);
  }
  o->remote_tolerance_s = (guint)tolerance;
  if (o->listen || o->open)
    o->http = TRUE;
  o->interval_s = (guint)interval;
  o->journal = !no_journal;
  if (quiet)
    o->output = ARM_OUT_NONE;
  else if (!mode || g_str_equal(mode, "alerts"))
    o->output = ARM_OUT_ALERTS;
  else if (g_str_equal(mode, "events"))
    o->output = ARM_OUT_EVENTS;
  else if (g_str_equal(mode, "narrate"))
    o->output = ARM_OUT_NARRATE;
  else {
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                _("--mode must be alerts, events or narrate"));
    return FALSE;
  }
  return TRUE;
}

static void
monitor_clear(ArmMonitor *mon)
{
  /* First: the page's goodbye runs the loop for up to half a second, and
   * no output being freed may hear of the model meanwhile. */
  arm_monitor_clear_sinks(mon);
  g_clear_pointer(&mon->web, arm_web_free);
  g_clear_pointer(&mon->hooks, arm_hooks_free);
  g_clear_pointer(&mon->notify, arm_notify_free);
  g_clear_pointer(&mon->console, arm_console_free);
  g_clear_pointer(&mon->health, arm_health_free);
  g_clear_pointer(&mon->projects, g_hash_table_unref);
  arm_remote_stop(mon);
  arm_bus_stop(mon);
  mon->event = sd_event_unref(mon->event);
  g_free(mon->opts.project);
  g_free(mon->opts.listen);
  g_free(mon->opts.http_bounds);
  g_strfreev(mon->opts.hosts);
}

/* What only the monitor that owns ARM_BUS_NAME does, so that a second
 * one beside it only watches: the daemon's record of each alert (and
 * auto-stop), the desktop, the detector hooks. */
static void
register_acting_outputs(ArmMonitor *mon)
{
  arm_monitor_add_sink(mon, &arm_bus_alert_sink, NULL);
  mon->notify = arm_notify_new(mon);
  if (mon->notify)
    arm_monitor_add_sink(mon, &arm_notify_sink, mon->notify);
  /* The hooks' state is the daemon's Peek, asked over the bus. */
  mon->hooks = arm_hooks_new(arm_bus_peek);
  arm_monitor_add_sink(mon, &arm_hooks_sink, mon->hooks);
}

int
main(int argc, char **argv)
{
  ar_i18n_init();

  ArmMonitor mon = { 0 };
  g_autoptr(GError) error = NULL;
  int r;
  if (!parse_args(&mon.opts, &argc, &argv, &error)) {
    fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
    return AR_EXIT_USAGE;
  }
  if (mon.opts.hooks_helper) {
    r = arm_hooks_helper_main(mon.opts.hooks_helper, mon.opts.journal);
    g_free(mon.opts.hooks_helper);
    g_free(mon.opts.project);
    return r;
  }
  mon.projects =
      g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)arm_project_free);
  r = sd_event_default(&mon.event);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (r >= 0)
    r = sigprocmask(SIG_BLOCK, &mask, NULL) < 0 ? -errno : 0;
  if (r >= 0)
    r = sd_event_add_signal(mon.event, NULL, SIGTERM, on_signal, NULL);
  if (r >= 0)
    r = sd_event_add_signal(mon.event, NULL, SIGINT, on_signal, NULL);
  if (r < 0) {
    fprintf(stderr, "agent-runner-monitor: sd-event: %s\n", g_strerror(-r));
    monitor_clear(&mon);
    return AR_EXIT_FAILURE;
  }
  mon.health = arm_health_new(&mon);
  arm_monitor_add_sink(&mon, &arm_health_sink, NULL);
  /* Before the bus starts: it lists the projects already there, and from
   * then on the model may speak. */
  mon.console = arm_console_new(&mon);
  arm_monitor_add_sink(&mon, &arm_console_sink, mon.console);
  if (!arm_bus_start(&mon, &error)) {
    fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
    monitor_clear(&mon);
    return AR_EXIT_FAILURE;
  }
  if (mon.acting)
    register_acting_outputs(&mon);
  arm_remote_start(&mon);
  if (!arm_web_settings_apply(&mon, &error)) {
    fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
    monitor_clear(&mon);
    return AR_EXIT_USAGE;
  }
  /* The web page: libsoup on a GMainLoop that hosts sd-event (arm-glib-loop.c). */
  if (mon.opts.http) {
    mon.web = arm_web_new(&mon, mon.opts.listen, &error);
    if (!mon.web) {
      fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
      monitor_clear(&mon);
      return AR_EXIT_FAILURE;
    }
    arm_monitor_add_sink(&mon, &arm_web_sink, mon.web);
    r = arm_glib_loop_run(mon.event);
  } else {
    r = sd_event_loop(mon.event);
  }
  monitor_clear(&mon);
  return r < 0 ? AR_EXIT_FAILURE : AR_EXIT_OK;
}
