/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "ar-toml-private.h"

/* The value lexer: strings (four kinds, with escapes), booleans, integers,
 * floats and the four date/time types. The document parser hands over with
 * p->pos at the first character and gets p->pos back just past the value. */

/* ---- strings ---- */

static void
append_unichar(GString *out, gunichar c)
{
  char buf[6];
  g_string_append_len(out, buf, g_unichar_to_utf8(c, buf));
}

static gboolean
is_hex(guchar c)
{
  return g_ascii_isxdigit(c);
}

/* p->pos at the backslash. */
static gboolean
lex_escape(ArTomlParser *p, GString *out, GError **error)
{
  gsize start = p->pos;
  guchar c = ar_toml_peek(p, 1);
  guint ndigits = 0;

  switch (c) {
  case 'b':
    g_string_append_c(out, '\b');
    break;
  case 't':
    g_string_append_c(out, '\t');
    break;
  case 'n':
    g_string_append_c(out, '\n');
    break;
  case 'f':
    g_string_append_c(out, '\f');
    break;
  case 'r':
    g_string_append_c(out, '\r');
    break;
  case '"':
    g_string_append_c(out, '"');
    break;
  case '\\':
    g_string_append_c(out, '\\');
    break;
  case 'e':
    if (p->version < AR_TOML_1_1)
      return ar_toml_fail(p, error, start, "invalid escape \"\\e\" (allowed from TOML 1.1)");
    g_string_append_c(out, 0x1b);
    break;
  case 'x':
    if (p->version < AR_TOML_1_1)
      return ar_toml_fail(p, error, start, "invalid escape \"\\x\" (allowed from TOML 1.1)");
    ndigits = 2;
    break;
  case 'u':
    ndigits = 4;
    break;
  case 'U':
    ndigits = 8;
    break;
  case 0:
    return ar_toml_fail(p, error, start, "unterminated string");
  default:
    if (c > 0x20 && c < 0x7f)
      return ar_toml_fail(p, error, start, "invalid escape \"\\%c\"", c);
    g_autofree char *what = ar_toml_describe_at(p, start + 1);
    return ar_toml_fail(p, error, start, "invalid escape: backslash followed by %s", what);
  }

  if (ndigits == 0) {
    p->pos += 2;
    return TRUE;
  }

  guint32 cp = 0;
  for (guint i = 0; i < ndigits; i++) {
    guchar h = ar_toml_peek(p, 2 + i);
    if (!is_hex(h)) {
      g_autofree char *seen = g_strndup(p->data + start, MIN(2 + i, p->len - start));
      return ar_toml_fail(p, error, start, "invalid escape \"%s\": \\%c needs %u hex digits", seen,
                          c, ndigits);
    }
    cp = cp << 4 | (guint32)g_ascii_xdigit_value(h);
  }
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    g_autofree char *seen = g_strndup(p->data + start, 2 + ndigits);
    return ar_toml_fail(p, error, start, "invalid escape \"%s\": not a Unicode scalar value", seen);
  }
  append_unichar(out, cp);
  p->pos += 2 + ndigits;
  return TRUE;
}

/* The "line ending backslash": p->pos at the backslash, which is followed by
 * whitespace or a newline. Everything up to the next non-blank goes. */
static gboolean
lex_line_continuation(ArTomlParser *p, GError **error)
{
  gsize start = p->pos;
  gsize i = 1;

  while (ar_toml_peek(p, i) == ' ' || ar_toml_peek(p, i) == '\t')
    i++;
  if (!(ar_toml_peek(p, i) == '\n' ||
        (ar_toml_peek(p, i) == '\r' && ar_toml_peek(p, i + 1) == '\n')))
    return ar_toml_fail(p, error, start,
                        "invalid escape: a backslash followed by whitespace must end the line");
  for (;;) {
    guchar c = ar_toml_peek(p, i);
    if (c == ' ' || c == '\t' || c == '\n')
      i++;
    else if (c == '\r' && ar_toml_peek(p, i + 1) == '\n')
      i += 2;
    else
      break;
  }
  p->pos += i;
  return TRUE;
}

static gboolean
fail_control(ArTomlParser *p, GError **error, gboolean literal)
{
  guchar c = ar_toml_peek(p, 0);
  if (c == '\r')
    return ar_toml_fail(p, error, p->pos, "carriage return not followed by a line feed");
  if (literal)
    return ar_toml_fail(p, error, p->pos,
                        "control character U+%04X is not allowed in a literal string", c);
  return ar_toml_fail(p, error, p->pos, "control character U+%04X must be escaped", c);
}

/* Inside """...""" or '''...''': a run of quotes of which the last three
 * close the string; up to two more belong to the content. */
static gboolean
lex_closing_run(ArTomlParser *p, guchar q, GString *out, gboolean *closed, GError **error)
{
  gsize n = 0;
  while (ar_toml_peek(p, n) == q)
    n++;
  if (n >= 3) {
    if (n > 5)
      return ar_toml_fail(p, error, p->pos + 5,
                          "too many quotes: at most two may come right before the closing %c%c%c",
                          q, q, q);
    g_string_append_len(out, p->data + p->pos, n - 3);
    *closed = TRUE;
  } else {
    g_string_append_len(out, p->data + p->pos, n);
  }
  p->pos += n;
  return TRUE;
}

static gboolean
lex_multiline(ArTomlParser *p, guchar q, GString *out, GError **error)
{
  gsize open = p->pos;
  gboolean closed = FALSE;

  p->pos += 3;
  /* A newline right after the opening delimiter is not content. */
  if (ar_toml_peek(p, 0) == '\n')
    p->pos++;
  else if (ar_toml_peek(p, 0) == '\r' && ar_toml_peek(p, 1) == '\n')
    p->pos += 2;

  while (!closed) {
    guchar c = ar_toml_peek(p, 0);
    if (p->pos >= p->len)
      return ar_toml_fail(p, error, open, "unterminated multi-line string");
    if (c == q) {
      if (!lex_closing_run(p, q, out, &closed, error))
        return FALSE;
    } else if (c == '\\' && q == '"') {
      guchar n = ar_toml_peek(p, 1);
      if (n == ' ' || n == '\t' || n == '\n' || n == '\r') {
        if (!lex_line_continuation(p, error))
          return FALSE;
      } else if (!lex_escape(p, out, error)) {
        return FALSE;
      }
    } else if (c == '\n') {
      g_string_append_c(out, '\n');
      p->pos++;
    } else if (c == '\r' && ar_toml_peek(p, 1) == '\n') {
      /* Content newlines come out as LF whatever the file uses. */
      g_string_append_c(out, '\n');
      p->pos += 2;
    } else if (ar_toml_is_control(c)) {
      return fail_control(p, error, q == '\'');
    } else {
      g_string_append_c(out, (char)c);
      p->pos++;
    }
  }
  return TRUE;
}

static gboolean
lex_single_line(ArTomlParser *p, guchar q, GString *out, GError **error)
{
  gsize open = p->pos;

  p->pos++;
  for (;;) {
    guchar c = ar_toml_peek(p, 0);
    if (p->pos >= p->len || c == '\n' || (c == '\r' && ar_toml_peek(p, 1) == '\n'))
      return ar_toml_fail(p, error, open, "unterminated string");
    if (c == q) {
      p->pos++;
      return TRUE;
    }
    if (c == '\\' && q == '"') {
      if (!lex_escape(p, out, error))
        return FALSE;
    } else if (ar_toml_is_control(c)) {
      return fail_control(p, error, q == '\'');
    } else {
      g_string_append_c(out, (char)c);
      p->pos++;
    }
  }
}

gboolean
ar_toml_lex_string(ArTomlParser *p, gboolean is_key, GString *out, GError **error)
{
  guchar q = ar_toml_peek(p, 0);

  g_assert(q == '"' || q == '\'');
  if (ar_toml_peek(p, 1) == q && ar_toml_peek(p, 2) == q) {
    if (is_key)
      return ar_toml_fail(p, error, p->pos, "a multi-line string cannot be a key");
    return lex_multiline(p, q, out, error);
  }
  return lex_single_line(p, q, out, error);
}

/* ---- numbers ---- */

/* One or more digits of the base, underscores only between two digits. */
static gboolean
digits_ok(const char *s, gsize n, guint base)
{
  if (n == 0)
    return FALSE;
  for (gsize i = 0; i < n; i++) {
    guchar c = s[i];
    if (c == '_') {
      if (i == 0 || i + 1 == n || s[i + 1] == '_')
        return FALSE;
      continue;
    }
    if (base == 16 ? !g_ascii_isxdigit(c) : (c < '0' || c >= '0' + base))
      return FALSE;
  }
  return TRUE;
}

static char *
strip_underscores(const char *s, gsize n)
{
  GString *out = g_string_sized_new(n);
  for (gsize i = 0; i < n; i++)
    if (s[i] != '_')
      g_string_append_c(out, s[i]);
  return g_string_free(out, FALSE);
}

static ArTomlNode *
lex_number(ArTomlParser *p, gsize start, const char *tok, gsize n, GError **error)
{
  gsize i = (tok[0] == '+' || tok[0] == '-') ? 1 : 0;
  const char *t = tok + i;
  gsize tn = n - i;

  if (tn >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
    guint base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
    if (i > 0) {
      ar_toml_fail(p, error, start, "invalid integer \"%s\": only decimal integers take a sign",
                   tok);
      return NULL;
    }
    if (!digits_ok(t + 2, tn - 2, base)) {
      ar_toml_fail(p, error, start, "invalid integer \"%s\"", tok);
      return NULL;
    }
    g_autofree char *digits = strip_underscores(t + 2, tn - 2);
    errno = 0;
    guint64 u = g_ascii_strtoull(digits, NULL, base);
    if (errno == ERANGE || u > G_MAXINT64) {
      ar_toml_fail(p, error, start, "integer %s does not fit in 64 bits", tok);
      return NULL;
    }
    ArTomlNode *node = ar_toml_node_new(p, AR_TOML_INTEGER, start);
    node->v.integer = (gint64)u;
    return node;
  }

  /* Decimal: int-part [ "." digits ] [ ("e"|"E") [sign] digits ] */
  gsize int_end = 0;
  while (int_end < tn && (g_ascii_isdigit(t[int_end]) || t[int_end] == '_'))
    int_end++;
  if (!digits_ok(t, int_end, 10)) {
    ar_toml_fail(p, error, start, "invalid number \"%s\"", tok);
    return NULL;
  }
  if (int_end > 1 && t[0] == '0') {
    ar_toml_fail(p, error, start, "invalid number \"%s\": leading zeros are not allowed", tok);
    return NULL;
  }

  if (int_end == tn) {
    g_autofree char *digits = strip_underscores(tok, n);
    errno = 0;
    gint64 v = g_ascii_strtoll(digits, NULL, 10);
    if (errno == ERANGE) {
      ar_toml_fail(p, error, start, "integer %s does not fit in 64 bits", tok);
      return NULL;
    }
    ArTomlNode *node = ar_toml_node_new(p, AR_TOML_INTEGER, start);
    node->v.integer = v;
    return node;
  }

  gsize k = int_end;
  if (t[k] == '.') {
    gsize frac = ++k;
    while (k < tn && (g_ascii_isdigit(t[k]) || t[k] == '_'))
      k++;
    if (!digits_ok(t + frac, k - frac, 10)) {
      ar_toml_fail(p, error, start, "invalid float \"%s\": a digit must follow the '.'", tok);
      return NULL;
    }
  }
  if (k < tn && (t[k] == 'e' || t[k] == 'E')) {
    k++;
    if (k < tn && (t[k] == '+' || t[k] == '-'))
      k++;
    gsize exp = k;
    while (k < tn && (g_ascii_isdigit(t[k]) || t[k] == '_'))
      k++;
    if (!digits_ok(t + exp, k - exp, 10)) {
      ar_toml_fail(p, error, start, "invalid float \"%s\": bad exponent", tok);
      return NULL;
    }
  }
  if (k != tn) {
    ar_toml_fail(p, error, start, "invalid number \"%s\"", tok);
    return NULL;
  }

  g_autofree char *digits = strip_underscores(tok, n);
  errno = 0;
  double d = g_ascii_strtod(digits, NULL);
  if (errno == ERANGE && isinf(d)) {
    ar_toml_fail(p, error, start, "float %s is too large", tok);
    return NULL;
  }
  ArTomlNode *node = ar_toml_node_new(p, AR_TOML_FLOAT, start);
  node->v.fp = d;
  return node;
}

/* ---- dates and times ---- */

static gboolean
take_digits(const char *s, gsize n, gsize *i, guint count, guint *out)
{
  guint v = 0;
  if (*i + count > n)
    return FALSE;
  for (guint k = 0; k < count; k++) {
    if (!g_ascii_isdigit(s[*i + k]))
      return FALSE;
    v = v * 10 + (guint)(s[*i + k] - '0');
  }
  *i += count;
  *out = v;
  return TRUE;
}

static gboolean
take_char(const char *s, gsize n, gsize *i, char c)
{
  if (*i < n && s[*i] == c) {
    (*i)++;
    return TRUE;
  }
  return FALSE;
}

static guint
days_in_month(guint year, guint month)
{
  static const guint8 days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
    return 29;
  return days[month - 1];
}

/* time = HH:MM[:SS[.frac]]; appends the normalised form. */
static gboolean
lex_time(ArTomlParser *p, gsize start, const char *tok, gsize n, gsize *i, GString *norm,
         GError **error)
{
  guint hh, mm, ss = 0;

  if (!take_digits(tok, n, i, 2, &hh) || !take_char(tok, n, i, ':') ||
      !take_digits(tok, n, i, 2, &mm))
    return ar_toml_fail(p, error, start, "invalid time in \"%s\": expected HH:MM:SS", tok);
  if (take_char(tok, n, i, ':')) {
    if (!take_digits(tok, n, i, 2, &ss))
      return ar_toml_fail(p, error, start, "invalid time in \"%s\": expected HH:MM:SS", tok);
  } else if (p->version < AR_TOML_1_1) {
    return ar_toml_fail(p, error, start,
                        "invalid time in \"%s\": seconds are required (optional from TOML 1.1)",
                        tok);
  }
  /* 60 is a leap second, which RFC 3339 allows. */
  if (hh > 23 || mm > 59 || ss > 60)
    return ar_toml_fail(p, error, start, "invalid time in \"%s\": out of range", tok);
  g_string_append_printf(norm, "%02u:%02u:%02u", hh, mm, ss);

  if (take_char(tok, n, i, '.')) {
    gsize frac = *i;
    while (*i < n && g_ascii_isdigit(tok[*i]))
      (*i)++;
    if (*i == frac)
      return ar_toml_fail(p, error, start, "invalid time in \"%s\": a digit must follow the '.'",
                          tok);
    g_string_append_c(norm, '.');
    g_string_append_len(norm, tok + frac, *i - frac);
  }
  return TRUE;
}

static ArTomlNode *
lex_datetime(ArTomlParser *p, gsize start, const char *tok, gsize n, GError **error)
{
  g_autoptr(GString) norm = g_string_new(NULL);
  ArTomlType type;
  gsize i = 0;

  if (n >= 3 && tok[2] == ':') {
    if (!lex_time(p, start, tok, n, &i, norm, error))
      return NULL;
    type = AR_TOML_TIME_LOCAL;
  } else {
    guint y, m, d;
    if (!take_digits(tok, n, &i, 4, &y) || !take_char(tok, n, &i, '-') ||
        !take_digits(tok, n, &i, 2, &m) || !take_char(tok, n, &i, '-') ||
        !take_digits(tok, n, &i, 2, &d)) {
      ar_toml_fail(p, error, start, "invalid date \"%s\": expected YYYY-MM-DD", tok);
      return NULL;
    }
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) {
      ar_toml_fail(p, error, start, "invalid date \"%s\": no such day", tok);
      return NULL;
    }
    g_string_append_printf(norm, "%04u-%02u-%02u", y, m, d);
    type = AR_TOML_DATE_LOCAL;

    if (i < n && (tok[i] == 'T' || tok[i] == 't' || tok[i] == ' ')) {
      i++;
      g_string_append_c(norm, 'T');
      if (!lex_time(p, start, tok, n, &i, norm, error))
        return NULL;
      type = AR_TOML_DATETIME_LOCAL;

      guint oh, om;
      if (i < n && (tok[i] == 'Z' || tok[i] == 'z')) {
        i++;
        g_string_append_c(norm, 'Z');
        type = AR_TOML_DATETIME;
      } else if (i < n && (tok[i] == '+' || tok[i] == '-')) {
        char sign = tok[i++];
        if (!take_digits(tok, n, &i, 2, &oh) || !take_char(tok, n, &i, ':') ||
            !take_digits(tok, n, &i, 2, &om)) {
          ar_toml_fail(p, error, start, "invalid offset in \"%s\": expected +HH:MM", tok);
          return NULL;
        }
        if (oh > 23 || om > 59) {
          ar_toml_fail(p, error, start, "invalid offset in \"%s\": out of range", tok);
          return NULL;
        }
        g_string_append_printf(norm, "%c%02u:%02u", sign, oh, om);
        type = AR_TOML_DATETIME;
      }
    }
  }
  if (i != n) {
    ar_toml_fail(p, error, start, "invalid date/time \"%s\"", tok);
    return NULL;
  }

  ArTomlNode *node = ar_toml_node_new(p, type, start);
  node->v.datetime = g_string_free(g_steal_pointer(&norm), FALSE);
  return node;
}

/* ---- dispatch ---- */

static gboolean
is_token_char(guchar c)
{
  return g_ascii_isalnum(c) || c == '_' || c == '+' || c == '-' || c == '.' || c == ':';
}

static gboolean
is_date_prefix(const char *s, gsize n)
{
  return n == 10 && g_ascii_isdigit(s[0]) && g_ascii_isdigit(s[1]) && g_ascii_isdigit(s[2]) &&
         g_ascii_isdigit(s[3]) && s[4] == '-' && s[7] == '-';
}

ArTomlNode *
ar_toml_lex_scalar(ArTomlParser *p, GError **error)
{
  gsize start = p->pos;

  while (is_token_char(ar_toml_peek(p, 0)))
    p->pos++;
  /* "1979-05-27 07:32:00": the one value that holds a space. */
  if (is_date_prefix(p->data + start, p->pos - start) && ar_toml_peek(p, 0) == ' ' &&
      g_ascii_isdigit(ar_toml_peek(p, 1)) && g_ascii_isdigit(ar_toml_peek(p, 2)) &&
      ar_toml_peek(p, 3) == ':') {
    p->pos++;
    while (is_token_char(ar_toml_peek(p, 0)))
      p->pos++;
  }

  gsize n = p->pos - start;
  if (n == 0) {
    g_autofree char *what = ar_toml_describe_at(p, start);
    ar_toml_fail(p, error, start, "expected a value, found %s", what);
    return NULL;
  }
  g_autofree char *tok = g_strndup(p->data + start, n);

  if (strcmp(tok, "true") == 0 || strcmp(tok, "false") == 0) {
    ArTomlNode *node = ar_toml_node_new(p, AR_TOML_BOOL, start);
    node->v.boolean = tok[0] == 't';
    return node;
  }

  const char *u = (tok[0] == '+' || tok[0] == '-') ? tok + 1 : tok;
  if (strcmp(u, "inf") == 0 || strcmp(u, "nan") == 0) {
    ArTomlNode *node = ar_toml_node_new(p, AR_TOML_FLOAT, start);
    if (u[0] == 'i')
      node->v.fp = tok[0] == '-' ? -INFINITY : INFINITY;
    else
      node->v.fp = tok[0] == '-' ? -NAN : NAN;
    return node;
  }

  if ((n >= 5 && g_ascii_isdigit(tok[0]) && g_ascii_isdigit(tok[1]) && g_ascii_isdigit(tok[2]) &&
       g_ascii_isdigit(tok[3]) && tok[4] == '-') ||
      (n >= 3 && g_ascii_isdigit(tok[0]) && g_ascii_isdigit(tok[1]) && tok[2] == ':'))
    return lex_datetime(p, start, tok, n, error);

  if (g_ascii_isdigit(u[0]))
    return lex_number(p, start, tok, n, error);

  if (g_ascii_isalpha(tok[0]))
    ar_toml_fail(p, error, start,
                 "invalid value \"%s\" (strings need quotes; booleans are true and false)", tok);
  else
    ar_toml_fail(p, error, start, "invalid value \"%s\"", tok);
  return NULL;
}
