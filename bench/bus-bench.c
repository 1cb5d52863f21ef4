/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

/* Client side of the bus benchmarks (driven by peek-latency.py and
 * signal-latency.py):
 *   bus-bench peek ADDRESS NAME N    median/p90 of N Peek round trips
 *   bus-bench signal ADDRESS NAME N  median/p90 of Reload -> Event signal
 *                                    (config_reloaded) as a subscriber sees it
 *   bus-bench peek-split ADDRESS NAME N
 *                                    N Peek round trips, each followed by a
 *                                    GetId round trip to the bus itself: the
 *                                    part of Peek's latency that is the bus
 *                                    and this client's own scheduling
 * Figures only, no assertion. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar-cleanup.h"
#include "ar-names.h"

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct {
  gboolean seen;
} SignalWait;

static int
on_event(sd_bus_message *m, void *user_data, sd_bus_error *e)
{
  const char *kind = NULL;
  if (sd_bus_message_read(m, "s", &kind) >= 0 && g_strcmp0(kind, "config_reloaded") == 0)
    ((SignalWait *)user_data)->seen = TRUE;
  return 0;
}

static void
print_figures(const char *what, double *t, int n)
{
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  printf("%s: n=%d median=%.3f ms p90=%.3f ms p99=%.3f ms max=%.3f ms", what, n, t[n / 2],
         t[(n * 9) / 10], t[(n * 99) / 100], t[n - 1]);
}

int
main(int argc, char **argv)
{
  if (argc != 5) {
    fprintf(stderr, "usage: bus-bench peek|peek-split|signal ADDRESS NAME N\n");
    return 2;
  }
  int n = atoi(argv[4]);
  g_autoptr(sd_bus) bus = NULL;
  if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, argv[2]) < 0 ||
      sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
    fprintf(stderr, "cannot connect to %s\n", argv[2]);
    return 1;
  }
  const char *name = argv[3];
  g_autofree double *t = g_new0(double, n);
  g_autofree double *t_bus = g_new0(double, n);
  gboolean split = g_str_equal(argv[1], "peek-split");
  SignalWait w = { FALSE };
  g_autoptr(sd_bus_slot) slot = NULL;
  g_autofree char *owner = NULL;
  if (g_str_equal(argv[1], "signal")) {
    const char *unique = NULL;
    g_autoptr(sd_bus_message) reply = NULL;
    if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "GetNameOwner", NULL, &reply, "s", name) < 0 ||
        sd_bus_message_read(reply, "s", &unique) < 0 ||
        sd_bus_match_signal(bus, &slot, unique, AR_BUS_PATH, AR_BUS_INTERFACE, "Event", on_event,
                            &w) < 0)
      return 1;
  }
  for (int i = 0; i < n; i++) {
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(sd_bus_message) reply = NULL;
    g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
    if (g_str_equal(argv[1], "peek") || split) {
      if (sd_bus_call_method(bus, name, AR_BUS_PATH, AR_BUS_INTERFACE, "Peek", &e, &reply, "a{sv}",
                             0) < 0) {
        fprintf(stderr, "Peek: %s\n", e.message);
        return 1;
      }
    } else {
      w.seen = FALSE;
      if (sd_bus_call_method(bus, name, AR_BUS_PATH, AR_BUS_INTERFACE, "Reload", &e, &reply, NULL) <
          0) {
        fprintf(stderr, "Reload: %s\n", e.message);
        return 1;
      }
      while (!w.seen) {
        int r = sd_bus_process(bus, NULL);
        if (r < 0)
          return 1;
        if (r == 0)
          sd_bus_wait(bus, UINT64_MAX);
      }
    }
    t[i] = (double)(g_get_monotonic_time() - t0) / 1000.0;
    if (split) {
      g_autoptr(sd_bus_message) id = NULL;
      gint64 t1 = g_get_monotonic_time();
      if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "GetId", NULL, &id, NULL) < 0)
        return 1;
      t_bus[i] = (double)(g_get_monotonic_time() - t1) / 1000.0;
    }
  }
  print_figures(split ? "peek" : argv[1], t, n);
  if (split) {
    printf("; ");
    print_figures("bus GetId", t_bus, n);
  }
  printf("\n");
  return 0;
}
