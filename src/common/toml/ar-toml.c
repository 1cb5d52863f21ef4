/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "ar-toml-private.h"
#include "ar-util.h"

/* The document parser: lines, keys, table headers, arrays and inline tables,
 * and the rules about which table may be defined or extended where. The
 * scalar values themselves are lexed in ar-toml-value.c. */

typedef enum {
  /* Named by [header] or [[header]], or made by dotted keys in a section that
   * has ended: neither a header nor dotted keys may open it again. */
  NODE_DEFINED = 1 << 0,
  /* An inline table or array value: nothing may be added afterwards. */
  NODE_FROZEN = 1 << 1,
  /* An array made by [[header]]: later headers reach into its last table. */
  NODE_AOT = 1 << 2,
} NodeFlags;

typedef ArTomlParseNode Node;

#define NODE(n) ((Node *)(n))

typedef struct {
  char *name;
  gsize len;
  gsize off;
  guint line;
  guint col;
} KeyPart;

static gboolean
is_bare_key_char(guchar c)
{
  return g_ascii_isalnum(c) || c == '_' || c == '-';
}

static void
append_key_part(GString *out, const char *name, gsize len)
{
  gboolean bare = len > 0;

  for (gsize j = 0; j < len && bare; j++)
    bare = is_bare_key_char(name[j]);
  if (out->len > 0)
    g_string_append_c(out, '.');
  if (bare) {
    g_string_append_len(out, name, len);
    return;
  }
  g_string_append_c(out, '\'');
  for (gsize j = 0; j < len; j++) {
    guchar c = name[j];
    if (ar_toml_is_control(c) || c == 0)
      g_string_append_printf(out, "\\u%04X", c);
    else
      g_string_append_c(out, (char)c);
  }
  g_string_append_c(out, '\'');
}

static void
append_node_path(GString *out, const ArTomlNode *node)
{
  const ArTomlNode *parent = NODE(node)->parent;

  if (parent == NULL)
    return;
  append_node_path(out, parent);
  if (node->key != NULL) {
    append_key_part(out, node->key, node->key_len);
  } else if (!(NODE(parent)->flags & NODE_AOT)) {
    /* An element still being parsed is not in the array yet: it is next. */
    guint i = 0;
    while (i < parent->items->len && parent->items->pdata[i] != node)
      i++;
    g_string_append_printf(out, "[%u]", i);
  }
}

/* The full path of the first n parts of a key that starts at table base, as
 * a person would write it: servers.alpha.'ip v4' */
static char *
format_key(const ArTomlNode *base, GArray *parts, guint n)
{
  GString *out = g_string_new(NULL);

  if (base != NULL)
    append_node_path(out, base);
  for (guint i = 0; i < n; i++) {
    const KeyPart *k = &g_array_index(parts, KeyPart, i);
    append_key_part(out, k->name, k->len);
  }
  return g_string_free(out, FALSE);
}

/* "an array of tables", "a string": for messages. */
static const char *
node_kind(const ArTomlNode *node)
{
  switch (node->type) {
  case AR_TOML_TABLE:
    return (NODE(node)->flags & NODE_FROZEN) ? "an inline table" : "a table";
  case AR_TOML_ARRAY:
    return (NODE(node)->flags & NODE_AOT) ? "an array of tables" : "an array";
  case AR_TOML_STRING:
    return "a string";
  case AR_TOML_INTEGER:
    return "an integer";
  case AR_TOML_FLOAT:
    return "a float";
  case AR_TOML_BOOL:
    return "a boolean";
  case AR_TOML_DATETIME:
    return "a date-time";
  case AR_TOML_DATETIME_LOCAL:
    return "a local date-time";
  case AR_TOML_DATE_LOCAL:
    return "a local date";
  case AR_TOML_TIME_LOCAL:
    return "a local time";
  }
  return "a value";
}

/* ---- nodes ---- */

static ArTomlNode *
table_find(const ArTomlNode *table, const char *name, gsize len)
{
  if (memchr(name, 0, len) == NULL) {
    ArTomlNode *node = g_hash_table_lookup(table->index, name);
    return node != NULL && node->key_len == len ? node : NULL;
  }
  for (guint i = 0; i < table->items->len; i++) {
    ArTomlNode *node = table->items->pdata[i];
    if (node->key_len == len && memcmp(node->key, name, len) == 0)
      return node;
  }
  return NULL;
}

static void
set_key(ArTomlNode *node, const KeyPart *k)
{
  g_free(node->key);
  node->key = g_malloc(k->len + 1);
  memcpy(node->key, k->name, k->len);
  node->key[k->len] = '\0';
  node->key_len = k->len;
  node->key_line = k->line;
  node->key_col = k->col;
}

static void
table_add(ArTomlNode *table, ArTomlNode *child, const KeyPart *k)
{
  set_key(child, k);
  NODE(child)->parent = table;
  NODE(child)->depth = NODE(table)->depth + 1;
  g_ptr_array_add(table->items, child);
  if (memchr(k->name, 0, k->len) == NULL)
    g_hash_table_insert(table->index, child->key, child);
}

static gboolean
check_depth(ArTomlParser *p, guint depth, gsize off, GError **error)
{
  if (depth <= AR_TOML_MAX_DEPTH)
    return TRUE;
  return ar_toml_fail(p, error, off, "nesting too deep (more than %d levels)", AR_TOML_MAX_DEPTH);
}

/* ---- whitespace, comments, line ends ---- */

static void
skip_ws(ArTomlParser *p)
{
  while (ar_toml_peek(p, 0) == ' ' || ar_toml_peek(p, 0) == '\t')
    p->pos++;
}

/* p->pos at '#'; stops before the line end. */
static gboolean
skip_comment(ArTomlParser *p, GError **error)
{
  for (p->pos++; p->pos < p->len; p->pos++) {
    guchar c = ar_toml_peek(p, 0);
    if (c == '\n' || (c == '\r' && ar_toml_peek(p, 1) == '\n'))
      return TRUE;
    if (c == '\r')
      return ar_toml_fail(p, error, p->pos, "carriage return not followed by a line feed");
    if (ar_toml_is_control(c))
      return ar_toml_fail(p, error, p->pos, "control character U+%04X is not allowed in a comment",
                          c);
  }
  return TRUE;
}

static gboolean
skip_newline(ArTomlParser *p)
{
  if (ar_toml_peek(p, 0) == '\n') {
    p->pos++;
    return TRUE;
  }
  if (ar_toml_peek(p, 0) == '\r' && ar_toml_peek(p, 1) == '\n') {
    p->pos += 2;
    return TRUE;
  }
  return FALSE;
}

/* Blanks, comments and newlines, as allowed between array elements. */
static gboolean
skip_gap(ArTomlParser *p, GError **error)
{
  for (;;) {
    skip_ws(p);
    if (ar_toml_peek(p, 0) == '#') {
      if (!skip_comment(p, error))
        return FALSE;
    }
    if (!skip_newline(p))
      return TRUE;
  }
}

static gboolean
skip_inline_gap(ArTomlParser *p, GError **error)
{
  if (p->version >= AR_TOML_1_1)
    return skip_gap(p, error);
  skip_ws(p);
  guchar c = ar_toml_peek(p, 0);
  if (c == '\n' || c == '\r' || c == '#')
    return ar_toml_fail(p, error, p->pos,
                        "an inline table must stay on one line (newlines allowed from TOML 1.1)");
  return TRUE;
}

static gboolean
expect_line_end(ArTomlParser *p, const char *after, GError **error)
{
  skip_ws(p);
  if (ar_toml_peek(p, 0) == '#' && !skip_comment(p, error))
    return FALSE;
  if (p->pos >= p->len || skip_newline(p))
    return TRUE;
  if (ar_toml_peek(p, 0) == '\r')
    return ar_toml_fail(p, error, p->pos, "carriage return not followed by a line feed");
  g_autofree char *what = ar_toml_describe_at(p, p->pos);
  return ar_toml_fail(p, error, p->pos, "expected end of line after %s, found %s", after, what);
}

/* ---- keys ---- */

static void
key_part_clear(gpointer data)
{
  g_free(((KeyPart *)data)->name);
}

static GArray *
parse_key(ArTomlParser *p, GError **error)
{
  g_autoptr(GArray) parts = g_array_new(FALSE, TRUE, sizeof(KeyPart));

  g_array_set_clear_func(parts, key_part_clear);
  for (;;) {
    KeyPart k = { 0 };
    guchar c;

    skip_ws(p);
    c = ar_toml_peek(p, 0);
    k.off = p->pos;
    ar_toml_locate(p, k.off, &k.line, &k.col);
    if (c == '"' || c == '\'') {
      g_autoptr(GString) s = g_string_new(NULL);
      if (!ar_toml_lex_string(p, TRUE, s, error))
        return NULL;
      k.len = s->len;
      k.name = g_string_free(g_steal_pointer(&s), FALSE);
    } else if (is_bare_key_char(c)) {
      while (is_bare_key_char(ar_toml_peek(p, 0)))
        p->pos++;
      k.len = p->pos - k.off;
      k.name = g_strndup(p->data + k.off, k.len);
    } else {
      g_autofree char *what = ar_toml_describe_at(p, p->pos);
      ar_toml_fail(p, error, p->pos, "expected a key%s, found %s", parts->len ? " after '.'" : "",
                   what);
      return NULL;
    }
    g_array_append_val(parts, k);

    skip_ws(p);
    if (ar_toml_peek(p, 0) != '.')
      return g_steal_pointer(&parts);
    p->pos++;
  }
}

/* ---- values ---- */

static ArTomlNode *parse_value(ArTomlParser *p, ArTomlNode *parent, const KeyPart *k, guint depth,
                               GError **error);
static gboolean parse_keyval(ArTomlParser *p, ArTomlNode *table, gboolean in_inline,
                             GError **error);

/* Containers learn their place before their contents are parsed, so that
 * errors inside can name the full path. */
static void
attach_early(ArTomlNode *node, ArTomlNode *parent, const KeyPart *k, guint depth)
{
  NODE(node)->parent = parent;
  NODE(node)->depth = depth;
  if (k != NULL)
    set_key(node, k);
}

static ArTomlNode *
parse_array(ArTomlParser *p, ArTomlNode *parent, const KeyPart *k, guint depth, GError **error)
{
  gsize open = p->pos;
  g_autoptr(ArTomlNode) array = ar_toml_node_new(p, AR_TOML_ARRAY, open);

  attach_early(array, parent, k, depth);
  p->pos++;
  for (;;) {
    if (!skip_gap(p, error))
      return NULL;
    if (p->pos >= p->len) {
      ar_toml_fail(p, error, open, "unterminated array");
      return NULL;
    }
    if (ar_toml_peek(p, 0) == ']')
      break;

    ArTomlNode *item = parse_value(p, array, NULL, depth + 1, error);
    if (item == NULL)
      return NULL;
    NODE(item)->parent = array;
    g_ptr_array_add(array->items, item);

    if (!skip_gap(p, error))
      return NULL;
    if (ar_toml_peek(p, 0) == ',') {
      p->pos++;
    } else if (ar_toml_peek(p, 0) != ']') {
      if (p->pos >= p->len) {
        ar_toml_fail(p, error, open, "unterminated array");
        return NULL;
      }
      g_autofree char *what = ar_toml_describe_at(p, p->pos);
      ar_toml_fail(p, error, p->pos, "expected ',' or ']' in array, found %s", what);
      return NULL;
    }
  }
  p->pos++;
  NODE(array)->flags |= NODE_FROZEN;
  return g_steal_pointer(&array);
}

static ArTomlNode *
parse_inline_table(ArTomlParser *p, ArTomlNode *parent, const KeyPart *k, guint depth,
                   GError **error)
{
  gsize open = p->pos;
  g_autoptr(ArTomlNode) table = ar_toml_node_new(p, AR_TOML_TABLE, open);

  attach_early(table, parent, k, depth);
  p->pos++;
  if (!skip_inline_gap(p, error))
    return NULL;
  while (ar_toml_peek(p, 0) != '}') {
    if (p->pos >= p->len) {
      ar_toml_fail(p, error, open, "unterminated inline table");
      return NULL;
    }
    if (!parse_keyval(p, table, TRUE, error) || !skip_inline_gap(p, error))
      return NULL;

    guchar c = ar_toml_peek(p, 0);
    if (c == ',') {
      gsize comma = p->pos++;
      if (!skip_inline_gap(p, error))
        return NULL;
      if (ar_toml_peek(p, 0) == '}' && p->version < AR_TOML_1_1) {
        ar_toml_fail(p, error, comma, "trailing comma in inline table (allowed from TOML 1.1)");
        return NULL;
      }
    } else if (c != '}') {
      if (p->pos >= p->len) {
        ar_toml_fail(p, error, open, "unterminated inline table");
        return NULL;
      }
      g_autofree char *what = ar_toml_describe_at(p, p->pos);
      ar_toml_fail(p, error, p->pos, "expected ',' or '}' in inline table, found %s", what);
      return NULL;
    }
  }
  p->pos++;
  NODE(table)->flags |= NODE_FROZEN;
  return g_steal_pointer(&table);
}

static ArTomlNode *
parse_value(ArTomlParser *p, ArTomlNode *parent, const KeyPart *k, guint depth, GError **error)
{
  ArTomlNode *node;
  guchar c = ar_toml_peek(p, 0);

  if (!check_depth(p, depth, p->pos, error))
    return NULL;

  if (c == '"' || c == '\'') {
    g_autoptr(GString) s = g_string_new(NULL);
    node = ar_toml_node_new(p, AR_TOML_STRING, p->pos);
    if (!ar_toml_lex_string(p, FALSE, s, error)) {
      ar_toml_node_free(node);
      return NULL;
    }
    node->str_len = s->len;
    node->v.str = g_string_free(g_steal_pointer(&s), FALSE);
  } else if (c == '[') {
    node = parse_array(p, parent, k, depth, error);
  } else if (c == '{') {
    node = parse_inline_table(p, parent, k, depth, error);
  } else {
    node = ar_toml_lex_scalar(p, error);
  }
  if (node != NULL)
    NODE(node)->depth = depth;
  return node;
}

/* ---- key = value ---- */

static gboolean
fail_not_table(ArTomlParser *p, GError **error, const ArTomlNode *base, GArray *key, guint i,
               const ArTomlNode *node)
{
  const KeyPart *k = &g_array_index(key, KeyPart, i);
  g_autofree char *name = format_key(base, key, i + 1);

  if (node->type == AR_TOML_TABLE && (NODE(node)->flags & NODE_FROZEN))
    return ar_toml_fail(p, error, k->off,
                        "cannot add to inline table \"%s\" (defined at %u:%u): inline tables "
                        "are complete as written",
                        name, node->key_line, node->key_col);
  if (node->type == AR_TOML_TABLE)
    return ar_toml_fail(p, error, k->off,
                        "cannot add to table \"%s\" with dotted keys: it was already defined at "
                        "%u:%u",
                        name, node->line, node->col);
  if (node->type == AR_TOML_ARRAY && (NODE(node)->flags & NODE_FROZEN))
    return ar_toml_fail(p, error, k->off,
                        "cannot add to array \"%s\" (defined at %u:%u): arrays are complete as "
                        "written",
                        name, node->key_line, node->key_col);
  return ar_toml_fail(p, error, k->off, "key \"%s\" is already %s (defined at %u:%u), not a table",
                      name, node_kind(node), node->key_line, node->key_col);
}

/* key = value, into table (the section's table or an inline table being
 * built). Dotted keys create tables on the way. */
static gboolean
parse_keyval(ArTomlParser *p, ArTomlNode *table, gboolean in_inline, GError **error)
{
  g_autoptr(GArray) key = parse_key(p, error);
  if (key == NULL)
    return FALSE;

  if (ar_toml_peek(p, 0) != '=') {
    g_autofree char *name = format_key(NULL, key, key->len);
    return ar_toml_fail(p, error, p->pos, "expected '=' after key \"%s\"", name);
  }
  p->pos++;
  skip_ws(p);
  guchar c = ar_toml_peek(p, 0);
  if (p->pos >= p->len || c == '\n' || c == '\r' || c == '#') {
    g_autofree char *name = format_key(NULL, key, key->len);
    return ar_toml_fail(p, error, p->pos, "missing value for key \"%s\"", name);
  }

  /* Walk (and make) the dotted part first, so errors come in source order. */
  ArTomlNode *t = table;
  for (guint i = 0; i + 1 < key->len; i++) {
    const KeyPart *k = &g_array_index(key, KeyPart, i);
    ArTomlNode *child = table_find(t, k->name, k->len);
    if (child == NULL) {
      if (!check_depth(p, NODE(t)->depth + 1, k->off, error))
        return FALSE;
      child = ar_toml_node_alloc(AR_TOML_TABLE, k->line, k->col);
      table_add(t, child, k);
    } else if (child->type != AR_TOML_TABLE ||
               (NODE(child)->flags & (NODE_FROZEN | NODE_DEFINED))) {
      return fail_not_table(p, error, table, key, i, child);
    }
    /* Once this section ends, neither a header nor dotted keys elsewhere may
     * open these tables again. */
    if (!in_inline)
      g_ptr_array_add(p->pending, child);
    t = child;
  }

  const KeyPart *last = &g_array_index(key, KeyPart, key->len - 1);
  const ArTomlNode *old = table_find(t, last->name, last->len);
  if (old != NULL) {
    g_autofree char *name = format_key(table, key, key->len);
    return ar_toml_fail(p, error, last->off, "duplicate key \"%s\" (first defined at %u:%u)", name,
                        old->key_line, old->key_col);
  }

  ArTomlNode *value = parse_value(p, t, last, NODE(t)->depth + 1, error);
  if (value == NULL)
    return FALSE;
  table_add(t, value, last);
  return TRUE;
}

/* ---- [table] and [[array of tables]] ---- */

static gboolean
parse_header(ArTomlParser *p, ArTomlNode *root, GError **error)
{
  gsize open = p->pos;
  gboolean aot = ar_toml_peek(p, 1) == '[';
  guint line, col;

  ar_toml_locate(p, open, &line, &col);
  p->pos += aot ? 2 : 1;
  g_autoptr(GArray) key = parse_key(p, error);
  if (key == NULL)
    return FALSE;
  if (ar_toml_peek(p, 0) != ']' || (aot && ar_toml_peek(p, 1) != ']')) {
    g_autofree char *name = format_key(NULL, key, key->len);
    g_autofree char *what = ar_toml_describe_at(p, p->pos);
    return ar_toml_fail(p, error, p->pos, "expected '%s' after table name \"%s\", found %s",
                        aot ? "]]" : "]", name, what);
  }
  p->pos += aot ? 2 : 1;

  for (guint i = 0; i < p->pending->len; i++)
    NODE(p->pending->pdata[i])->flags |= NODE_DEFINED;
  g_ptr_array_set_size(p->pending, 0);

  ArTomlNode *t = root;
  for (guint i = 0; i + 1 < key->len; i++) {
    const KeyPart *k = &g_array_index(key, KeyPart, i);
    ArTomlNode *child = table_find(t, k->name, k->len);
    if (child == NULL) {
      if (!check_depth(p, NODE(t)->depth + 1, k->off, error))
        return FALSE;
      child = ar_toml_node_alloc(AR_TOML_TABLE, line, col);
      table_add(t, child, k);
    } else if (child->type == AR_TOML_ARRAY && (NODE(child)->flags & NODE_AOT)) {
      /* "belongs to the most recently defined table element above it" */
      child = child->items->pdata[child->items->len - 1];
    } else if (child->type != AR_TOML_TABLE || (NODE(child)->flags & NODE_FROZEN)) {
      return fail_not_table(p, error, NULL, key, i, child);
    }
    t = child;
  }

  const KeyPart *last = &g_array_index(key, KeyPart, key->len - 1);
  ArTomlNode *node = table_find(t, last->name, last->len);
  g_autofree char *name = format_key(NULL, key, key->len);

  if (!aot) {
    if (node == NULL) {
      if (!check_depth(p, NODE(t)->depth + 1, last->off, error))
        return FALSE;
      node = ar_toml_node_alloc(AR_TOML_TABLE, line, col);
      table_add(t, node, last);
    } else if (node->type != AR_TOML_TABLE || (NODE(node)->flags & (NODE_DEFINED | NODE_FROZEN))) {
      if (node->type == AR_TOML_TABLE && !(NODE(node)->flags & NODE_FROZEN))
        return ar_toml_fail(p, error, open, "table \"%s\" already defined at %u:%u", name,
                            node->line, node->col);
      return ar_toml_fail(p, error, open,
                          "cannot define table \"%s\": it is already %s "
                          "(defined at %u:%u)",
                          name, node_kind(node), node->key_line, node->key_col);
    }
    /* An implicitly made table becomes defined here: point at this header. */
    node->key_line = last->line;
    node->key_col = last->col;
    node->line = line;
    node->col = col;
    NODE(node)->flags |= NODE_DEFINED;
    p->current = node;
    return TRUE;
  }

  if (node == NULL) {
    if (!check_depth(p, NODE(t)->depth + 1, last->off, error))
      return FALSE;
    node = ar_toml_node_alloc(AR_TOML_ARRAY, line, col);
    NODE(node)->flags |= NODE_AOT | NODE_DEFINED;
    table_add(t, node, last);
  } else if (node->type != AR_TOML_ARRAY || !(NODE(node)->flags & NODE_AOT)) {
    return ar_toml_fail(p, error, open,
                        "cannot define array of tables \"%s\": it is already %s "
                        "(defined at %u:%u)",
                        name, node_kind(node), node->key_line, node->key_col);
  }
  if (!check_depth(p, NODE(node)->depth + 1, open, error))
    return FALSE;
  ArTomlNode *elem = ar_toml_node_alloc(AR_TOML_TABLE, line, col);
  NODE(elem)->depth = NODE(node)->depth + 1;
  NODE(elem)->flags |= NODE_DEFINED;
  NODE(elem)->parent = node;
  g_ptr_array_add(node->items, elem);
  p->current = elem;
  return TRUE;
}

/* ---- document ---- */

static gboolean
check_encoding(ArTomlParser *p, GError **error)
{
  const char *end = NULL;

  if (g_utf8_validate_len(p->data + p->pos, p->len - p->pos, &end))
    return TRUE;
  gsize bad = (gsize)(end - p->data);
  if (p->data[bad] == '\0')
    return ar_toml_fail(p, error, bad, "NUL byte in document (write \\u0000 in a basic string)");
  return ar_toml_fail(p, error, bad, "invalid UTF-8 (byte 0x%02X)", (guchar)p->data[bad]);
}

static gboolean
parse_document(ArTomlParser *p, ArTomlNode *root, GError **error)
{
  while (p->pos < p->len) {
    skip_ws(p);
    guchar c = ar_toml_peek(p, 0);
    if (c == '[') {
      if (!parse_header(p, root, error) || !expect_line_end(p, "table header", error))
        return FALSE;
    } else if (c != '#' && c != '\n' && c != '\r' && p->pos < p->len) {
      if (!parse_keyval(p, p->current, FALSE, error) || !expect_line_end(p, "value", error))
        return FALSE;
    } else if (!expect_line_end(p, "blank", error)) {
      return FALSE;
    }
  }
  return TRUE;
}

ArTomlNode *
ar_toml_parse_full(const char *data, gssize len, const char *filename, ArTomlVersion version,
                   GError **error)
{
  g_return_val_if_fail(data != NULL || len <= 0, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  g_autoptr(GPtrArray) pending = g_ptr_array_new();
  ArTomlParser p = {
    .data = data != NULL ? data : "",
    .len = data == NULL ? 0
           : len < 0    ? strlen(data)
                        : (gsize)len,
    .filename = filename != NULL ? filename : "<input>",
    .version = version,
    .loc_line = 1,
    .loc_col = 1,
    .pending = pending,
  };

  if (p.len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
    p.pos = 3;
    p.loc_off = 3;
  }
  if (!check_encoding(&p, error))
    return NULL;

  g_autoptr(ArTomlNode) root = ar_toml_node_alloc(AR_TOML_TABLE, 1, 1);
  p.current = root;
  if (!parse_document(&p, root, error))
    return NULL;
  return g_steal_pointer(&root);
}

ArTomlNode *
ar_toml_parse(const char *data, gssize len, const char *filename, GError **error)
{
  return ar_toml_parse_full(data, len, filename, AR_TOML_1_0, error);
}

ArTomlNode *
ar_toml_parse_file(const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;

  /* Same bound as a config file: the callers read configs. */
  data = ar_read_regular_file(path, 1024 * 1024, &len, &local);
  if (!data) {
    g_set_error_literal(error, AR_TOML_ERROR, AR_TOML_ERROR_IO, local->message);
    return NULL;
  }
  return ar_toml_parse(data, (gssize)len, path, error);
}
