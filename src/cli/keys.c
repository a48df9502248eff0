/* placeholder until the keys group lands */
#include "cli.h"
int cmd_keygen(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return EXIT_SYSTEM;
}
int cmd_key(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return EXIT_SYSTEM;
}
