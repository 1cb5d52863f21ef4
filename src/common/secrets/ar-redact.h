/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Secret redaction for free text that is about to be persisted (events
 * file, journal, bus): agent output excerpts, error messages, tracebacks.
 * Best effort: the patterns catch the usual shapes of credentials; values
 * registered with ar_redact_add_secret() are always caught. */

#include <glib.h>

G_BEGIN_DECLS

#define AR_REDACTED "<redacted>"

typedef struct {
  const char *name;        /* stable id, also used by the tests */
  const char *pattern;     /* PCRE, as GRegex takes it */
  const char *replacement; /* g_regex_replace() syntax: \1 is group 1 */
  GRegexCompileFlags flags;
} ArRedactRule;

/* The rules in the order they are applied. */
const ArRedactRule *ar_redact_rules(gsize *n_rules);

/* A copy of text with every secret replaced by AR_REDACTED; invalid UTF-8
 * is repaired first. NULL gives NULL. */
char *ar_redact(const char *text);

/* Only the registered literal values, for text that is not free text
 * (paths, names) but must still never show a secret. */
char *ar_redact_known_secrets(const char *text);
gboolean ar_redact_have_secrets(void);

/* Register a literal secret value (from libsecret, systemd credentials or
 * a credential-looking [agent.env] entry); any non-empty value counts: the
 * operator said it is secret. Thread-safe; matching is one pass over the
 * text whatever the number of values (ar-redact-literal.c). */
void ar_redact_add_secret(const char *value);
void ar_redact_clear_secrets(void);

/* [agent.env] values are registered when their name looks like a
 * credential; below this many bytes they are flags ("1", "yes"), not
 * credentials, and replacing every "1" would hide nothing. */
#define AR_REDACT_MIN_ENV_VALUE 4

/* The longest registered value, in bytes (0: none). */
gsize ar_redact_max_secret_len(void);

/* text[0..len) with every occurrence of a registered value (overlapping,
 * adjacent, or one inside another) replaced by one AR_REDACTED per
 * covered range. Bytes, not UTF-8: the caller repairs encoding. */
char *ar_redact_literals_len(const char *text, gsize len);

/* How many bytes at the end of text[0..len) could be the beginning of a
 * registered value: a stream cut there must carry them over to the next
 * piece, or the halves of a value would each pass unredacted. */
gsize ar_redact_partial_tail(const char *text, gsize len);

/* TRUE when name looks like it holds a credential (contains KEY, TOKEN,
 * SECRET, PASSWORD or AUTH, any case). */
gboolean ar_redact_name_is_credential(const char *name);

/* At most max_chars characters of text (UTF-8 safe, invalid UTF-8 repaired);
 * the Python tool cut its excerpt fields to 200. */
char *ar_redact_truncate(const char *text, gsize max_chars);

/* A GLib log writer that removes the registered values from MESSAGE,
 * then writes as g_log_writer_default would (g_log_set_writer_func). */
GLogWriterOutput ar_redact_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                      gpointer user_data);

G_END_DECLS
