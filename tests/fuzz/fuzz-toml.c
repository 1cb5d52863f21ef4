/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "ar-toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Both dialects, and the tagged JSON printer on whatever parses: the printer
 * walks every node, so a malformed tree shows up here too. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  for (ArTomlVersion v = AR_TOML_1_0; v <= AR_TOML_1_1; v++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(ArTomlNode) root =
        ar_toml_parse_full((const char *)data, (gssize)size, "fuzz", v, &error);
    g_assert((root == NULL) != (error == NULL));
    if (root != NULL) {
      g_autofree char *json = ar_toml_to_tagged_json(root);
      g_assert(json != NULL);
    } else {
      g_assert(g_str_has_prefix(error->message, "fuzz:"));
    }
  }
  return 0;
}
