#include "config.h"

/* Keeps the static library non-empty until its first real file lands. */
int ard_placeholder_placeholder;
