/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Our own TOML 1.0 parser (no C TOML library is packaged for Debian 12).
 * It builds a tree that remembers where every key and value stood, so the
 * config loader can say "agent-runner.toml:12:5: ..." for any problem. */

#include <glib.h>

G_BEGIN_DECLS

#define AR_TOML_ERROR (ar_toml_error_quark())
GQuark ar_toml_error_quark(void);

typedef enum {
  AR_TOML_ERROR_SYNTAX, /* malformed document; message has file:line:col */
  AR_TOML_ERROR_IO,
} ArTomlError;

typedef enum {
  AR_TOML_TABLE,
  AR_TOML_ARRAY,
  AR_TOML_STRING,
  AR_TOML_INTEGER,
  AR_TOML_FLOAT,
  AR_TOML_BOOL,
  AR_TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
  AR_TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
  AR_TOML_DATE_LOCAL,     /* 1979-05-27 */
  AR_TOML_TIME_LOCAL,     /* 07:32:00 */
} ArTomlType;

/* Which edition of the language to accept. 1.0 is the default and strict;
 * 1.1 adds \e and \xHH escapes, optional seconds in times, and newlines,
 * comments and a trailing comma inside inline tables. */
typedef enum {
  AR_TOML_1_0,
  AR_TOML_1_1,
} ArTomlVersion;

/* Arrays, inline tables and tables nest at most this deep, so hostile input
 * cannot exhaust the stack of the recursive parser, printer or free. */
#define AR_TOML_MAX_DEPTH 128

typedef struct _ArTomlNode ArTomlNode;

struct _ArTomlNode {
  ArTomlType type;
  /* 1-based position of the value's first character (for tables: of the
   * header or inline brace that defined it; the root table is 1:1). */
  guint line;
  guint col;
  /* 1-based position of the key that names this node in its parent table;
   * 0 for array elements and the root. */
  guint key_line;
  guint key_col;
  char *key;     /* name in the parent table, NULL for array elements and root */
  gsize key_len; /* byte length of key: quoted keys may hold U+0000 */
  union {
    char *str; /* STRING: decoded UTF-8, NUL-terminated; see str_len */
    gint64 integer;
    double fp;
    gboolean boolean;
    char *datetime; /* the four datetime types: normalised RFC 3339 text */
  } v;
  gsize str_len;    /* STRING: byte length of v.str (TOML strings may hold U+0000) */
  GPtrArray *items; /* TABLE and ARRAY: children in document order (ArTomlNode*) */
  /* TABLE: key -> ArTomlNode* (borrowed from items). Keys holding U+0000
   * are left out: a C string cannot name them. */
  GHashTable *index;
};

/* Parse a whole TOML 1.0 document. filename is used only in error messages
 * ("FILE:LINE:COL: message"); NULL gives "<input>". */
ArTomlNode *ar_toml_parse(const char *data, gssize len, const char *filename, GError **error);
ArTomlNode *ar_toml_parse_full(const char *data, gssize len, const char *filename,
                               ArTomlVersion version, GError **error);
ArTomlNode *ar_toml_parse_file(const char *path, GError **error);
void ar_toml_node_free(ArTomlNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ArTomlNode, ar_toml_node_free)

/* NULL when table is NULL, not a table, or has no such key. */
const ArTomlNode *ar_toml_get(const ArTomlNode *table, const char *key);
guint ar_toml_len(const ArTomlNode *node); /* children of a table or array */
/* i-th child (array element, or table entry in document order); NULL when out
 * of range. */
const ArTomlNode *ar_toml_at(const ArTomlNode *node, guint i);
const char *ar_toml_type_name(ArTomlType type); /* "string", "integer", "table", ... */

/* toml-test's tagged JSON ({"type":"integer","value":"42"} leaves), used by
 * the decoder program the toml-test suite drives. */
char *ar_toml_to_tagged_json(const ArTomlNode *root);

G_END_DECLS
