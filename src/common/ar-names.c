/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-names.h"

#include <errno.h>
#include <string.h>

#include <gio/gio.h>

#include "ar-util.h"

static gboolean
keeps(char c, gboolean first)
{
  if (g_ascii_isalpha(c) || c == '-')
    return TRUE;
  return g_ascii_isdigit(c) && !first;
}

char *
ar_bus_name_for_project(const char *project)
{
  if (!ar_project_name_valid(project))
    return NULL;
  GString *s = g_string_new(AR_BUS_NAME_PREFIX);
  for (const char *p = project; *p; p++) {
    if (keeps(*p, p == project))
      g_string_append_c(s, *p);
    else
      g_string_append_printf(s, "_%02x", (guchar)*p);
  }
  return g_string_free(s, FALSE);
}

char *
ar_project_escaped(const char *project)
{
  g_autofree char *name = ar_bus_name_for_project(project);
  return name ? g_strdup(name + strlen(AR_BUS_NAME_PREFIX)) : NULL;
}

char *
ar_polkit_project_prefix(const char *project)
{
  /* The bus name's escaping, so one project maps to one policy file and
   * one set of actions. */
  g_autofree char *esc = ar_project_escaped(project);
  return esc ? g_strconcat(AR_POLKIT_ACTION_PREFIX, esc, NULL) : NULL;
}

char *
ar_polkit_policy_path(const char *project)
{
  g_autofree char *prefix = ar_polkit_project_prefix(project);
  if (!prefix)
    return NULL;
  g_autofree char *file = g_strconcat(prefix, ".policy", NULL);
  return g_build_filename(POLKIT_ACTIONS_DIR, file, NULL);
}

char *
ar_bus_policy_path(const char *project)
{
  g_autofree char *name = ar_bus_name_for_project(project);
  if (!name)
    return NULL;
  g_autofree char *file = g_strconcat(name, ".conf", NULL);
  return g_build_filename(DBUS_SYSTEM_CONF_DIR, file, NULL);
}

char *
ar_project_from_bus_name(const char *bus_name)
{
  if (!bus_name || !g_str_has_prefix(bus_name, AR_BUS_NAME_PREFIX))
    return NULL;
  const char *p = bus_name + strlen(AR_BUS_NAME_PREFIX);
  g_autoptr(GString) s = g_string_new(NULL);
  while (*p) {
    if (*p == '_') {
      int hi = g_ascii_xdigit_value(p[1]);
      int lo = hi >= 0 ? g_ascii_xdigit_value(p[2]) : -1;
      if (lo < 0)
        return NULL;
      g_string_append_c(s, (char)(hi * 16 + lo));
      p += 3;
    } else {
      if (!keeps(*p, s->len == 0))
        return NULL;
      g_string_append_c(s, *p++);
    }
  }
  if (!ar_project_name_valid(s->str))
    return NULL;
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* ---- errors ---------------------------------------------------------- */

typedef struct {
  int code;
  const char *name;
  int errsv;
} ErrorName;

static const ErrorName ar_error_names[] = {
  { AR_ERROR_FAILED, AR_BUS_ERROR_PREFIX "Failed", EIO },
  { AR_ERROR_INVALID_ARGS, AR_BUS_ERROR_PREFIX "InvalidArgs", EINVAL },
  { AR_ERROR_CONFIG, AR_BUS_ERROR_PREFIX "Config", EINVAL },
  { AR_ERROR_NOT_RUNNING, AR_BUS_ERROR_PREFIX "NotRunning", ESRCH },
  { AR_ERROR_BUSY, AR_BUS_ERROR_PREFIX "Busy", EBUSY },
  { AR_ERROR_LOCKED, AR_BUS_ERROR_PREFIX "Locked", EAGAIN },
  { AR_ERROR_NOT_FOUND, AR_BUS_ERROR_PREFIX "NotFound", ENOENT },
  { AR_ERROR_GIT, AR_BUS_ERROR_PREFIX "Git", EIO },
  { AR_ERROR_ACCESS_DENIED, AR_BUS_ERROR_PREFIX "AccessDenied", EACCES },
};

#define NOT_SUPPORTED_NAME AR_BUS_ERROR_PREFIX "NotSupported"

static const ErrorName *
lookup(const GError *error)
{
  if (error && error->domain == AR_ERROR)
    for (gsize i = 0; i < G_N_ELEMENTS(ar_error_names); i++)
      if (ar_error_names[i].code == error->code)
        return &ar_error_names[i];
  return NULL;
}

const char *
ar_bus_error_name(const GError *error)
{
  if (error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    return NOT_SUPPORTED_NAME;
  const ErrorName *e = lookup(error);
  return e ? e->name : ar_error_names[0].name;
}

int
ar_bus_error_from_gerror(sd_bus_error *ret, const GError *error)
{
  const char *name = ar_bus_error_name(error);
  int r = sd_bus_error_set(ret, name, error ? error->message : "failed");
  return r < 0 ? r : -EIO;
}

void
ar_bus_error_to_gerror(const sd_bus_error *e, GError **error)
{
  const char *msg = e->message ? e->message : e->name;
  if (g_strcmp0(e->name, NOT_SUPPORTED_NAME) == 0) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, msg);
    return;
  }
  for (gsize i = 0; i < G_N_ELEMENTS(ar_error_names); i++)
    if (g_strcmp0(e->name, ar_error_names[i].name) == 0) {
      g_set_error_literal(error, AR_ERROR, ar_error_names[i].code, msg);
      return;
    }
  if (g_strcmp0(e->name, SD_BUS_ERROR_ACCESS_DENIED) == 0 ||
      g_strcmp0(e->name, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") == 0)
    g_set_error_literal(error, AR_ERROR, AR_ERROR_ACCESS_DENIED, msg);
  else
    g_set_error_literal(error, AR_ERROR, AR_ERROR_FAILED, msg);
}
