/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Exact-string redaction (src/common/secrets/ar-redact-literal.c): MB/s of
 * ar_redact_literals_len() over 16 MiB of agent-like text with 0, 1, 10,
 * 100 and 1,000 registered values (1 to 4,096 bytes), and, as the baseline
 * from the same run, the replace-each-value loop it replaced (one
 * g_string_replace pass per value). Figures only, no assertion. */

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "ar-redact.h"

#define TEXT_BYTES (16 * 1024 * 1024)

static char *
random_value(GRand *rng)
{
  gsize n = 1 + (gsize)g_rand_int_range(rng, 0, 4096);
  char *v = g_malloc(n + 1);
  for (gsize i = 0; i < n; i++)
    v[i] = (char)g_rand_int_range(rng, 'a', 'z' + 1);
  v[n] = '\0';
  return v;
}

static double
mb_per_s(gsize bytes, gint64 usec)
{
  return usec > 0 ? (double)bytes / (double)usec : 0.0; /* bytes/us = MB/s */
}

int
main(void)
{
  g_autoptr(GRand) rng = g_rand_new_with_seed(42);
  g_autoptr(GString) text = g_string_sized_new(TEXT_BYTES + 128);
  static const char *const words[] = { "Reading ",       "src/main.c", " ok\n",
                                       "Running tests ", "error: ",    "{\"type\":\"assistant\"} ",
                                       "diff --git " };
  while (text->len < TEXT_BYTES)
    g_string_append(text, words[g_rand_int_range(rng, 0, G_N_ELEMENTS(words))]);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
  static const guint counts[] = { 0, 1, 10, 100, 1000 };
  printf("%-8s %14s %18s\n", "values", "one pass MB/s", "per-value MB/s");
  for (gsize c = 0; c < G_N_ELEMENTS(counts); c++) {
    while (values->len < counts[c])
      g_ptr_array_add(values, random_value(rng));
    ar_redact_clear_secrets();
    for (guint i = 0; i < values->len; i++)
      ar_redact_add_secret(values->pdata[i]);
    /* Build the automaton outside the timing: it is built once per set. */
    g_free(ar_redact_literals_len("x", 1));
    /* Best of 3: the machine is shared; the fastest run is the code's. */
    gint64 best = G_MAXINT64;
    for (int rep = 0; rep < 3; rep++) {
      gint64 t0 = g_get_monotonic_time();
      g_autofree char *out = ar_redact_literals_len(text->str, text->len);
      best = MIN(best, g_get_monotonic_time() - t0);
    }
    /* Baseline: the old loop, on a 1 MiB slice (it is slow with many). */
    gsize slice = 1024 * 1024;
    g_autoptr(GString) base = g_string_new_len(text->str, (gssize)slice);
    gint64 t2 = g_get_monotonic_time();
    for (guint i = 0; i < values->len; i++)
      g_string_replace(base, values->pdata[i], AR_REDACTED, 0);
    gint64 t3 = g_get_monotonic_time();
    printf("%-8u %14.1f %18.1f\n", counts[c], mb_per_s(text->len, best), mb_per_s(slice, t3 - t2));
  }
  return 0;
}
