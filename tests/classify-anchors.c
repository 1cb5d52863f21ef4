/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Prints every literal set of the classifier tables (each dialect's
 * message prefilter, then the status pattern's) as its anchors, one a
 * line, a blank line after each set: the input of
 * tests/classify-scan-driver.c, which cannot link the classifier when it
 * is cross-compiled. */

#include <stdio.h>

#include "ar-classify-private.h"

static void
print_anchor(const char *anchor, gpointer user_data)
{
  (void)user_data;
  printf("%s\n", anchor);
}

static void
print_set(const ArLiteralSet *set)
{
  if (ar_literal_set_min_len(set) == 0)
    return; /* always "maybe": no scan */
  ar_literal_set_foreach_anchor(set, print_anchor, NULL);
  printf("\n");
}

int
main(void)
{
  for (int d = 0; d < AR_DIALECT_COUNT; d++)
    print_set(ar_classify_message_prefilter((ArDialect)d));
  print_set(ar_classify_status_prefilter());
  return fflush(stdout) == 0 ? 0 : 1;
}
