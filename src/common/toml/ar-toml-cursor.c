/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "ar-toml-private.h"

/* What the document parser (ar-toml.c) and the value lexer
 * (ar-toml-value.c) both use while reading one input: positions as
 * line:col, errors that name them, and new nodes stamped with them. */

GQuark
ar_toml_error_quark(void)
{
  return g_quark_from_static_string("ar-toml-error-quark");
}

/* ---- positions and errors ---- */

void
ar_toml_locate(ArTomlParser *p, gsize off, guint *line, guint *col)
{
  off = MIN(off, p->len);
  if (off < p->loc_off) {
    p->loc_off = 0;
    p->loc_line = 1;
    p->loc_col = 1;
    /* A byte order mark is not a column. */
    if (p->len >= 3 && memcmp(p->data, "\xEF\xBB\xBF", 3) == 0)
      p->loc_off = MIN(off, 3);
  }
  for (gsize i = p->loc_off; i < off; i++) {
    guchar c = p->data[i];
    if (c == '\n') {
      p->loc_line++;
      p->loc_col = 1;
    } else if ((c & 0xC0) != 0x80) {
      /* Columns count characters, not the bytes of their UTF-8 encoding. */
      p->loc_col++;
    }
  }
  p->loc_off = off;
  *line = p->loc_line;
  *col = p->loc_col;
}

gboolean
ar_toml_fail(ArTomlParser *p, GError **error, gsize off, const char *fmt, ...)
{
  guint line, col;
  va_list ap;

  ar_toml_locate(p, off, &line, &col);
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, AR_TOML_ERROR, AR_TOML_ERROR_SYNTAX, "%s:%u:%u: %s", p->filename, line, col,
              msg);
  return FALSE;
}

char *
ar_toml_describe_at(const ArTomlParser *p, gsize off)
{
  if (off >= p->len)
    return g_strdup("end of file");

  guchar c = p->data[off];
  if (c == '\n' || (c == '\r' && off + 1 < p->len && p->data[off + 1] == '\n'))
    return g_strdup("end of line");
  if (c == ' ')
    return g_strdup("a space");
  if (c == '\t')
    return g_strdup("a tab");
  if (c > 0x20 && c < 0x7f)
    return g_strdup_printf("'%c'", c);
  return g_strdup_printf("U+%04X", (guint)g_utf8_get_char(p->data + off));
}

/* ---- nodes ---- */

ArTomlNode *
ar_toml_node_alloc(ArTomlType type, guint line, guint col)
{
  ArTomlParseNode *node = g_new0(ArTomlParseNode, 1);

  node->pub.type = type;
  node->pub.line = line;
  node->pub.col = col;
  if (type == AR_TOML_TABLE || type == AR_TOML_ARRAY)
    node->pub.items = g_ptr_array_new_with_free_func((GDestroyNotify)ar_toml_node_free);
  if (type == AR_TOML_TABLE)
    node->pub.index = g_hash_table_new(g_str_hash, g_str_equal);
  return &node->pub;
}

ArTomlNode *
ar_toml_node_new(ArTomlParser *p, ArTomlType type, gsize off)
{
  guint line, col;

  ar_toml_locate(p, off, &line, &col);
  return ar_toml_node_alloc(type, line, col);
}
