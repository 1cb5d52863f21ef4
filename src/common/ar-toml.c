#include "config.h"

#include "ar-toml.h"

/* Replaced by the real parser. */
GQuark
ar_toml_error_quark(void)
{
  return g_quark_from_static_string("ar-toml-error-quark");
}
