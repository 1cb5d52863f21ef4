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

/* Register a literal secret value (from libsecret or systemd credentials).
 * Values shorter than AR_REDACT_MIN_SECRET bytes are ignored: replacing
 * every "abc" would make logs unreadable and hide nothing. Thread-safe. */
#define AR_REDACT_MIN_SECRET 4
void ar_redact_add_secret(const char *value);
void ar_redact_clear_secrets(void);

/* At most max_chars characters of text (UTF-8 safe, invalid UTF-8 repaired);
 * the Python tool cut its excerpt fields to 200. */
char *ar_redact_truncate(const char *text, gsize max_chars);

G_END_DECLS
