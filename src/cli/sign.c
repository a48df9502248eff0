/* placeholder until the sign group lands */
#include "cli.h"
int cmd_sign(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return EXIT_SYSTEM;
}
int cmd_verify(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return EXIT_SYSTEM;
}
