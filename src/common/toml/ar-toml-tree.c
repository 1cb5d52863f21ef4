/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "ar-toml.h"

/* What one does with a parsed tree: look things up, print it as toml-test's
 * tagged JSON, free it. Building it is ar-toml.c's business. */

void
ar_toml_node_free(ArTomlNode *node)
{
  if (node == NULL)
    return;
  /* Depth is bounded by AR_TOML_MAX_DEPTH, so recursion (through the items'
   * free function) is too. */
  g_clear_pointer(&node->index, g_hash_table_unref);
  g_clear_pointer(&node->items, g_ptr_array_unref);
  if (node->type == AR_TOML_STRING)
    g_free(node->v.str);
  else if (node->type >= AR_TOML_DATETIME)
    g_free(node->v.datetime);
  g_free(node->key);
  g_free(node);
}

/* ---- access ---- */

const ArTomlNode *
ar_toml_get(const ArTomlNode *table, const char *key)
{
  if (table == NULL || table->type != AR_TOML_TABLE || key == NULL)
    return NULL;
  return g_hash_table_lookup(table->index, key);
}

guint
ar_toml_len(const ArTomlNode *node)
{
  if (node == NULL || node->items == NULL)
    return 0;
  return node->items->len;
}

const ArTomlNode *
ar_toml_at(const ArTomlNode *node, guint i)
{
  if (i >= ar_toml_len(node))
    return NULL;
  return node->items->pdata[i];
}

const char *
ar_toml_type_name(ArTomlType type)
{
  switch (type) {
  case AR_TOML_TABLE:
    return "table";
  case AR_TOML_ARRAY:
    return "array";
  case AR_TOML_STRING:
    return "string";
  case AR_TOML_INTEGER:
    return "integer";
  case AR_TOML_FLOAT:
    return "float";
  case AR_TOML_BOOL:
    return "bool";
  case AR_TOML_DATETIME:
    return "datetime";
  case AR_TOML_DATETIME_LOCAL:
    return "datetime-local";
  case AR_TOML_DATE_LOCAL:
    return "date-local";
  case AR_TOML_TIME_LOCAL:
    return "time-local";
  }
  return "unknown";
}

/* ---- tagged JSON ---- */

/* toml-test's format: tables become objects, arrays arrays, and every scalar
 * {"type": "...", "value": "..."} with the value always as text. */

static void
append_json_string(GString *out, const char *s, gsize len)
{
  g_string_append_c(out, '"');
  for (gsize i = 0; i < len; i++) {
    guchar c = s[i];
    switch (c) {
    case '"':
      g_string_append(out, "\\\"");
      break;
    case '\\':
      g_string_append(out, "\\\\");
      break;
    case '\n':
      g_string_append(out, "\\n");
      break;
    case '\t':
      g_string_append(out, "\\t");
      break;
    case '\r':
      g_string_append(out, "\\r");
      break;
    case '\b':
      g_string_append(out, "\\b");
      break;
    case '\f':
      g_string_append(out, "\\f");
      break;
    default:
      if (c < 0x20 || c == 0x7f)
        g_string_append_printf(out, "\\u%04x", c);
      else
        g_string_append_c(out, (char)c);
    }
  }
  g_string_append_c(out, '"');
}

/* Shortest of %.15g..%.17g that reads back as the same double, so 0.1 stays
 * "0.1" rather than "0.10000000000000001". */
static void
append_float(GString *out, double d)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan(d)) {
    g_string_append(out, "nan");
    return;
  }
  if (isinf(d)) {
    g_string_append(out, d < 0 ? "-inf" : "inf");
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    g_ascii_formatd(buf, sizeof buf, prec == 15 ? "%.15g" : prec == 16 ? "%.16g" : "%.17g", d);
    if (g_ascii_strtod(buf, NULL) == d)
      break;
  }
  g_string_append(out, buf);
}

static void
append_node(GString *out, const ArTomlNode *node)
{
  /* Depth is bounded by AR_TOML_MAX_DEPTH, so the recursion is too. */
  if (node->type == AR_TOML_TABLE) {
    g_string_append_c(out, '{');
    for (guint i = 0; i < node->items->len; i++) {
      const ArTomlNode *child = node->items->pdata[i];
      if (i > 0)
        g_string_append_c(out, ',');
      append_json_string(out, child->key, child->key_len);
      g_string_append_c(out, ':');
      append_node(out, child);
    }
    g_string_append_c(out, '}');
    return;
  }
  if (node->type == AR_TOML_ARRAY) {
    g_string_append_c(out, '[');
    for (guint i = 0; i < node->items->len; i++) {
      if (i > 0)
        g_string_append_c(out, ',');
      append_node(out, node->items->pdata[i]);
    }
    g_string_append_c(out, ']');
    return;
  }

  g_string_append(out, "{\"type\":\"");
  g_string_append(out, ar_toml_type_name(node->type));
  g_string_append(out, "\",\"value\":");
  switch (node->type) {
  case AR_TOML_STRING:
    append_json_string(out, node->v.str, node->str_len);
    break;
  case AR_TOML_INTEGER:
    g_string_append_printf(out, "\"%" G_GINT64_FORMAT "\"", node->v.integer);
    break;
  case AR_TOML_FLOAT:
    g_string_append_c(out, '"');
    append_float(out, node->v.fp);
    g_string_append_c(out, '"');
    break;
  case AR_TOML_BOOL:
    g_string_append(out, node->v.boolean ? "\"true\"" : "\"false\"");
    break;
  default:
    append_json_string(out, node->v.datetime, strlen(node->v.datetime));
    break;
  }
  g_string_append_c(out, '}');
}

char *
ar_toml_to_tagged_json(const ArTomlNode *root)
{
  g_return_val_if_fail(root != NULL, NULL);

  GString *out = g_string_new(NULL);
  append_node(out, root);
  g_string_append_c(out, '\n');
  return g_string_free(out, FALSE);
}
