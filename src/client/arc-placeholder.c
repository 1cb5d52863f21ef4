#include "config.h"

/* Keeps the static library non-empty until its first real file lands. */
int arc_placeholder_placeholder;
