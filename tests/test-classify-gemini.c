/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The gemini stream-json classifier: its captured runs (the gemini rows of
 * tests/classify-cases.c). */

#include "classify-test-util.h"

int
main(int argc, char **argv)
{
  classify_test_init(&argc, &argv);
  classify_test_add_cases("gemini-");
  return classify_test_run();
}
