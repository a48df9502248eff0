/* placeholder until the log group lands */
#include "cli.h"
int cmd_log(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return EXIT_SYSTEM;
}
