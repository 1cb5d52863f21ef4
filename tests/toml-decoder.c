/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ar-toml.h"

/* The decoder that toml-test drives: TOML on stdin, tagged JSON on stdout,
 * exit 1 with the error on stderr when the document is invalid.
 * "--toml=1.1" accepts TOML 1.1 instead of 1.0. */

static char *
read_stdin(gsize *len)
{
  g_autoptr(GByteArray) buf = g_byte_array_new();
  guint8 chunk[65536];
  size_t n;

  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
    g_byte_array_append(buf, chunk, (guint)n);
  if (ferror(stdin))
    return NULL;
  *len = buf->len;
  g_byte_array_append(buf, (const guint8 *)"", 1);
  return (char *)g_byte_array_free(g_steal_pointer(&buf), FALSE);
}

int
main(int argc, char **argv)
{
  ArTomlVersion version = AR_TOML_1_0;
  g_autoptr(GError) error = NULL;
  gsize len = 0;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--toml=1.1") == 0 || strcmp(argv[i], "--toml=1.1.0") == 0) {
      version = AR_TOML_1_1;
    } else if (strcmp(argv[i], "--toml=1.0") == 0 || strcmp(argv[i], "--toml=1.0.0") == 0) {
      version = AR_TOML_1_0;
    } else {
      fprintf(stderr, "usage: %s [--toml=1.0|--toml=1.1] < file.toml\n", argv[0]);
      return 2;
    }
  }

  g_autofree char *data = read_stdin(&len);
  if (data == NULL) {
    fprintf(stderr, "toml-decoder: cannot read standard input\n");
    return 2;
  }

  g_autoptr(ArTomlNode) root = ar_toml_parse_full(data, (gssize)len, "<stdin>", version, &error);
  if (root == NULL) {
    fprintf(stderr, "%s\n", error->message);
    return 1;
  }

  g_autofree char *json = ar_toml_to_tagged_json(root);
  fputs(json, stdout);
  return fflush(stdout) == 0 ? 0 : 2;
}
