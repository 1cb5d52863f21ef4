#include "config.h"

#include "ar-json.h"

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
ar_json_add_int(JsonBuilder *b, const char *member, gint64 value)
{
  json_builder_set_member_name(b, member);
  json_builder_add_int_value(b, value);
}
