#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ar-cleanup.h"
#include "arm-monitor.h"

/* agent-runner-monitor: arguments, the sd-event loop, signals. The unit
 * agent-runner-monitor.service runs it with --quiet (the journal is its
 * output); `agent-runner monitor` runs it in the foreground. */

#define EXIT_USAGE 2

static int
on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
  return sd_event_exit(sd_event_source_get_event(s), 0);
}

static gboolean
parse_args(ArmOptions *o, int *argc, char ***argv, GError **error)
{
  gboolean user = FALSE, quiet = FALSE, no_journal = FALSE;
  g_autofree char *mode = NULL;
  int interval = 30;
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
    { "open", 0, 0, G_OPTION_ARG_NONE, &o->open,
      N_("Open the web page in the browser (xdg-open; implies --http)"), NULL },
    { "detectors-md", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &o->detectors_md, NULL, NULL },
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
  g_clear_pointer(&mon->web, arm_web_free);
  g_clear_pointer(&mon->notify, arm_notify_free);
  g_clear_pointer(&mon->health, arm_health_free);
  g_clear_pointer(&mon->projects, g_hash_table_unref);
  arm_bus_stop(mon);
  mon->event = sd_event_unref(mon->event);
  g_free(mon->opts.project);
  g_free(mon->opts.listen);
}

int
main(int argc, char **argv)
{
  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
  textdomain(GETTEXT_PACKAGE);

  ArmMonitor mon = { 0 };
  g_autoptr(GError) error = NULL;
  if (!parse_args(&mon.opts, &argc, &argv, &error)) {
    fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
    return EXIT_USAGE;
  }
  if (mon.opts.detectors_md) {
    g_autofree char *md = arm_detectors_markdown();
    fputs(md, stdout);
    g_free(mon.opts.project);
    return 0;
  }
  mon.projects =
      g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)arm_project_free);
  int r = sd_event_default(&mon.event);
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
    return 1;
  }
  mon.health = arm_health_new(&mon);
  if (!arm_bus_start(&mon, &error)) {
    fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
    monitor_clear(&mon);
    return 1;
  }
  if (mon.acting)
    mon.notify = arm_notify_new(&mon);
  if (!arm_web_settings_apply(&mon, &error)) {
    fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
    monitor_clear(&mon);
    return EXIT_USAGE;
  }
  /* The web page: libsoup on a GMainLoop that hosts sd-event (arm-glib-loop.c). */
  if (mon.opts.http) {
    mon.web = arm_web_new(&mon, mon.opts.listen, &error);
    if (!mon.web) {
      fprintf(stderr, "agent-runner-monitor: %s\n", error->message);
      monitor_clear(&mon);
      return 1;
    }
    r = arm_glib_loop_run(mon.event);
  } else {
    r = sd_event_loop(mon.event);
  }
  monitor_clear(&mon);
  return r < 0 ? 1 : 0;
}
