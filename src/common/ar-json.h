/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shorthands for the JSON the programs read and write (CLI output lines,
 * state.json, Peek, the events): readers tolerate a NULL object, a missing
 * member and a member of another type (they read as absent); writers turn
 * a NULL string into JSON null. */

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

const char *ar_json_str(JsonObject *obj, const char *member);
/* Integers, and doubles truncated toward zero; *present (may be NULL)
 * says whether the member was a number. */
gint64 ar_json_int(JsonObject *obj, const char *member, gboolean *present);
double ar_json_double(JsonObject *obj, const char *member, gboolean *present);
gboolean ar_json_bool(JsonObject *obj, const char *member, gboolean dflt);
JsonObject *ar_json_obj(JsonObject *obj, const char *member);
JsonArray *ar_json_array(JsonObject *obj, const char *member);

void ar_json_add_str(JsonBuilder *b, const char *member, const char *value);
void ar_json_add_int(JsonBuilder *b, const char *member, gint64 value);
/* A string member, or null for NULL (as ar_json_add_str). */
void ar_json_set_str(JsonObject *o, const char *member, const char *value);

/* Compact JSON as the events file writes it, the way the Python tool's
 * json.dumps(ensure_ascii=False) does: UTF-8 unescaped, ", " and ": "
 * separators, shortest round-trip floats, NaN/Inf as null. */
void ar_json_append(GString *out, JsonNode *node);
void ar_json_append_string(GString *out, const char *s);
/* The members of object without the braces; leading_comma puts ", " first. */
void ar_json_append_members(GString *out, JsonObject *object, gboolean leading_comma);
/* The same numbers and strings, indented by 2 per level, one member per
 * line (state.json, the client's --json): never json-glib's %.17g
 * doubles (6.9000000000000004), and an integer stays an integer. */
char *ar_json_pretty(JsonNode *node);

G_END_DECLS
