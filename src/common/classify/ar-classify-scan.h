/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The literal sets' one-pass vector scan (ar-classify-scan.c). Plain C,
 * no GLib: the file is also cross-compiled alone for aarch64 and run
 * under qemu by tests/classify-scan-cross.py, where no GLib for the
 * target exists. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _ArAnchorScan ArAnchorScan;
typedef enum {
  AR_SCAN_NONE,   /* nothing from *from to the end */
  AR_SCAN_ANCHOR, /* an anchor occurs */
  AR_SCAN_DIGITS, /* [45] and two digits at *from */
} ArScanHit;

/* NULL where the CPU has no vector path (then the set's own scans answer),
 * for an anchor shorter than 4 bytes or not ASCII, or out of memory.
 * anchors are lowercase and must outlive the scan. */
ArAnchorScan *ar_anchor_scan_new(const char *const *anchors, unsigned n);
void ar_anchor_scan_free(ArAnchorScan *scan);
/* From *from on: an anchor, or (if digits) a status-looking number, the
 * first of either; *from is where the number starts. */
ArScanHit ar_anchor_scan_find(const ArAnchorScan *scan, const char *text, size_t len, size_t *from,
                              bool digits);

/* For the tests: the same search one position at a time from the tables
 * (no vector code), and the bucket byte (nonzero: a candidate) of every
 * position of text, bytes past len read as 0, from the vector kernel or
 * (reference) the scalar lookup. */
ArScanHit ar_anchor_scan_find_reference(const ArAnchorScan *scan, const char *text, size_t len,
                                        size_t *from, bool digits);
void ar_anchor_scan_candidates(const ArAnchorScan *scan, const char *text, size_t len, bool digits,
                               bool reference, uint8_t *out);
