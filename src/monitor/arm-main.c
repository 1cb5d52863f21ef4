#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>

/* The monitor (detectors, --host over SSH, the web page) is a later issue.
 * Until then it says so plainly instead of pretending to watch. */
int
main(int argc, char **argv)
{
  setlocale(LC_ALL, "");
  bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
  textdomain(GETTEXT_PACKAGE);
  fprintf(stderr, _("agent-runner-monitor %s: the monitor is not part of this release yet\n"),
          PACKAGE_VERSION);
  return 2;
}
