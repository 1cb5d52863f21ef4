/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ard-secrets.h"

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ar-cleanup.h"
#include "ar-redact.h"
#include "ar-secret.h"

struct ArdSecrets {
  sd_event *event;
  ArEmitter *emitter;
  void (*changed)(gpointer);
  gpointer user_data;
  GStrv env;     /* NAME=value for the next round */
  char *waiting; /* the secret a locked keyring holds */
  /* The Secret Service watch while a locked keyring holds one. */
  sd_bus *bus;
  sd_bus_slot *match;
};

ArdSecrets *
ard_secrets_new(sd_event *event, ArEmitter *emitter, void (*changed)(gpointer), gpointer user_data)
{
  ArdSecrets *secrets = g_new0(ArdSecrets, 1);
  secrets->event = event;
  secrets->emitter = emitter;
  secrets->changed = changed;
  secrets->user_data = user_data;
  return secrets;
}

static void
unwatch(ArdSecrets *secrets)
{
  secrets->match = sd_bus_slot_unref(secrets->match);
  if (secrets->bus) {
    (void)sd_bus_detach_event(secrets->bus);
    secrets->bus = sd_bus_flush_close_unref(secrets->bus);
  }
}

void
ard_secrets_free(ArdSecrets *secrets)
{
  if (!secrets)
    return;
  unwatch(secrets);
  g_strfreev(secrets->env);
  g_free(secrets->waiting);
  g_free(secrets);
}

static int
on_secret_service_signal(sd_bus_message *m, void *user_data, sd_bus_error *ret_error)
{
  ArdSecrets *secrets = user_data;
  /* Any change (a collection unlocked, an item created or changed) may
   * be the one we wait for: the owner looks again; still locked means
   * wait on. */
  secrets->changed(secrets->user_data);
  return 0;
}

static void
watch_secret_service(ArdSecrets *secrets)
{
  if (secrets->bus)
    return;
  /* A connection of our own: in round mode there is no service bus, and
   * in user mode the Secret Service is on the user bus anyway. */
  sd_bus *bus = NULL;
  int r = sd_bus_open_user(&bus);
  if (r >= 0)
    r = sd_bus_attach_event(bus, secrets->event, SD_EVENT_PRIORITY_NORMAL);
  if (r >= 0)
    r = sd_bus_match_signal_async(bus, &secrets->match, "org.freedesktop.secrets", NULL, NULL, NULL,
                                  on_secret_service_signal, NULL, secrets);
  if (r < 0) {
    /* Without the signal only a Stop, a Reload or a restart retries. */
    g_warning("cannot watch the Secret Service for an unlock: %s", g_strerror(-r));
    secrets->match = sd_bus_slot_unref(secrets->match);
    if (bus)
      bus = sd_bus_flush_close_unref(bus);
    return;
  }
  secrets->bus = bus;
}

static void
start_wait(ArdSecrets *secrets, const char *name, const char *source)
{
  if (g_strcmp0(secrets->waiting, name) != 0) {
    g_free(secrets->waiting);
    secrets->waiting = g_strdup(name);
    ar_emit(secrets->emitter, "waiting_for_secret", AR_EV_S("name", name),
            AR_EV_S("source", source), NULL);
  }
  watch_secret_service(secrets);
}

ArdSecretsResult
ard_secrets_read(ArdSecrets *secrets, const ArConfig *cfg)
{
  g_clear_pointer(&secrets->env, g_strfreev);
  g_autoptr(GStrvBuilder) env = g_strv_builder_new();
  for (guint i = 0; cfg->secrets && cfg->secrets[i]; i++) {
    const char *name = cfg->secrets[i];
    g_autofree char *value = NULL;
    const char *source = NULL;
    g_autoptr(GError) error = NULL;
    ArSecretStatus st = ar_secret_lookup(cfg->project, name, &value, &source, &error);
    if (st == AR_SECRET_LOCKED) {
      start_wait(secrets, name, source);
      return ARD_SECRETS_LOCKED;
    }
    if (st != AR_SECRET_FOUND) {
      /* The startup check just passed: the secret went away in between. */
      g_autofree char *cmd =
          ar_secret_set_command(cfg->project, name, g_getenv("CREDENTIALS_DIRECTORY") != NULL);
      g_autofree char *reason =
          g_strdup_printf("secrets_available: %s", error ? error->message : name);
      fprintf(stderr, "STARTUP FAIL: %s | how-to-fix: %s\n", reason, cmd);
      ar_emit(secrets->emitter, "smoke_check_failed", AR_EV_S("reason", reason), NULL);
      ar_emit(secrets->emitter, "config_broken",
              AR_EV_S("reason", "startup checks failed: secrets_available"), NULL);
      return ARD_SECRETS_MISSING;
    }
    /* Before the agent can print it. */
    ar_redact_add_secret(value);
    g_autofree char *pair = g_strconcat(name, "=", value, NULL);
    g_strv_builder_add(env, pair);
    explicit_bzero(value, strlen(value));
  }
  unwatch(secrets);
  g_clear_pointer(&secrets->waiting, g_free);
  secrets->env = g_strv_builder_end(env);
  return ARD_SECRETS_READY;
}

const char *const *
ard_secrets_get_env(ArdSecrets *secrets)
{
  return (const char *const *)secrets->env;
}

const char *
ard_secrets_get_waiting(ArdSecrets *secrets)
{
  return secrets->waiting;
}
