/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* What a loaded config answers: the phase of a round and its settings,
 * the agent and its PATH, the hooks that run, the keys set without
 * effect. The loader (ar-config.c) fills the struct; these only read it. */

#include <string.h>

#include "ar-config-keys.h"
#include "ar-config.h"
#include "ar-util.h"

const char *
ar_config_phase_for_round(const ArConfig *cfg, guint round_num)
{
  if (cfg->phase_list == NULL || cfg->phase_list[0] == NULL || round_num == 0)
    return NULL;
  guint n = g_strv_length(cfg->phase_list);
  return cfg->phase_list[(round_num - 1) % n];
}

const ArPhase *
ar_config_get_phase(const ArConfig *cfg, const char *name)
{
  for (guint i = 0; name && i < cfg->phases->len; i++) {
    ArPhase *ph = g_ptr_array_index(cfg->phases, i);
    if (g_str_equal(ph->name, name))
      return ph;
  }
  return NULL;
}

guint
ar_config_round_timeout(const ArConfig *cfg, const char *phase)
{
  const ArPhase *ph = ar_config_get_phase(cfg, phase);
  return ph && ph->round_timeout_s ? ph->round_timeout_s : cfg->round_timeout_s;
}

const char *const *
ar_config_prompt_files(const ArConfig *cfg, const char *phase)
{
  const ArPhase *ph = ar_config_get_phase(cfg, phase);
  if (ph && ph->prompt_files)
    return (const char *const *)ph->prompt_files;
  return (const char *const *)cfg->prompt_files;
}

const char *
ar_config_agent_name(const ArConfig *cfg)
{
  if (cfg->agent_name)
    return cfg->agent_name;
  if (cfg->command && cfg->command[0]) {
    const char *slash = strrchr(cfg->command[0], '/');
    return slash ? slash + 1 : cfg->command[0];
  }
  return "agent";
}

char *
ar_config_agent_path_env(const ArConfig *cfg, const char *base_path)
{
  if (base_path == NULL)
    base_path = g_getenv("PATH");
  if (base_path == NULL)
    base_path = "/usr/local/bin:/usr/bin:/bin";
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  for (guint i = 0; cfg->path && cfg->path[i]; i++)
    g_strv_builder_add(b, cfg->path[i]);
  g_strv_builder_add(b, base_path);
  g_auto(GStrv) parts = g_strv_builder_end(b);
  return g_strjoinv(":", parts);
}

char *
ar_config_find_agent(const ArConfig *cfg, const char *base_path)
{
  if (cfg->command == NULL || cfg->command[0] == NULL)
    return NULL;
  const char *prog = cfg->command[0];
  if (strchr(prog, '/')) {
    g_autofree char *abs = g_canonicalize_filename(prog, cfg->work_dir);
    return g_file_test(abs, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test(abs, G_FILE_TEST_IS_DIR)
               ? g_steal_pointer(&abs)
               : NULL;
  }
  g_autofree char *path = ar_config_agent_path_env(cfg, base_path);
  return ar_find_in_path(prog, path);
}

const char *
ar_hook_kind_name(ArHookKind kind)
{
  static const char *const names[] = {
    [AR_HOOK_SERVE_STARTUP] = "serve_startup",       [AR_HOOK_PRE_ROUND] = "pre_round",
    [AR_HOOK_CONTEXT_ENRICHER] = "context_enricher", [AR_HOOK_POST_ROUND] = "post_round",
    [AR_HOOK_DIRTY_HANDLER] = "dirty_handler",       [AR_HOOK_DETECTOR] = "detector",
  };
  return names[kind];
}

char *
ar_hook_name(const char *const *argv)
{
  /* ["python3", "hooks/x.py"]: the script names the hook, not python3. */
  const char *prog = argv[0];
  if (!strchr(prog, '/') && argv[1] && strchr(argv[1], '/'))
    prog = argv[1];
  g_autofree char *base = g_path_get_basename(prog);
  char *dot = strrchr(base, '.');
  if (dot && dot != base)
    *dot = '\0';
  return g_steal_pointer(&base);
}

GPtrArray *
ar_config_hooks(const ArConfig *cfg, const char *phase, ArHookKind kind)
{
  GPtrArray *out = g_ptr_array_new();
  const ArPhase *ph = ar_config_get_phase(cfg, phase);
  GPtrArray *list = ph && ph->hooks[kind] ? ph->hooks[kind] : cfg->hooks[kind];
  if (kind == AR_HOOK_PRE_ROUND) {
    /* Only pre-round hooks, as in the Python tool: enrichers add to the
     * context and change no file. */
    gboolean off = ph && ph->disable_pre_round_hooks >= 0 ? ph->disable_pre_round_hooks
                                                          : cfg->disable_pre_round_hooks;
    if (off)
      return out;
  }
  for (guint i = 0; list && i < list->len; i++) {
    GStrv argv = g_ptr_array_index(list, i);
    g_autofree char *name = ar_hook_name((const char *const *)argv);
    if (cfg->plugins_disable && g_strv_contains((const char *const *)cfg->plugins_disable, name))
      continue;
    g_ptr_array_add(out, argv);
  }
  return out;
}

static const ArTomlNode *
toml_section(const ArTomlNode *root, const char *dotted)
{
  g_auto(GStrv) parts = g_strsplit(dotted, ".", -1);
  const ArTomlNode *node = root;
  for (guint i = 0; node && parts[i]; i++)
    node = node->type == AR_TOML_TABLE ? ar_toml_get(node, parts[i]) : NULL;
  return node && node->type == AR_TOML_TABLE ? node : NULL;
}

GPtrArray *
ar_config_inert_keys(const ArConfig *cfg, GPtrArray **reasons)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
  *reasons = g_ptr_array_new();
  for (guint i = 0; cfg->toml && i < ar_config_n_keys; i++) {
    const ArConfigKey *key = &ar_config_keys[i];
    if (!key->no_effect)
      continue;
    const ArTomlNode *sec = toml_section(cfg->toml, key->section);
    if (sec == NULL || ar_toml_get(sec, key->name) == NULL)
      continue;
    g_ptr_array_add(keys, g_strdup_printf("[%s] %s", key->section, key->name));
    g_ptr_array_add(*reasons, (gpointer)key->no_effect);
  }
  return keys;
}
