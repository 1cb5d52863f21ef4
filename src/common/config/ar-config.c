/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-config.h"

#include <inttypes.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ar-classify.h"
#include "ar-config-keys.h"
#include "ar-events.h"
#include "ar-monitor-settings.h"
#include "ar-util.h"

/* Loading collects every problem of the file instead of stopping at the
 * first, so a user fixes a migrated file in one pass. */
typedef struct {
  ArConfig *cfg;
  const char *file; /* as the user named it, for messages */
  GString *errors;
  guint n_errors;
} Loader;

/* Error output is bounded: a hostile file (a 1 MiB key, 100,000 bad
 * lines) must give a readable answer, not echo itself. Each message is cut
 * to this many bytes, and after this many the rest are only counted. */
#define ERROR_MSG_MAX_BYTES 300
#define ERRORS_MAX          50

static void
append_capped(GString *out, const char *msg)
{
  gsize len = strlen(msg);
  if (len <= ERROR_MSG_MAX_BYTES) {
    g_string_append(out, msg);
    return;
  }
  /* Cut on a character boundary. */
  const char *end = g_utf8_find_prev_char(msg, msg + ERROR_MSG_MAX_BYTES + 1);
  gsize keep = end ? (gsize)(end - msg) : ERROR_MSG_MAX_BYTES;
  g_string_append_len(out, msg, keep);
  g_string_append_printf(out, _("… (%zu more bytes)"), len - keep);
}

static void
append_error(Loader *ld, guint line, guint col, const char *msg)
{
  ld->n_errors++;
  if (ld->n_errors > ERRORS_MAX)
    return;
  if (ld->errors->len)
    g_string_append_c(ld->errors, '\n');
  g_string_append_printf(ld->errors, "%s:%u:%u: ", ld->file, line, col);
  append_capped(ld->errors, msg);
}

/* The count of what was left out, once all errors are in. */
static void
finish_errors(Loader *ld)
{
  if (ld->n_errors <= ERRORS_MAX)
    return;
  guint more = ld->n_errors - ERRORS_MAX;
  g_string_append_c(ld->errors, '\n');
  g_string_append_printf(
      ld->errors,
      g_dngettext(GETTEXT_PACKAGE, "%s: … and %u more problem", "%s: … and %u more problems", more),
      ld->file, more);
}

static void G_GNUC_PRINTF(3, 4) loader_error(Loader *ld, const ArTomlNode *at, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  guint line = at ? (at->key_line ? at->key_line : at->line) : 1;
  guint col = at ? (at->key_line ? at->key_col : at->col) : 1;
  append_error(ld, line, col, msg);
}

/* Position of a value rather than of its key: type errors point at what
 * must change. */
static void G_GNUC_PRINTF(3, 4)
    loader_value_error(Loader *ld, const ArTomlNode *at, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  append_error(ld, at->line, at->col, msg);
}

/* Every string of the configuration ends up as a C string: a path, an
 * argv element, an environment name or value, a pattern. A U+0000 inside
 * would silently cut it ("./logs\u0000/../../etc" is "./logs"), so it is
 * an error wherever it is, key or value. */
static void
check_no_nul(Loader *ld, const ArTomlNode *node)
{
  if (node->key && node->key_len != strlen(node->key))
    loader_error(ld, node,
                 _("a key contains a NUL character (\\u0000); keys, paths, "
                   "arguments and environment variables cannot hold one"));
  if (node->type == AR_TOML_STRING && node->str_len != strlen(node->v.str))
    loader_value_error(ld, node,
                       _("%s: the string contains a NUL character (\\u0000); paths, arguments "
                         "and environment variables cannot hold one"),
                       node->key ? node->key : _("array element"));
  for (guint i = 0; i < ar_toml_len(node); i++)
    check_no_nul(ld, ar_toml_at(node, i));
}

static const char *
closest(const char *word, const char *const *candidates)
{
  const char *best = NULL;
  guint best_d = G_MAXUINT;
  for (guint i = 0; candidates[i]; i++) {
    guint d = ar_edit_distance(word, candidates[i]);
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  /* Suggest only what looks like a typo, not any word of the list. */
  guint limit = MAX(2u, (guint)strlen(word) / 3);
  return best_d <= limit ? best : NULL;
}

static char *
did_you_mean(const char *word, const char *const *candidates)
{
  const char *c = closest(word, candidates);
  return c ? g_strdup_printf(_("; did you mean \"%s\"?"), c) : g_strdup("");
}

static GStrv
section_key_names(const char *section)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  for (guint i = 0; i < ar_config_n_keys; i++)
    if (g_str_equal(ar_config_keys[i].section, section))
      g_strv_builder_add(b, ar_config_keys[i].name);
  return g_strv_builder_end(b);
}

static char *
expand_path(const ArConfig *cfg, const char *raw)
{
  g_autofree char *s = g_strdup(raw);
  if (cfg->project && strstr(s, "{project}")) {
    g_auto(GStrv) parts = g_strsplit(s, "{project}", -1);
    g_free(s);
    s = g_strjoinv(cfg->project, parts);
  }
  if (g_str_equal(s, "~") || g_str_has_prefix(s, "~/")) {
    char *home = g_build_filename(g_get_home_dir(), s + 1, NULL);
    g_free(s);
    s = home;
  }
  return g_canonicalize_filename(s, cfg->config_dir);
}

static gboolean
node_is_string_list(const ArTomlNode *node)
{
  if (node->type != AR_TOML_ARRAY)
    return FALSE;
  for (guint i = 0; i < ar_toml_len(node); i++)
    if (ar_toml_at(node, i)->type != AR_TOML_STRING)
      return FALSE;
  return TRUE;
}

static GStrv
node_strv(const ArTomlNode *node)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new();
  for (guint i = 0; i < ar_toml_len(node); i++)
    g_strv_builder_add(b, ar_toml_at(node, i)->v.str);
  return g_strv_builder_end(b);
}

static char *
quoted_section(const char *section)
{
  return g_strdup_printf("[%s]", section);
}

static const char *
toml_type_article(const ArTomlNode *node)
{
  return ar_toml_type_name(node->type);
}

/* Store one value at key->offset of base (an ArConfig or an ArPhase). */
static void
apply_value(Loader *ld, const ArConfigKey *key, const ArTomlNode *node, gpointer base,
            const char *section_label)
{
  gpointer field = (guint8 *)base + key->offset;
  const char *expected = ar_key_type_name(key->type);

  switch (key->type) {
  case AR_KEY_STRING:
  case AR_KEY_PATH:
    if (node->type != AR_TOML_STRING) {
      loader_value_error(ld, node, _("%s %s must be a %s, not a %s"), section_label, key->name,
                         expected, toml_type_article(node));
      return;
    }
    if (key->choices && !g_strv_contains(key->choices, node->v.str)) {
      g_autofree char *list = g_strjoinv("\", \"", (GStrv)key->choices);
      g_autofree char *dym = did_you_mean(node->v.str, key->choices);
      loader_value_error(ld, node, _("%s %s must be one of \"%s\", not \"%s\"%s"), section_label,
                         key->name, list, node->v.str, dym);
      return;
    }
    g_free(*(char **)field);
    *(char **)field =
        key->type == AR_KEY_PATH ? expand_path(ld->cfg, node->v.str) : g_strdup(node->v.str);
    return;
  case AR_KEY_ENUM: {
    if (node->type != AR_TOML_STRING || !g_strv_contains(key->choices, node->v.str)) {
      g_autofree char *list = g_strjoinv("\", \"", (GStrv)key->choices);
      g_autofree char *dym =
          node->type == AR_TOML_STRING ? did_you_mean(node->v.str, key->choices) : g_strdup("");
      loader_value_error(ld, node, _("%s %s must be one of \"%s\"%s"), section_label, key->name,
                         list, dym);
      return;
    }
    for (int i = 0; key->choices[i]; i++)
      if (g_str_equal(key->choices[i], node->v.str))
        *(int *)field = i;
    return;
  }
  case AR_KEY_STRV:
  case AR_KEY_PATHV:
  case AR_KEY_REGEXV:
  case AR_KEY_NAMES:
  case AR_KEY_PHASE_LIST: {
    if (!node_is_string_list(node)) {
      loader_value_error(ld, node, _("%s %s must be a %s"), section_label, key->name, expected);
      return;
    }
    g_auto(GStrv) v = node_strv(node);
    for (guint i = 0; v[i]; i++) {
      const ArTomlNode *item = ar_toml_at(node, i);
      if (key->type == AR_KEY_PATHV) {
        char *p = expand_path(ld->cfg, v[i]);
        g_free(v[i]);
        v[i] = p;
      } else if (key->type == AR_KEY_REGEXV) {
        g_autoptr(GError) rerr = NULL;
        g_autoptr(GRegex) re = g_regex_new(v[i], 0, 0, &rerr);
        if (re == NULL)
          loader_value_error(ld, item, _("%s %s: invalid regular expression: %s"), section_label,
                             key->name, rerr->message);
      } else if (key->type == AR_KEY_NAMES && !g_strv_contains(key->choices, v[i]) &&
                 key->offset != offsetof(ArConfig, plugins_disable) &&
                 key->offset != offsetof(ArConfig, auto_stop_on)) {
        /* plugins_disable and auto_stop_on are checked in cross_check:
         * hook names count. */
        g_autofree char *list = g_strjoinv(", ", (GStrv)key->choices);
        g_autofree char *dym = did_you_mean(v[i], key->choices);
        loader_value_error(ld, item, _("%s %s: unknown name \"%s\"%s (known: %s)"), section_label,
                           key->name, v[i], dym, list);
      } else if (key->type == AR_KEY_PHASE_LIST && *v[i] == '\0') {
        loader_value_error(ld, item, _("%s %s: a phase name cannot be empty"), section_label,
                           key->name);
      }
    }
    g_strfreev(*(GStrv *)field);
    *(GStrv *)field = g_steal_pointer(&v);
    return;
  }
  case AR_KEY_UINT: {
    if (node->type != AR_TOML_INTEGER) {
      loader_value_error(ld, node, _("%s %s must be an integer, not a %s"), section_label,
                         key->name, toml_type_article(node));
      return;
    }
    gint64 v = node->v.integer;
    gint64 max = key->max ? key->max : G_MAXINT32;
    if (v < key->min || v > max) {
      if (key->min == 1 && !key->max)
        loader_value_error(ld, node, _("%s %s must be a positive integer, not %lld"), section_label,
                           key->name, (long long)v);
      else
        loader_value_error(ld, node, _("%s %s must be between %lld and %lld, not %lld"),
                           section_label, key->name, (long long)key->min, (long long)max,
                           (long long)v);
      return;
    }
    *(guint *)field = (guint)v;
    return;
  }
  case AR_KEY_BOOL:
    if (node->type != AR_TOML_BOOL) {
      loader_value_error(ld, node, _("%s %s must be true or false, not a %s"), section_label,
                         key->name, toml_type_article(node));
      return;
    }
    /* int for per-phase tri-state fields, gboolean (also int) elsewhere */
    *(int *)field = node->v.boolean ? 1 : 0;
    return;
  case AR_KEY_PERCENT: {
    double v;
    if (node->type == AR_TOML_INTEGER)
      v = (double)node->v.integer;
    else if (node->type == AR_TOML_FLOAT)
      v = node->v.fp;
    else {
      loader_value_error(ld, node, _("%s %s must be a number between 0 and 100, not a %s"),
                         section_label, key->name, toml_type_article(node));
      return;
    }
    if (!(v >= 0.0 && v <= 100.0)) { /* also rejects NaN */
      loader_value_error(ld, node, _("%s %s must be between 0 and 100"), section_label, key->name);
      return;
    }
    *(double *)field = v;
    return;
  }
  case AR_KEY_HOOKS: {
    /* ["./hooks/a.sh", ["python3", "hooks/b.py", "--flag"]]: a string is
     * one path; a list is an argv whose first element, when it holds a
     * slash, is a path too. Paths resolve against the config's directory. */
    if (node->type != AR_TOML_ARRAY) {
      loader_value_error(ld, node, _("%s %s must be a list of commands, e.g. [\"./hooks/x.sh\"]"),
                         section_label, key->name);
      return;
    }
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    for (guint i = 0; i < ar_toml_len(node); i++) {
      const ArTomlNode *item = ar_toml_at(node, i);
      GStrv argv = NULL;
      if (item->type == AR_TOML_STRING && *item->v.str) {
        argv = g_new0(char *, 2);
        argv[0] = expand_path(ld->cfg, item->v.str);
      } else if (node_is_string_list(item) && ar_toml_len(item) > 0 &&
                 *ar_toml_at(item, 0)->v.str) {
        argv = node_strv(item);
        if (strchr(argv[0], '/')) {
          char *abs = expand_path(ld->cfg, argv[0]);
          g_free(argv[0]);
          argv[0] = abs;
        }
      } else {
        loader_value_error(ld, item,
                           _("%s %s: each command is a path string or a non-empty list of "
                             "strings (argv)"),
                           section_label, key->name);
        continue;
      }
      g_ptr_array_add(list, argv);
    }
    g_clear_pointer((GPtrArray **)field, g_ptr_array_unref);
    *(GPtrArray **)field = list;
    return;
  }
  case AR_KEY_ENV: {
    if (node->type != AR_TOML_TABLE) {
      loader_value_error(ld, node, _("%s %s must be a table of strings, e.g. [agent.env]"),
                         section_label, key->name);
      return;
    }
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (guint i = 0; i < ar_toml_len(node); i++) {
      const ArTomlNode *item = ar_toml_at(node, i);
      if (item->type != AR_TOML_STRING) {
        loader_value_error(ld, item, _("[agent.env] %s must be a string (quote numbers: \"1\")"),
                           item->key);
        continue;
      }
      if (*item->key == '\0' || strchr(item->key, '=')) {
        loader_error(ld, item, _("[agent.env] \"%s\" is not a valid variable name"), item->key);
        continue;
      }
      g_autofree char *kv = g_strdup_printf("%s=%s", item->key, item->v.str);
      g_strv_builder_add(b, kv);
    }
    g_strfreev(*(GStrv *)field);
    *(GStrv *)field = g_strv_builder_end(b);
    return;
  }
  }
}

static void
apply_defaults(ArConfig *cfg)
{
  Loader ld = { cfg, "<defaults>", g_string_new(NULL), 0 };
  for (guint i = 0; i < ar_config_n_keys; i++) {
    const ArConfigKey *key = &ar_config_keys[i];
    if (!key->default_toml || g_str_has_prefix(key->section, "phases."))
      continue;
    g_autofree char *doc = g_strdup_printf("v = %s\n", key->default_toml);
    g_autoptr(ArTomlNode) root = ar_toml_parse(doc, -1, "<defaults>", NULL);
    g_assert(root != NULL);
    apply_value(&ld, key, ar_toml_get(root, "v"), cfg, key->section);
  }
  g_assert(ld.n_errors == 0);
  g_string_free(ld.errors, TRUE);
}

static void
load_phase_table(Loader *ld, const ArTomlNode *table)
{
  ArPhase *phase = g_new0(ArPhase, 1);
  phase->name = g_strdup(table->key);
  phase->disable_pre_round_hooks = -1;
  g_ptr_array_add(ld->cfg->phases, phase);
  g_autofree char *label = g_strdup_printf("[phases.%s]", table->key);

  g_auto(GStrv) allowed = section_key_names("phases.NAME");
  for (guint i = 0; i < ar_toml_len(table); i++) {
    const ArTomlNode *item = ar_toml_at(table, i);
    if (g_str_equal(item->key, "prompt") && item->type == AR_TOML_TABLE) {
      for (guint j = 0; j < ar_toml_len(item); j++) {
        const ArTomlNode *p = ar_toml_at(item, j);
        const ArConfigKey *key = ar_config_key_lookup("phases.NAME.prompt", p->key);
        if (key == NULL) {
          loader_error(ld, p,
                       _("unknown key \"%s\" in [phases.%s.prompt]; only \"files\" is allowed"),
                       p->key, table->key);
          continue;
        }
        apply_value(ld, key, p, phase, label);
      }
      continue;
    }
    if (g_str_equal(item->key, "hooks") && item->type == AR_TOML_TABLE) {
      g_auto(GStrv) hook_keys = section_key_names("phases.NAME.hooks");
      g_autofree char *hlabel = g_strdup_printf("[phases.%s.hooks]", table->key);
      for (guint j = 0; j < ar_toml_len(item); j++) {
        const ArTomlNode *h = ar_toml_at(item, j);
        const ArConfigKey *key = ar_config_key_lookup("phases.NAME.hooks", h->key);
        if (key == NULL) {
          g_autofree char *list = g_strjoinv(", ", hook_keys);
          g_autofree char *dym = did_you_mean(h->key, (const char *const *)hook_keys);
          loader_error(ld, h, _("unknown key \"%s\" in %s%s (allowed: %s)"), h->key, hlabel, dym,
                       list);
          continue;
        }
        apply_value(ld, key, h, phase, hlabel);
      }
      continue;
    }
    const ArConfigKey *key = ar_config_key_lookup("phases.NAME", item->key);
    if (key == NULL) {
      g_autofree char *list = g_strjoinv(", ", allowed);
      g_autofree char *dym = did_you_mean(item->key, (const char *const *)allowed);
      loader_error(ld, item, _("unknown key \"%s\" in %s%s (allowed: %s, prompt.files, hooks)"),
                   item->key, label, dym, list);
      continue;
    }
    apply_value(ld, key, item, phase, label);
  }
}

static void load_section(Loader *ld, const char *section, const ArTomlNode *table);

static void
load_key(Loader *ld, const char *section, const ArTomlNode *item)
{
  g_autofree char *label = quoted_section(section);
  g_autofree char *sub = g_strdup_printf("%s.%s", section, item->key);

  for (guint r = 0; r < ar_config_n_removed_keys; r++) {
    const ArRemovedKey *rk = &ar_config_removed_keys[r];
    if (g_str_equal(rk->section, section) && g_str_equal(rk->name, item->key)) {
      loader_error(ld, item, _("%s %s is no longer supported: %s"), label, item->key, rk->hint);
      return;
    }
  }
  if (g_strv_contains(ar_config_sections, sub) && !g_str_equal(sub, "agent.env")) {
    if (item->type != AR_TOML_TABLE) {
      loader_value_error(ld, item, _("%s must be a table"), sub);
      return;
    }
    load_section(ld, sub, item);
    return;
  }
  if (g_str_equal(section, "phases") && item->type == AR_TOML_TABLE) {
    load_phase_table(ld, item);
    return;
  }
  if (g_str_equal(section, "plugins") && !g_str_equal(item->key, "disable"))
    return; /* [plugins.NAME] and other keys belong to plugins */

  const ArConfigKey *key = ar_config_key_lookup(section, item->key);
  if (key == NULL && ar_monitor_setting_lookup(section, item->key)) {
    g_autofree char *where = ar_monitor_settings_path(FALSE);
    loader_error(ld, item,
                 _("%s %s is a setting of the bus's monitor, not of one project: write it in %s "
                   "(or /etc/agent-runner/monitor.toml for the system bus)"),
                 label, item->key, where);
    return;
  }
  if (key == NULL) {
    g_auto(GStrv) names = section_key_names(section);
    g_autofree char *dym = did_you_mean(item->key, (const char *const *)names);
    loader_error(ld, item, _("unknown key \"%s\" in %s%s"), item->key, label, dym);
    return;
  }
  if (g_str_equal(section, "prompt") &&
      (g_str_equal(item->key, "file") || g_str_equal(item->key, "files"))) {
    /* Both land in prompt_files; which one was given is checked later. */
    ArConfigKey as_list = *key;
    as_list.offset = offsetof(ArConfig, prompt_files);
    if (key->type == AR_KEY_PATH) {
      if (item->type != AR_TOML_STRING) {
        loader_value_error(ld, item,
                           _("[prompt] file must be a string (one path); use files = "
                             "[...] for several"));
        return;
      }
      g_strfreev(ld->cfg->prompt_files);
      ld->cfg->prompt_files = g_new0(char *, 2);
      ld->cfg->prompt_files[0] = expand_path(ld->cfg, item->v.str);
      return;
    }
    apply_value(ld, &as_list, item, ld->cfg, label);
    return;
  }
  apply_value(ld, key, item, ld->cfg, label);
}

static void
load_section(Loader *ld, const char *section, const ArTomlNode *table)
{
  for (guint i = 0; i < ar_toml_len(table); i++)
    load_key(ld, section, ar_toml_at(table, i));
}

static gboolean
strv_has_substring(GStrv v, const char *needle)
{
  for (guint i = 0; v && v[i]; i++)
    if (strstr(v[i], needle))
      return TRUE;
  return FALSE;
}

/* Every hook name of the file, [hooks] and [phases.NAME.hooks]. */
static void
add_hook_names(GPtrArray *names, GPtrArray *const *hooks)
{
  for (int k = 0; k < AR_HOOK_N_KINDS; k++)
    for (guint i = 0; hooks[k] && i < hooks[k]->len; i++)
      g_ptr_array_add(names, ar_hook_name(g_ptr_array_index(hooks[k], i)));
}

/* Each of values must be one of names (NULL-terminated); a typo would
 * silently do nothing. root: the file, for the file:line:col of each. */
static void
check_known_names(Loader *ld, char **values, GPtrArray *names, const ArTomlNode *root,
                  const char *section, const char *key)
{
  g_ptr_array_add(names, NULL);
  const char *const *known = (const char *const *)names->pdata;
  const ArTomlNode *sec = ar_toml_get(root, section);
  const ArTomlNode *list = sec && sec->type == AR_TOML_TABLE ? ar_toml_get(sec, key) : NULL;
  g_autofree char *label = g_strdup_printf("[%s]", section);
  for (guint i = 0; values && values[i]; i++) {
    if (g_strv_contains(known, values[i]))
      continue;
    g_autofree char *joined = g_strjoinv(", ", (GStrv)known);
    g_autofree char *dym = did_you_mean(values[i], known);
    loader_error(ld, list ? ar_toml_at(list, i) : NULL,
                 _("%s %s: unknown name \"%s\"%s (known: %s)"), label, key, values[i], dym, joined);
  }
}

/* [plugins] disable names built-ins and hooks alike. */
static void
check_plugins_disable(Loader *ld, const ArTomlNode *root)
{
  ArConfig *cfg = ld->cfg;
  if (cfg->plugins_disable == NULL || cfg->plugins_disable[0] == NULL)
    return;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; ar_known_plugins[i]; i++)
    g_ptr_array_add(names, g_strdup(ar_known_plugins[i]));
  add_hook_names(names, cfg->hooks);
  for (guint i = 0; cfg->phases && i < cfg->phases->len; i++)
    add_hook_names(names, ((ArPhase *)g_ptr_array_index(cfg->phases, i))->hooks);
  check_known_names(ld, cfg->plugins_disable, names, root, "plugins", "disable");
}

/* [monitor] auto_stop_on names built-in detectors and [hooks] detector
 * hooks. */
static void
check_auto_stop_on(Loader *ld, const ArTomlNode *root)
{
  ArConfig *cfg = ld->cfg;
  if (cfg->auto_stop_on == NULL || cfg->auto_stop_on[0] == NULL)
    return;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; ar_known_detectors[i]; i++)
    g_ptr_array_add(names, g_strdup(ar_known_detectors[i]));
  GPtrArray *hooks = cfg->hooks[AR_HOOK_DETECTOR];
  for (guint i = 0; hooks && i < hooks->len; i++)
    g_ptr_array_add(names, ar_hook_name(g_ptr_array_index(hooks, i)));
  check_known_names(ld, cfg->auto_stop_on, names, root, "monitor", "auto_stop_on");
}

/* [events] kinds: names a journal field and a jq filter can carry, and
 * never a built-in kind (a hook must not forge round_end). */
static void
check_event_kinds(Loader *ld, const ArTomlNode *root)
{
  const ArTomlNode *sec = ar_toml_get(root, "events");
  const ArTomlNode *list = sec && sec->type == AR_TOML_TABLE ? ar_toml_get(sec, "kinds") : NULL;
  for (guint i = 0; ld->cfg->event_kinds && ld->cfg->event_kinds[i]; i++) {
    const char *name = ld->cfg->event_kinds[i];
    const ArTomlNode *at = list ? ar_toml_at(list, i) : NULL;
    const ArEventKind *known = ar_event_kind_lookup(name);
    if (!g_regex_match_simple("^[a-z][a-z0-9_]{0,63}$", name, 0, 0))
      loader_error(ld, at, _("[events] kinds: \"%s\" is not a valid kind name ([a-z][a-z0-9_]*)"),
                   name);
    else if (known && !g_str_equal(known->origin, AR_EVENT_ORIGIN_HOOK))
      loader_error(ld, at,
                   _("[events] kinds: \"%s\" is a built-in event kind; choose another name"), name);
  }
}

/* Checks that involve more than one key. */
static void
cross_check(Loader *ld, const ArTomlNode *root)
{
  ArConfig *cfg = ld->cfg;
  const ArTomlNode *agent = ar_toml_get(root, "agent");
  const ArTomlNode *runtime = ar_toml_get(root, "runtime");
  const ArTomlNode *prompt = ar_toml_get(root, "prompt");

  for (guint i = 0; i < ar_config_n_keys; i++) {
    const ArConfigKey *key = &ar_config_keys[i];
    if (!key->required)
      continue;
    const ArTomlNode *sec = ar_toml_get(root, key->section);
    if (sec == NULL || sec->type != AR_TOML_TABLE || ar_toml_get(sec, key->name) == NULL)
      loader_error(ld, sec && sec->type == AR_TOML_TABLE ? sec : NULL, _("[%s] %s is required: %s"),
                   key->section, key->name, key->doc);
  }

  if (cfg->command && cfg->command[0] == NULL)
    loader_value_error(ld, ar_toml_get(agent, "command"),
                       _("[agent] command is empty: name the agent CLI, e.g. [\"claude\"]"));

  if (cfg->prompt_arg_template) {
    const ArTomlNode *tpl = ar_toml_get(agent, "prompt_arg_template");
    gboolean has = strv_has_substring(cfg->prompt_arg_template, "{prompt}");
    if (cfg->prompt_delivery == AR_PROMPT_ARGV && !has)
      loader_value_error(
          ld, tpl,
          _("[agent] prompt_arg_template has no {prompt}: in argv mode the prompt "
            "would be dropped; add \"{prompt}\" or set prompt_delivery = \"stdin\""));
    if (cfg->prompt_delivery == AR_PROMPT_STDIN && has)
      loader_value_error(ld, tpl,
                         _("[agent] prompt_arg_template contains {prompt} but prompt_delivery is "
                           "\"stdin\": remove it from the template"));
  }

  if (cfg->output == NULL && cfg->command)
    cfg->output =
        g_strdup(ar_dialect_to_string(ar_dialect_guess((const char *const *)cfg->command)));

  const ArTomlNode *pfile =
      prompt && prompt->type == AR_TOML_TABLE ? ar_toml_get(prompt, "file") : NULL;
  const ArTomlNode *pfiles =
      prompt && prompt->type == AR_TOML_TABLE ? ar_toml_get(prompt, "files") : NULL;
  if (pfile && pfiles)
    loader_error(ld, pfiles, _("[prompt] has both file and files: keep one"));
  else if (!pfile && !pfiles)
    loader_error(ld, prompt && prompt->type == AR_TOML_TABLE ? prompt : NULL,
                 _("[prompt] needs file = \"prompts/main.md\" or files = [...]"));
  else if (pfiles && cfg->prompt_files && cfg->prompt_files[0] == NULL)
    loader_value_error(ld, pfiles, _("[prompt] files is empty: list at least one file"));

  if (cfg->work_dir) {
    g_autofree char *base = g_path_get_basename(cfg->work_dir);
    if (!ar_project_name_valid(base))
      loader_value_error(ld, ar_toml_get(runtime, "work_dir"),
                         _("the project name is the basename of work_dir, \"%s\", which must "
                           "match [A-Za-z0-9._-]+: rename the directory"),
                         base);
  }

  /* Phase tables must name a listed phase: a typo would silently do
   * nothing. */
  const ArTomlNode *phases = ar_toml_get(root, "phases");
  for (guint i = 0; cfg->phases && i < cfg->phases->len; i++) {
    ArPhase *ph = g_ptr_array_index(cfg->phases, i);
    if (cfg->phase_list && g_strv_contains((const char *const *)cfg->phase_list, ph->name))
      continue;
    g_autofree char *dym = cfg->phase_list
                               ? did_you_mean(ph->name, (const char *const *)cfg->phase_list)
                               : g_strdup("");
    loader_error(ld, ar_toml_get(phases, ph->name), _("[phases.%s] is not in [phases] list%s"),
                 ph->name, dym);
  }

  check_plugins_disable(ld, root);
  check_auto_stop_on(ld, root);
  check_event_kinds(ld, root);

  if (cfg->disk_warning_pct > cfg->disk_critical_pct)
    loader_error(
        ld, NULL,
        _("[monitor.host_health] disk_warning_pct (%.1f) is above disk_critical_pct (%.1f)"),
        cfg->disk_warning_pct, cfg->disk_critical_pct);
}

static void
phase_free(gpointer p)
{
  ArPhase *phase = p;
  g_free(phase->name);
  g_strfreev(phase->prompt_files);
  for (int k = 0; k < AR_HOOK_N_KINDS; k++)
    g_clear_pointer(&phase->hooks[k], g_ptr_array_unref);
  g_free(phase);
}

static ArConfig *
config_new(void)
{
  ArConfig *cfg = g_new0(ArConfig, 1);
  cfg->ref_count = 1;
  cfg->phases = g_ptr_array_new_with_free_func(phase_free);
  cfg->supervisor_stale_threshold_s = -1;
  apply_defaults(cfg);
  return cfg;
}

ArConfig *
ar_config_load(const char *path, GError **error)
{
  g_autofree char *abs = g_canonicalize_filename(path, NULL);
  /* A symlinked config (agent-runner install links
   * ~/.config/agent-runner/projects/PROJECT.toml to it) behaves as the
   * file itself: relative paths resolve next to the real file. */
  {
    char *real = realpath(abs, NULL);
    if (real) {
      g_free(abs);
      abs = g_strdup(real);
      free(real);
    }
  }
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  data = ar_read_regular_file(abs, AR_CONFIG_MAX_BYTES, &len, &local);
  if (!data) {
    if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
      g_set_error(error, AR_ERROR, AR_ERROR_CONFIG,
                  _("%s: config not found; create one with 'agent-runner init' or pass --config"),
                  path);
    else if (g_strcmp0(abs, path) != 0 && !g_path_is_absolute(path))
      g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, "%s", local->message);
    else if (g_strcmp0(abs, path) != 0)
      /* Name the path the user gave, not only where its links lead. */
      g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, "%s: %s", path, local->message);
    else
      g_set_error(error, AR_ERROR, AR_ERROR_CONFIG, "%s", local->message);
    return NULL;
  }
  g_autoptr(ArTomlNode) root = ar_toml_parse(data, len, path, &local);
  if (root == NULL) {
    /* The parser stops at the first error; its message is bounded too. */
    g_autoptr(GString) msg = g_string_new(NULL);
    append_capped(msg, local->message);
    g_set_error_literal(error, AR_ERROR, AR_ERROR_CONFIG, msg->str);
    return NULL;
  }

  g_autoptr(ArConfig) cfg = config_new();
  cfg->config_path = g_steal_pointer(&abs);
  cfg->config_dir = g_path_get_dirname(cfg->config_path);
  Loader ld = { cfg, path, g_string_new(NULL), 0 };
  check_no_nul(&ld, root);

  /* work_dir first: its basename is the {project} of every other path. */
  const ArTomlNode *runtime = ar_toml_get(root, "runtime");
  const ArTomlNode *wd =
      runtime && runtime->type == AR_TOML_TABLE ? ar_toml_get(runtime, "work_dir") : NULL;
  if (wd && wd->type == AR_TOML_STRING) {
    cfg->work_dir = expand_path(cfg, wd->v.str);
    cfg->project = g_path_get_basename(cfg->work_dir);
  }

  for (guint i = 0; i < ar_toml_len(root); i++) {
    const ArTomlNode *item = ar_toml_at(root, i);
    if (!g_strv_contains(ar_config_sections, item->key) || strchr(item->key, '.')) {
      g_autofree char *dym = did_you_mean(item->key, ar_config_sections);
      loader_error(&ld, item, _("unknown section [%s]%s"), item->key, dym);
      continue;
    }
    if (item->type != AR_TOML_TABLE) {
      loader_value_error(&ld, item, _("%s must be a table ([%s])"), item->key, item->key);
      continue;
    }
    load_section(&ld, item->key, item);
  }
  cross_check(&ld, root);
  finish_errors(&ld);

  if (ld.n_errors) {
    g_set_error_literal(error, AR_ERROR, AR_ERROR_CONFIG, ld.errors->str);
    g_string_free(ld.errors, TRUE);
    return NULL;
  }
  g_string_free(ld.errors, TRUE);
  cfg->toml = g_steal_pointer(&root);
  return g_steal_pointer(&cfg);
}

ArConfig *
ar_config_ref(ArConfig *cfg)
{
  g_atomic_int_inc(&cfg->ref_count);
  return cfg;
}

void
ar_config_unref(ArConfig *cfg)
{
  if (cfg == NULL || !g_atomic_int_dec_and_test(&cfg->ref_count))
    return;
  /* Free every string and list field through the key table, so a new key
   * cannot leak. */
  for (guint i = 0; i < ar_config_n_keys; i++) {
    const ArConfigKey *key = &ar_config_keys[i];
    if (g_str_has_prefix(key->section, "phases.") || key->offset == 0)
      continue;
    gpointer field = (guint8 *)cfg + key->offset;
    switch (key->type) {
    case AR_KEY_STRING:
    case AR_KEY_PATH:
      g_clear_pointer((char **)field, g_free);
      break;
    case AR_KEY_STRV:
    case AR_KEY_PATHV:
    case AR_KEY_REGEXV:
    case AR_KEY_NAMES:
    case AR_KEY_PHASE_LIST:
    case AR_KEY_ENV:
      g_clear_pointer((GStrv *)field, g_strfreev);
      break;
    case AR_KEY_HOOKS:
      g_clear_pointer((GPtrArray **)field, g_ptr_array_unref);
      break;
    default:
      break;
    }
  }
  g_strfreev(cfg->prompt_files);
  g_free(cfg->config_path);
  g_free(cfg->config_dir);
  g_free(cfg->project);
  g_ptr_array_unref(cfg->phases);
  g_clear_pointer(&cfg->toml, ar_toml_node_free);
  g_free(cfg);
}

char *
ar_config_default_path(void)
{
  return g_canonicalize_filename("agent-runner.toml", NULL);
}
