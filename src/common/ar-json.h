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

G_END_DECLS
