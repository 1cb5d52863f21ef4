#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ar-redact.h"
#include "ar-secret.h"
#include "ard-loop-private.h"

/* [agent] secrets for the next round, read fresh before every round: a
 * key rotated with `agent-runner secret set` takes effect at the next
 * round without a restart. Values live only in loop->secret_env (handed
 * to the agent's environment) and in the redactor; never in the daemon's
 * own environment, argv, state.json or round-context.json. */

static int
on_secret_service_signal(sd_bus_message *m, void *user_data, sd_bus_error *ret_error)
{
  ArdLoop *loop = user_data;
  /* Any change (a collection unlocked, an item created or changed) may
   * be the one we wait for: look again; still locked means wait on. */
  if (loop->status.state == ARD_RUN_WAITING_FOR_SECRET)
    ard_loop_step_soon(loop);
  return 0;
}

static void
watch_secret_service(ArdLoop *loop)
{
  if (loop->secret_bus)
    return;
  /* A connection of our own: in round mode there is no service bus, and
   * in user mode the Secret Service is on the user bus anyway. */
  sd_bus *bus = NULL;
  int r = sd_bus_open_user(&bus);
  if (r >= 0)
    r = sd_bus_attach_event(bus, loop->event, SD_EVENT_PRIORITY_NORMAL);
  if (r >= 0)
    r = sd_bus_match_signal_async(bus, &loop->secret_match, "org.freedesktop.secrets", NULL, NULL,
                                  NULL, on_secret_service_signal, NULL, loop);
  if (r < 0) {
    /* Without the signal only a Stop, a Reload or a restart retries. */
    g_warning("cannot watch the Secret Service for an unlock: %s", g_strerror(-r));
    loop->secret_match = sd_bus_slot_unref(loop->secret_match);
    if (bus)
      bus = sd_bus_flush_close_unref(bus);
    return;
  }
  loop->secret_bus = bus;
}

void
ard_loop_secrets_clear(ArdLoop *loop)
{
  g_clear_pointer(&loop->secret_env, g_strfreev);
  loop->secret_match = sd_bus_slot_unref(loop->secret_match);
  if (loop->secret_bus) {
    (void)sd_bus_detach_event(loop->secret_bus);
    loop->secret_bus = sd_bus_flush_close_unref(loop->secret_bus);
  }
  g_clear_pointer(&loop->status.waiting_secret, g_free);
}

static void
start_wait(ArdLoop *loop, const char *name, const char *source)
{
  if (g_strcmp0(loop->status.waiting_secret, name) != 0) {
    g_free(loop->status.waiting_secret);
    loop->status.waiting_secret = g_strdup(name);
    ar_emit(loop->emitter, "waiting_for_secret", AR_EV_S("name", name), AR_EV_S("source", source),
            NULL);
  }
  watch_secret_service(loop);
  ard_loop_set_run_state(loop, ARD_RUN_WAITING_FOR_SECRET);
}

gboolean
ard_loop_secrets_ready(ArdLoop *loop)
{
  g_clear_pointer(&loop->secret_env, g_strfreev);
  const ArConfig *cfg = loop->cfg;
  g_autoptr(GStrvBuilder) env = g_strv_builder_new();
  for (guint i = 0; cfg->secrets && cfg->secrets[i]; i++) {
    const char *name = cfg->secrets[i];
    g_autofree char *value = NULL;
    const char *source = NULL;
    g_autoptr(GError) error = NULL;
    ArSecretStatus st = ar_secret_lookup(cfg->project, name, &value, &source, &error);
    if (st == AR_SECRET_LOCKED) {
      start_wait(loop, name, source);
      return FALSE;
    }
    if (st != AR_SECRET_FOUND) {
      /* The startup check just passed: the secret went away in between. */
      g_autofree char *cmd =
          ar_secret_set_command(cfg->project, name, g_getenv("CREDENTIALS_DIRECTORY") != NULL);
      g_autofree char *reason =
          g_strdup_printf("secrets_available: %s", error ? error->message : name);
      fprintf(stderr, "STARTUP FAIL: %s | how-to-fix: %s\n", reason, cmd);
      ar_emit(loop->emitter, "smoke_check_failed", AR_EV_S("reason", reason), NULL);
      ar_emit(loop->emitter, "config_broken",
              AR_EV_S("reason", "startup checks failed: secrets_available"), NULL);
      ard_loop_config_broken(loop);
      return FALSE;
    }
    /* Before the agent can print it. */
    ar_redact_add_secret(value);
    g_autofree char *pair = g_strconcat(name, "=", value, NULL);
    g_strv_builder_add(env, pair);
    explicit_bzero(value, strlen(value));
  }
  ard_loop_secrets_clear(loop);
  loop->secret_env = g_strv_builder_end(env);
  return TRUE;
}
