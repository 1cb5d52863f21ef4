/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The project a config file names, read without loading the whole
 * config: the client needs only the name to find the project's service on
 * the bus, and a config broken since the service started (a typo in a key
 * the service has not reloaded) must not keep the operator from stopping
 * it. The rule is the loader's (ar-config.c): the project is the basename
 * of [runtime] work_dir, resolved next to the real config file. */

#include <stdlib.h>
#include <string.h>

#include "ar-config.h"
#include "ar-toml.h"
#include "ar-util.h"

/* The config's directory, through a symlink (install links the config
 * from ~/.config/agent-runner/projects/PROJECT.toml). */
static char *
real_config_path(const char *path)
{
  g_autofree char *abs = g_canonicalize_filename(path, NULL);
  char *real = realpath(abs, NULL);
  if (!real)
    return g_steal_pointer(&abs);
  char *copy = g_strdup(real);
  free(real);
  return copy;
}

char *
ar_config_read_project(const char *path, GError **error)
{
  g_autofree char *abs = real_config_path(path);
  gsize len = 0;
  g_autofree char *data = ar_read_regular_file(abs, AR_CONFIG_MAX_BYTES, &len, error);
  if (!data)
    return NULL;
  g_autoptr(ArTomlNode) root = ar_toml_parse(data, len, path, error);
  if (!root)
    return NULL;
  const ArTomlNode *runtime = ar_toml_get(root, "runtime");
  const ArTomlNode *wd =
      runtime && runtime->type == AR_TOML_TABLE ? ar_toml_get(runtime, "work_dir") : NULL;
  if (!wd || wd->type != AR_TOML_STRING) {
    g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, "%s: [runtime] work_dir is missing", path);
    return NULL;
  }
  /* As the loader's expand_path, before any {project} is known. */
  const char *raw = wd->v.str;
  g_autofree char *expanded = g_str_equal(raw, "~") || g_str_has_prefix(raw, "~/")
                                  ? g_build_filename(g_get_home_dir(), raw + 1, NULL)
                                  : g_strdup(raw);
  g_autofree char *dir = g_path_get_dirname(abs);
  g_autofree char *work_dir = g_canonicalize_filename(expanded, dir);
  return g_path_get_basename(work_dir);
}
