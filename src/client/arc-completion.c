/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Shell completion for bash, zsh and fish, generated from the tables the
 * client runs on: the verb table (arc_verbs), each verb's GOptionEntry
 * table (collected by calling the verb with arc_options_hook set, so a
 * new option completes without touching this file), the event kinds and
 * the presets. The build writes the three scripts (data/completion);
 * project names are asked at completion time with
 * `agent-runner __complete projects`. */

#include <stdio.h>
#include <string.h>

#include <glib/gi18n.h>

#include "ar-events.h"
#include "ar-names.h"
#include "ar-util.h"
#include "arc-bus.h"
#include "arc-completion.h"
#include "arc-systemd.h"

typedef struct {
  char *long_name;
  char short_name;
  gboolean takes_value;
  char *description;
} Opt;

typedef struct {
  const ArcVerb *verb;
  GPtrArray *opts; /* Opt */
  GPtrArray *args; /* positional words ("check", "list", ...) */
} VerbInfo;

static void
opt_free(Opt *o)
{
  g_free(o->long_name);
  g_free(o->description);
  g_free(o);
}

static void
verb_info_free(VerbInfo *v)
{
  g_ptr_array_unref(v->opts);
  g_ptr_array_unref(v->args);
  g_free(v);
}

static VerbInfo *collecting;

static void
collect_hook(const ArcVerb *verb, const GOptionEntry *entries)
{
  for (const GOptionEntry *e = entries; e && e->long_name; e++) {
    if (e->flags & G_OPTION_FLAG_HIDDEN)
      continue;
    Opt *o = g_new0(Opt, 1);
    o->long_name = g_strdup(e->long_name);
    o->short_name = e->short_name;
    o->takes_value = e->arg != G_OPTION_ARG_NONE;
    o->description = g_strdup(e->description ? _(e->description) : "");
    g_ptr_array_add(collecting->opts, o);
  }
}

/* "[list|show SHA|pop SHA]" -> list show pop; "check" -> check. Upper
 * case words are placeholders (SHA, VERB), not literal arguments. */
static GPtrArray *
positional_words(const ArcVerb *verb)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *pos = arc_verb_positionals(verb);
  g_auto(GStrv) words = g_strsplit_set(pos, "[]| ", -1);
  for (char **w = words; *w; w++) {
    if (!**w || g_ascii_isupper(**w) || strchr(*w, '.'))
      continue;
    g_ptr_array_add(out, g_strdup(*w));
  }
  return out;
}

static GPtrArray *
collect(void)
{
  GPtrArray *verbs = g_ptr_array_new_with_free_func((GDestroyNotify)verb_info_free);
  ArcContext ctx = { 0 };
  for (const ArcVerb *v = arc_verbs; v->name; v++) {
    VerbInfo *info = g_new0(VerbInfo, 1);
    info->verb = v;
    info->opts = g_ptr_array_new_with_free_func((GDestroyNotify)opt_free);
    info->args = positional_words(v);
    g_ptr_array_add(verbs, info);
    if (v->func == arc_verb_help)
      continue;
    /* The verb hands its option table to the hook and stops there. */
    ctx.verb = v;
    collecting = info;
    arc_options_hook = collect_hook;
    char *argv[] = { (char *)v->name, NULL };
    (void)v->func(&ctx, 1, argv);
    arc_options_hook = NULL;
    collecting = NULL;
  }
  return verbs;
}

/* Option values that complete from a list, by option name. */
typedef enum {
  VALUE_NONE,
  VALUE_FILE,
  VALUE_DIR,
  VALUE_PROJECT,
  VALUE_PRESET,
  VALUE_KIND,
  VALUE_ROUND,
  VALUE_HOST, /* -H: the shell's own ssh host completion */
} ValueKind;

static const struct {
  const char *option;
  ValueKind kind;
} value_kinds[] = {
  { "config", VALUE_FILE }, { "project", VALUE_PROJECT }, { "preset", VALUE_PRESET },
  { "kind", VALUE_KIND },   { "round", VALUE_ROUND },     { "path", VALUE_DIR },
  { "host", VALUE_HOST },
};

static ValueKind
value_kind(const char *option)
{
  for (gsize i = 0; i < G_N_ELEMENTS(value_kinds); i++)
    if (g_str_equal(value_kinds[i].option, option))
      return value_kinds[i].kind;
  return VALUE_NONE;
}

static const char *const global_value_opts[] = { "config", "project", "host", NULL };
static const char *const global_flag_opts[] = { "json", "user", "system", "help", "version", NULL };

static char *
words_of_kinds(void)
{
  g_autoptr(GString) s = g_string_new(NULL);
  gsize n = 0;
  const ArEventKind *kinds = ar_event_kinds(&n);
  for (gsize i = 0; i < n; i++)
    g_string_append_printf(s, "%s%s", s->len ? " " : "", kinds[i].name);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static int
compare_strings(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *
words_of_presets(void)
{
  g_autoptr(GString) s = g_string_new(NULL);
  g_autoptr(GDir) d = g_dir_open(ar_presets_dir(), 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  for (const char *name; d && (name = g_dir_read_name(d));)
    if (g_str_has_suffix(name, ".toml"))
      g_ptr_array_add(names, g_strndup(name, strlen(name) - 5));
  g_ptr_array_sort(names, compare_strings);
  for (guint i = 0; i < names->len; i++)
    g_string_append_printf(s, "%s%s", s->len ? " " : "", (char *)g_ptr_array_index(names, i));
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* Single quotes for a shell word. */
static char *
sq(const char *s)
{
  g_autoptr(GString) out = g_string_new("'");
  for (const char *p = s; *p; p++) {
    if (*p == '\'')
      g_string_append(out, "'\\''");
    else
      g_string_append_c(out, *p);
  }
  g_string_append_c(out, '\'');
  return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ---- bash ------------------------------------------------------------- */

static void
bash_value_case(FILE *out, const char *pattern, ValueKind kind, const char *kinds,
                const char *presets)
{
  fprintf(out, "    %s)\n", pattern);
  switch (kind) {
  case VALUE_FILE:
    fputs("      COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", out);
    break;
  case VALUE_DIR:
    fputs("      COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n", out);
    break;
  case VALUE_HOST:
    fputs("      COMPREPLY=($(compgen -A hostname -- \"$cur\")); return ;;\n", out);
    break;
  case VALUE_PROJECT:
    fputs("      COMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" __complete projects "
          "2>/dev/null)\" -- \"$cur\")); return ;;\n",
          out);
    break;
  case VALUE_PRESET:
    fprintf(out, "      COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n", presets);
    break;
  case VALUE_KIND:
    /* A comma-separated list: complete its last element. */
    fprintf(out,
            "      local pre=\"\"; [[ $cur == *,* ]] && pre=\"${cur%%,*},\"\n"
            "      COMPREPLY=($(compgen -P \"$pre\" -W '%s' -- \"${cur##*,}\")); return ;;\n",
            kinds);
    break;
  case VALUE_ROUND:
    fputs("      COMPREPLY=($(compgen -W 'latest' -- \"$cur\")); return ;;\n", out);
    break;
  default:
    fputs("      return ;;\n", out);
    break;
  }
}

static void
gen_bash(FILE *out, GPtrArray *verbs)
{
  g_autofree char *kinds = words_of_kinds();
  g_autofree char *presets = words_of_presets();
  fputs("# bash completion for agent-runner(1).\n"
        "# Generated from the client's verb and option tables; do not edit.\n\n"
        "_agent_runner()\n{\n"
        "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
        "  local verb=\"\" i\n",
        out);
  fputs("  local verbs='", out);
  for (guint i = 0; i < verbs->len; i++) {
    VerbInfo *v = g_ptr_array_index(verbs, i);
    fprintf(out, "%s%s", i ? " " : "", v->verb->name);
  }
  fputs("'\n  local globals='", out);
  for (guint i = 0; global_value_opts[i]; i++)
    fprintf(out, "--%s ", global_value_opts[i]);
  for (guint i = 0; global_flag_opts[i]; i++)
    fprintf(out, "--%s%s", global_flag_opts[i], global_flag_opts[i + 1] ? " " : "");
  fputs("'\n", out);
  /* The verb: the first word that is neither an option nor its value. */
  fputs("  for ((i = 1; i < COMP_CWORD; i++)); do\n"
        "    case \"${COMP_WORDS[i]}\" in\n"
        "      --config|--project) ((i++)) ;;\n"
        "      -*) ;;\n"
        "      *) verb=\"${COMP_WORDS[i]}\"; break ;;\n"
        "    esac\n"
        "  done\n"
        "  case \"$prev\" in\n",
        out);
  /* Every option that takes a value, once: its values or nothing. */
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; global_value_opts[i]; i++) {
    /* -H is the one global option with a short name (as in systemctl). */
    g_autofree char *pat = g_strdup_printf(
        g_str_equal(global_value_opts[i], "host") ? "--%s|-H" : "--%s", global_value_opts[i]);
    bash_value_case(out, pat, value_kind(global_value_opts[i]), kinds, presets);
    g_hash_table_add(seen, (gpointer)global_value_opts[i]);
  }
  for (guint i = 0; i < verbs->len; i++) {
    VerbInfo *v = g_ptr_array_index(verbs, i);
    for (guint j = 0; j < v->opts->len; j++) {
      Opt *o = g_ptr_array_index(v->opts, j);
      if (!o->takes_value || g_hash_table_contains(seen, o->long_name))
        continue;
      g_hash_table_add(seen, o->long_name);
      g_autofree char *pat = o->short_name
                                 ? g_strdup_printf("--%s|-%c", o->long_name, o->short_name)
                                 : g_strdup_printf("--%s", o->long_name);
      bash_value_case(out, pat, value_kind(o->long_name), kinds, presets);
    }
  }
  fputs("  esac\n"
        "  local opts=\"\" args=\"\"\n"
        "  case \"$verb\" in\n"
        "    \"\")\n"
        "      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$globals\" -- \"$cur\"));\n"
        "      else COMPREPLY=($(compgen -W \"$verbs\" -- \"$cur\")); fi\n"
        "      return ;;\n",
        out);
  for (guint i = 0; i < verbs->len; i++) {
    VerbInfo *v = g_ptr_array_index(verbs, i);
    fprintf(out, "    %s) opts='", v->verb->name);
    for (guint j = 0; j < v->opts->len; j++) {
      Opt *o = g_ptr_array_index(v->opts, j);
      fprintf(out, "%s--%s", j ? " " : "", o->long_name);
      if (o->short_name)
        fprintf(out, " -%c", o->short_name);
    }
    fputs("'; args='", out);
    if (v->verb->func == arc_verb_help)
      fputs("$verbs", out);
    for (guint j = 0; j < v->args->len; j++)
      fprintf(out, "%s%s", j ? " " : "", (char *)g_ptr_array_index(v->args, j));
    fputs("' ;;\n", out);
  }
  fputs("  esac\n"
        "  [[ $args == '$verbs' ]] && args=\"$verbs\"\n"
        "  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"$opts $globals\" -- \"$cur\"));\n"
        "  else COMPREPLY=($(compgen -W \"$args\" -- \"$cur\")); fi\n"
        "}\n"
        "complete -F _agent_runner agent-runner\n",
        out);
}

/* ---- zsh -------------------------------------------------------------- */

static void
zsh_values(FILE *out, ValueKind kind, const char *kinds, const char *presets)
{
  switch (kind) {
  case VALUE_FILE:
    fputs("_files", out);
    break;
  case VALUE_DIR:
    fputs("_directories", out);
    break;
  case VALUE_HOST:
    fputs("_hosts", out);
    break;
  case VALUE_PROJECT:
    fputs("_agent_runner_projects", out);
    break;
  case VALUE_PRESET:
    fprintf(out, "(%s)", presets);
    break;
  case VALUE_KIND:
    fprintf(out, "_sequence compadd - %s", kinds);
    break;
  case VALUE_ROUND:
    fputs("(latest)", out);
    break;
  default:
    fputs(" ", out);
    break;
  }
}

static void
zsh_spec(FILE *out, const char *name, char short_name, gboolean value, const char *desc,
         ValueKind kind, const char *kinds, const char *presets)
{
  g_autofree char *d = g_strdelimit(g_strdup(desc), "[]:'", ' ');
  if (short_name)
    fprintf(out, "    '(-%c --%s)'{-%c,--%s}'[%s]", short_name, name, short_name, name, d);
  else
    fprintf(out, "    '--%s[%s]", name, d);
  if (value) {
    fprintf(out, ":%s:", name);
    zsh_values(out, kind, kinds, presets);
  }
  fputs("' \\\n", out);
}

static void
gen_zsh(FILE *out, GPtrArray *verbs)
{
  g_autofree char *kinds = words_of_kinds();
  g_autofree char *presets = words_of_presets();
  fputs("#compdef agent-runner\n"
        "# zsh completion for agent-runner(1).\n"
        "# Generated from the client's verb and option tables; do not edit.\n\n"
        "_agent_runner_projects() {\n"
        "  local -a projects\n"
        "  projects=(${(f)\"$(${words[1]} __complete projects 2>/dev/null)\"})\n"
        "  compadd -a projects\n"
        "}\n\n"
        "_agent_runner() {\n"
        "  local curcontext=\"$curcontext\" state line\n"
        "  local -a verbs\n"
        "  verbs=(\n",
        out);
  for (guint i = 0; i < verbs->len; i++) {
    VerbInfo *v = g_ptr_array_index(verbs, i);
    g_autofree char *d = g_strdelimit(g_strdup(_(v->verb->summary)), ":'", ' ');
    fprintf(out, "    '%s:%s'\n", v->verb->name, d);
  }
  fputs("  )\n  _arguments -C \\\n", out);
  zsh_spec(out, "config", 0, TRUE, _("The config file (default ./agent-runner.toml)"), VALUE_FILE,
           kinds, presets);
  zsh_spec(out, "project", 0, TRUE, _("The project, instead of reading --config"), VALUE_PROJECT,
           kinds, presets);
  zsh_spec(out, "host", 'H', TRUE, _("The host, over ssh: [USER@]HOST[:PORT]"), VALUE_HOST, kinds,
           presets);
  zsh_spec(out, "json", 0, FALSE, _("Machine-readable output"), VALUE_NONE, kinds, presets);
  zsh_spec(out, "user", 0, FALSE, _("The user's service (default)"), VALUE_NONE, kinds, presets);
  zsh_spec(out, "system", 0, FALSE, _("The system service"), VALUE_NONE, kinds, presets);
  zsh_spec(out, "version", 0, FALSE, _("print the version"), VALUE_NONE, kinds, presets);
  fputs("    '1:verb:->verb' \\\n"
        "    '*::arg:->args'\n"
        "  case $state in\n"
        "    verb) _describe -t verbs 'agent-runner verb' verbs ;;\n"
        "    args)\n"
        "      case $line[1] in\n",
        out);
  for (guint i = 0; i < verbs->len; i++) {
    VerbInfo *v = g_ptr_array_index(verbs, i);
    fprintf(out, "        %s)\n          _arguments \\\n", v->verb->name);
    for (guint j = 0; j < v->opts->len; j++) {
      Opt *o = g_ptr_array_index(v->opts, j);
      fputs("  ", out);
      zsh_spec(out, o->long_name, o->short_name, o->takes_value, o->description,
               value_kind(o->long_name), kinds, presets);
    }
    if (v->verb->func == arc_verb_help)
      fputs("            '1:verb:_describe -t verbs verb verbs' \\\n", out);
    else if (v->args->len) {
      fputs("            '1:argument:(", out);
      for (guint j = 0; j < v->args->len; j++)
        fprintf(out, "%s%s", j ? " " : "", (char *)g_ptr_array_index(v->args, j));
      fputs(")' \\\n", out);
    }
    fputs("            && return ;;\n", out);
  }
  fputs("      esac ;;\n"
        "  esac\n"
        "}\n\n"
        "_agent_runner \"$@\"\n",
        out);
}

/* ---- fish ------------------------------------------------------------- */

static void
fish_values(FILE *out, ValueKind kind, const char *kinds, const char *presets)
{
  switch (kind) {
  case VALUE_FILE:
    fputs(" -r -F", out);
    break;
  case VALUE_DIR:
    fputs(" -x -a '(__fish_complete_directories)'", out);
    break;
  case VALUE_HOST:
    fputs(" -x -a '(__fish_print_hostnames)'", out);
    break;
  case VALUE_PROJECT:
    fputs(" -x -a '(agent-runner __complete projects 2>/dev/null)'", out);
    break;
  case VALUE_PRESET:
    fprintf(out, " -x -a '%s'", presets);
    break;
  case VALUE_KIND:
    fprintf(out, " -x -a '%s'", kinds);
    break;
  case VALUE_ROUND:
    fputs(" -x -a 'latest'", out);
    break;
  default:
    fputs(" -x", out);
    break;
  }
}

static void
gen_fish(FILE *out, GPtrArray *verbs)
{
  g_autofree char *kinds = words_of_kinds();
  g_autofree char *presets = words_of_presets();
  g_autoptr(GString) all = g_string_new(NULL);
  for (guint i = 0; i < verbs->len; i++) {
    VerbInfo *v = g_ptr_array_index(verbs, i);
    g_string_append_printf(all, "%s%s", i ? " " : "", v->verb->name);
  }
  fputs("# fish completion for agent-runner(1).\n"
        "# Generated from the client's verb and option tables; do not edit.\n\n"
        "complete -c agent-runner -f\n",
        out);
  const struct {
    const char *name;
    gboolean value;
    const char *desc;
  } globals[] = {
    { "config", TRUE, N_("The config file (default ./agent-runner.toml)") },
    { "project", TRUE, N_("The project, instead of reading --config") },
    { "host", TRUE, N_("The host, over ssh: [USER@]HOST[:PORT]") },
    { "json", FALSE, N_("Machine-readable output") },
    { "user", FALSE, N_("The user's service (default)") },
    { "system", FALSE, N_("The system service") },
    { "version", FALSE, N_("print the version") },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(globals); i++) {
    g_autofree char *d = sq(_(globals[i].desc));
    fprintf(out, "complete -c agent-runner -l %s -d %s", globals[i].name, d);
    if (globals[i].value)
      fish_values(out, value_kind(globals[i].name), kinds, presets);
    fputs("\n", out);
  }
  for (guint i = 0; i < verbs->len; i++) {
    VerbInfo *v = g_ptr_array_index(verbs, i);
    g_autofree char *d = sq(_(v->verb->summary));
    fprintf(out, "complete -c agent-runner -n 'not __fish_seen_subcommand_from %s' -a %s -d %s\n",
            all->str, v->verb->name, d);
    for (guint j = 0; j < v->opts->len; j++) {
      Opt *o = g_ptr_array_index(v->opts, j);
      g_autofree char *od = sq(o->description);
      fprintf(out, "complete -c agent-runner -n '__fish_seen_subcommand_from %s' -l %s",
              v->verb->name, o->long_name);
      if (o->short_name)
        fprintf(out, " -s %c", o->short_name);
      fprintf(out, " -d %s", od);
      if (o->takes_value)
        fish_values(out, value_kind(o->long_name), kinds, presets);
      fputs("\n", out);
    }
    if (v->verb->func == arc_verb_help)
      fprintf(out, "complete -c agent-runner -n '__fish_seen_subcommand_from help' -a '%s'\n",
              all->str);
    else if (v->args->len) {
      fprintf(out, "complete -c agent-runner -n '__fish_seen_subcommand_from %s' -a '",
              v->verb->name);
      for (guint j = 0; j < v->args->len; j++)
        fprintf(out, "%s%s", j ? " " : "", (char *)g_ptr_array_index(v->args, j));
      fputs("'\n", out);
    }
  }
}

/* ---- the man page's VERBS section ---------------------------------------- */

/* roff-escaped: "-" is "\-", a leading "." or "'" is protected. */
static void
roff(FILE *out, const char *text)
{
  if (*text == '.' || *text == '\'')
    fputs("\\&", out);
  for (const char *p = text; *p; p++) {
    if (*p == '-')
      fputs("\\-", out);
    else if (*p == '\\')
      fputs("\\e", out);
    else
      fputc(*p, out);
  }
}

static void
gen_man_verbs(FILE *out, GPtrArray *verbs)
{
  for (guint i = 0; i < verbs->len; i++) {
    VerbInfo *v = g_ptr_array_index(verbs, i);
    fputs(".TP\n.B ", out);
    roff(out, v->verb->name);
    if (v->verb->args && *v->verb->args) {
      fputs(" \\fR", out);
      roff(out, v->verb->args);
    }
    fputs("\n", out);
    roff(out, _(v->verb->summary));
    fputs(".\n", out);
    if (!v->opts->len)
      continue;
    fputs(".RS\n", out);
    for (guint j = 0; j < v->opts->len; j++) {
      Opt *o = g_ptr_array_index(v->opts, j);
      fputs(".TP\n.B ", out);
      if (o->short_name)
        fprintf(out, "\\-%c\\fR, \\fB", o->short_name);
      fputs("\\-\\-", out);
      roff(out, o->long_name);
      fputs("\n", out);
      roff(out, o->description);
      fputs("\n", out);
    }
    fputs(".RE\n", out);
  }
}

/* The page: the template with @VERBS@ replaced (scripts/regen-docs.sh;
 * the docs-drift test compares it with docs/agent-runner.1). */
static int
gen_man(const char *template_path)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  if (!g_file_get_contents(template_path, &text, NULL, &error)) {
    fprintf(stderr, "agent-runner __complete man: %s\n", error->message);
    return AR_EXIT_FAILURE;
  }
  char *at = strstr(text, "@VERBS@\n");
  if (!at) {
    fprintf(stderr, "agent-runner __complete man: no @VERBS@ line in %s\n", template_path);
    return AR_EXIT_FAILURE;
  }
  fwrite(text, 1, at - text, stdout);
  g_autoptr(GPtrArray) verbs = collect();
  gen_man_verbs(stdout, verbs);
  fputs(at + strlen("@VERBS@\n"), stdout);
  return AR_EXIT_OK;
}

/* ---- the hidden verb ---------------------------------------------------- */

/* Projects on the bus and installed ones, one per line, for the scripts. */
static void
print_projects(gboolean system)
{
  g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(sd_bus) bus = NULL;
  if (arc_bus_open(system, &bus) >= 0) {
    g_autoptr(GPtrArray) bus_names = arc_bus_list_names(bus, NULL);
    for (guint i = 0; bus_names && i < bus_names->len; i++) {
      char *p = ar_project_from_bus_name(g_ptr_array_index(bus_names, i));
      if (p)
        g_hash_table_add(names, p);
    }
  }
  g_autofree char *any = arc_systemd_config_link_path(system, "x");
  g_autofree char *dir = g_path_get_dirname(any);
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  for (const char *name; d && (name = g_dir_read_name(d));)
    if (g_str_has_suffix(name, ".toml"))
      g_hash_table_add(names, g_strndup(name, strlen(name) - 5));
  g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(names), (GCompareFunc)g_strcmp0);
  for (GList *l = keys; l; l = l->next)
    printf("%s\n", (char *)l->data);
}

int
arc_completion_main(ArcContext *ctx, int argc, char **argv)
{
  /* __complete projects | __complete script bash|zsh|fish */
  if (argc == 2 && g_str_equal(argv[1], "projects")) {
    print_projects(ctx->system);
    return AR_EXIT_OK;
  }
  if (argc == 3 && g_str_equal(argv[1], "man"))
    return gen_man(argv[2]);
  if (argc == 3 && g_str_equal(argv[1], "script")) {
    static const struct {
      const char *shell;
      void (*gen)(FILE *, GPtrArray *);
    } shells[] = { { "bash", gen_bash }, { "zsh", gen_zsh }, { "fish", gen_fish } };
    for (gsize i = 0; i < G_N_ELEMENTS(shells); i++) {
      if (!g_str_equal(argv[2], shells[i].shell))
        continue;
      g_autoptr(GPtrArray) verbs = collect();
      shells[i].gen(stdout, verbs);
      return AR_EXIT_OK;
    }
  }
  fprintf(stderr,
          "usage: agent-runner __complete projects | script bash|zsh|fish | man TEMPLATE\n");
  return AR_EXIT_USAGE;
}
