/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* The text dialect (aider, custom agents): plain lines only. A peer of the
 * claude, codex and gemini parsers with nothing of its own to parse. */

#include "ar-classify-private.h"

/* The text dialect has no events: every line goes through
 * ar_classifier_feed_plain_generic(), the exit code does the rest. */
const ArDialectOps ar_classify_text_ops = {
  .feed_object = NULL,
  .feed_plain = NULL,
  .feed_broken = NULL,
  .status_from_exit = NULL,
};
