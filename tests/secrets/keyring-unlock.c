/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Test helper: unlock a gnome-keyring collection without a prompter (no
 * display in tests), the way the PAM module does, through the daemon's
 * private unlock interface. Usage: keyring-unlock COLLECTION_PATH, the
 * password on stdin. A real Secret Service call on the session bus: the
 * daemon under test sees the same signals a desktop unlock sends. */

#include <stdio.h>
#include <string.h>

#include <systemd/sd-bus.h>

#include "ar-cleanup.h"

#define SECRETS "org.freedesktop.secrets"
#define PATH    "/org/freedesktop/secrets"

int
main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: keyring-unlock COLLECTION_PATH < password\n");
    return 2;
  }
  char pw[512];
  size_t n = fread(pw, 1, sizeof pw, stdin);
  g_autoptr(sd_bus) bus = NULL;
  g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
  g_autoptr(sd_bus_message) reply = NULL;
  const char *session = NULL;
  int r = sd_bus_open_user(&bus);
  if (r >= 0)
    r = sd_bus_call_method(bus, SECRETS, PATH, "org.freedesktop.Secret.Service", "OpenSession",
                           &error, &reply, "sv", "plain", "s", "");
  if (r >= 0)
    r = sd_bus_message_skip(reply, "v");
  if (r >= 0)
    r = sd_bus_message_read(reply, "o", &session);
  g_autoptr(sd_bus_message) m = NULL;
  if (r >= 0)
    r = sd_bus_message_new_method_call(bus, &m, SECRETS, PATH,
                                       "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
                                       "UnlockWithMasterPassword");
  if (r >= 0)
    r = sd_bus_message_append(m, "o", argv[1]);
  if (r >= 0)
    r = sd_bus_message_open_container(m, 'r', "oayays");
  if (r >= 0)
    r = sd_bus_message_append(m, "o", session);
  if (r >= 0)
    r = sd_bus_message_append_array(m, 'y', "", 0);
  if (r >= 0)
    r = sd_bus_message_append_array(m, 'y', pw, n);
  if (r >= 0)
    r = sd_bus_message_append(m, "s", "text/plain");
  if (r >= 0)
    r = sd_bus_message_close_container(m);
  if (r >= 0)
    r = sd_bus_call(bus, m, 0, &error, NULL);
  if (r < 0) {
    fprintf(stderr, "keyring-unlock: %s\n", error.message ? error.message : strerror(-r));
    return 1;
  }
  return 0;
}
