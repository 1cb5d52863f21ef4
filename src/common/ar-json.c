/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "ar-json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static JsonNode *
member_value(JsonObject *obj, const char *member)
{
  JsonNode *node = obj ? json_object_get_member(obj, member) : NULL;
  return node && JSON_NODE_HOLDS_VALUE(node) ? node : NULL;
}

const char *
ar_json_str(JsonObject *obj, const char *member)
{
  JsonNode *node = member_value(obj, member);
  return node && json_node_get_value_type(node) == G_TYPE_STRING ? json_node_get_string(node)
                                                                 : NULL;
}

gint64
ar_json_int(JsonObject *obj, const char *member, gboolean *present)
{
  JsonNode *node = member_value(obj, member);
  GType t = node ? json_node_get_value_type(node) : G_TYPE_INVALID;
  gboolean ok = t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;

  if (present)
    *present = ok;
  if (!ok)
    return 0;
  return t == G_TYPE_INT64 ? json_node_get_int(node) : (gint64)json_node_get_double(node);
}

double
ar_json_double(JsonObject *obj, const char *member, gboolean *present)
{
  JsonNode *node = member_value(obj, member);
  GType t = node ? json_node_get_value_type(node) : G_TYPE_INVALID;
  gboolean ok = t == G_TYPE_INT64 || t == G_TYPE_DOUBLE;

  if (present)
    *present = ok;
  if (!ok)
    return 0;
  return t == G_TYPE_DOUBLE ? json_node_get_double(node) : (double)json_node_get_int(node);
}

gboolean
ar_json_bool(JsonObject *obj, const char *member, gboolean dflt)
{
  JsonNode *node = member_value(obj, member);
  return node && json_node_get_value_type(node) == G_TYPE_BOOLEAN ? json_node_get_boolean(node)
                                                                  : dflt;
}

JsonObject *
ar_json_obj(JsonObject *obj, const char *member)
{
  JsonNode *node = obj ? json_object_get_member(obj, member) : NULL;
  return node && JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
}

JsonArray *
ar_json_array(JsonObject *obj, const char *member)
{
  JsonNode *node = obj ? json_object_get_member(obj, member) : NULL;
  return node && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
}

void
ar_json_add_str(JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name(b, member);
  if (value)
    json_builder_add_string_value(b, value);
  else
    json_builder_add_null_value(b);
}

void
ar_json_set_str(JsonObject *o, const char *member, const char *value)
{
  if (value)
    json_object_set_string_member(o, member, value);
  else
    json_object_set_null_member(o, member);
}

void
ar_json_add_int(JsonBuilder *b, const char *member, gint64 value)
{
  json_builder_set_member_name(b, member);
  json_builder_add_int_value(b, value);
}

/* ---- writing: the Python tool's json.dumps ---------------------------- */

void
ar_json_append_string(GString *out, const char *s)
{
  g_autofree char *fixed = g_utf8_validate(s, -1, NULL) ? NULL : g_utf8_make_valid(s, -1);
  if (fixed != NULL)
    s = fixed;
  /* Escape exactly what Python's json.dumps(ensure_ascii=False) escapes:
   * quote, backslash and control characters; everything else stays UTF-8. */
  static const char *const short_escapes[0x20] = {
    ['\b'] = "\\b", ['\t'] = "\\t", ['\n'] = "\\n", ['\f'] = "\\f", ['\r'] = "\\r",
  };
  g_string_append_c(out, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      g_string_append_c(out, '\\');
      g_string_append_c(out, *p);
    } else if (*p < 0x20 && short_escapes[*p] != NULL) {
      g_string_append(out, short_escapes[*p]);
    } else if (*p < 0x20) {
      g_string_append_printf(out, "\\u%04x", *p);
    } else {
      g_string_append_c(out, *p);
    }
  }
  g_string_append_c(out, '"');
}

/* Like Python's repr(float): the shortest digits that read back to the same
 * double, positional notation for exponents in [-4, 16), always a ".0" or an
 * exponent so a reader keeps it a float. JSON has no NaN/Infinity: null. */
static void
append_double(GString *out, double d)
{
  if (!isfinite(d)) {
    g_string_append(out, "null");
    return;
  }
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  char fmt[16];
  int prec = 1;
  for (; prec < 17; prec++) {
    g_snprintf(fmt, sizeof fmt, "%%.%dg", prec);
    g_ascii_formatd(buf, sizeof buf, fmt, d);
    if (g_ascii_strtod(buf, NULL) == d)
      break;
  }
  g_snprintf(fmt, sizeof fmt, "%%.%de", prec - 1);
  char ebuf[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd(ebuf, sizeof ebuf, fmt, d);
  int exponent = atoi(strchr(ebuf, 'e') + 1);
  if (exponent >= prec && exponent < 16) {
    g_snprintf(fmt, sizeof fmt, "%%.%dg", exponent + 1);
    g_ascii_formatd(buf, sizeof buf, fmt, d);
  }
  g_string_append(out, buf);
  if (strpbrk(buf, ".e") == NULL)
    g_string_append(out, ".0");
}

static void
append_value(GString *out, JsonNode *node)
{
  GType type = json_node_get_value_type(node);
  if (type == G_TYPE_STRING)
    ar_json_append_string(out, json_node_get_string(node));
  else if (type == G_TYPE_DOUBLE)
    append_double(out, json_node_get_double(node));
  else if (type == G_TYPE_BOOLEAN)
    g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
  else
    g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
}

void
ar_json_append_members(GString *out, JsonObject *object, gboolean leading_comma)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  json_object_iter_init_ordered(&iter, object);
  while (json_object_iter_next_ordered(&iter, &name, &member)) {
    /* Python's json.dumps separators, so the events files read the same
     * as cli-agent-runner's and users' grep pipelines keep working. */
    if (leading_comma)
      g_string_append(out, ", ");
    leading_comma = TRUE;
    ar_json_append_string(out, name);
    g_string_append(out, ": ");
    ar_json_append(out, member);
  }
}

void
ar_json_append(GString *out, JsonNode *node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL(node)) {
    g_string_append(out, "null");
  } else if (JSON_NODE_HOLDS_OBJECT(node)) {
    g_string_append_c(out, '{');
    ar_json_append_members(out, json_node_get_object(node), FALSE);
    g_string_append_c(out, '}');
  } else if (JSON_NODE_HOLDS_ARRAY(node)) {
    JsonArray *array = json_node_get_array(node);
    g_string_append_c(out, '[');
    for (guint i = 0; i < json_array_get_length(array); i++) {
      if (i > 0)
        g_string_append(out, ", ");
      ar_json_append(out, json_array_get_element(array, i));
    }
    g_string_append_c(out, ']');
  } else {
    append_value(out, node);
  }
}

static void
append_pretty(GString *out, JsonNode *node, guint depth)
{
  gboolean is_obj = node && JSON_NODE_HOLDS_OBJECT(node);
  gboolean is_arr = node && JSON_NODE_HOLDS_ARRAY(node);
  guint len = is_obj   ? json_object_get_size(json_node_get_object(node))
              : is_arr ? json_array_get_length(json_node_get_array(node))
                       : 0;
  if ((!is_obj && !is_arr) || len == 0) {
    ar_json_append(out, node);
    return;
  }
  g_string_append_c(out, is_obj ? '{' : '[');
  guint i = 0;
  if (is_obj) {
    JsonObjectIter iter;
    const char *name;
    JsonNode *member;
    json_object_iter_init_ordered(&iter, json_node_get_object(node));
    while (json_object_iter_next_ordered(&iter, &name, &member)) {
      g_string_append(out, i++ ? ",\n" : "\n");
      for (guint d = 0; d <= depth; d++)
        g_string_append(out, "  ");
      ar_json_append_string(out, name);
      g_string_append(out, ": ");
      append_pretty(out, member, depth + 1);
    }
  } else {
    JsonArray *array = json_node_get_array(node);
    for (; i < len; i++) {
      g_string_append(out, i ? ",\n" : "\n");
      for (guint d = 0; d <= depth; d++)
        g_string_append(out, "  ");
      append_pretty(out, json_array_get_element(array, i), depth + 1);
    }
  }
  g_string_append_c(out, '\n');
  for (guint d = 0; d < depth; d++)
    g_string_append(out, "  ");
  g_string_append_c(out, is_obj ? '}' : ']');
}

char *
ar_json_pretty(JsonNode *node)
{
  GString *out = g_string_new(NULL);
  append_pretty(out, node, 0);
  return g_string_free(out, FALSE);
}
