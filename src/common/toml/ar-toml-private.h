/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Shared between the TOML document parser (ar-toml.c) and the value lexer
 * (ar-toml-value.c), which both read through ar-toml-cursor.c; not for use
 * outside the ar-toml-*.c files. */

#include "ar-toml.h"

G_BEGIN_DECLS

typedef struct {
  const char *data;
  gsize len;
  gsize pos;
  const char *filename;
  ArTomlVersion version;

  /* Offset -> line:col cache. Positions are asked for in document order, so
   * scanning forward from the last answer keeps the whole parse linear. */
  gsize loc_off;
  guint loc_line;
  guint loc_col;

  ArTomlNode *current; /* table that key/value lines of this section go to */
  GPtrArray *pending;  /* tables walked by dotted keys in this section */
} ArTomlParser;

static inline guchar
ar_toml_peek(const ArTomlParser *p, gsize ahead)
{
  /* The input was checked to hold no NUL, so 0 can only mean "past the end". */
  return p->pos + ahead < p->len ? (guchar)p->data[p->pos + ahead] : 0;
}

static inline gboolean
ar_toml_is_control(guchar c)
{
  /* Tab is the one control character TOML lets through unescaped. */
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Every node of a parse is one of these: what the parser needs to know
 * about a node beyond the public fields (the flags are the parser's). */
typedef struct {
  ArTomlNode pub;
  ArTomlNode *parent; /* for naming a key's full path in messages */
  guint flags;
  guint depth;
} ArTomlParseNode;

/* ar-toml-cursor.c */
void ar_toml_locate(ArTomlParser *p, gsize off, guint *line, guint *col);
gboolean ar_toml_fail(ArTomlParser *p, GError **error, gsize off, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
/* "'x'", "end of line", "end of file", "U+3000": what stands at off. */
char *ar_toml_describe_at(const ArTomlParser *p, gsize off);

ArTomlNode *ar_toml_node_alloc(ArTomlType type, guint line, guint col);
/* A node at off of the input. */
ArTomlNode *ar_toml_node_new(ArTomlParser *p, ArTomlType type, gsize off);

/* ar-toml-value.c */

/* p->pos at an opening quote. Keys may not be multi-line strings. */
gboolean ar_toml_lex_string(ArTomlParser *p, gboolean is_key, GString *out, GError **error);
/* Booleans, numbers and date/times: p->pos at the first character. */
ArTomlNode *ar_toml_lex_scalar(ArTomlParser *p, GError **error);

G_END_DECLS
