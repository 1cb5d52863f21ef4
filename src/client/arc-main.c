#include "config.h"

#include <stdio.h>

int
main(int argc, char **argv)
{
  printf("agent-runner %s\n", PACKAGE_VERSION);
  return 0;
}
