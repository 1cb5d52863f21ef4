#include "config.h"

#include <stdio.h>

int
main(int argc, char **argv)
{
  printf("agent-runnerd %s\n", PACKAGE_VERSION);
  return 0;
}
