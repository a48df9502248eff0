/* vouch: the release engineer's tool. Parses the subcommand and hands over
 * to the group that implements it (keys.c, sign.c, log.c, ...). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd commands[] = {
    {"keygen", cmd_keygen, "generate a signing key pair (file or PKCS#11 token)"},
    {"key", cmd_key, "show a public key's TUF key id or JSON"},
    {"sign", cmd_sign, "sign a file (adds to an existing signature file)"},
    {"verify", cmd_verify, "verify a file against public keys and a threshold"},
    {"log", cmd_log, "show or verify the hash-chained key usage log"},
    {"repo", cmd_repo, "manage a TUF image repository: tiers, targets, keys, publishing"},
    {"client", cmd_client, "TUF client: trust a root, refresh metadata, download targets"},
    {"encrypt", cmd_encrypt, "encrypt a file end to end for recipient keys (HPKE + STREAM)"},
    {"decrypt", cmd_decrypt, "decrypt and authenticate a file encrypted by vouch encrypt"},
};

static void usage(FILE *fp)
{
	fputs("Usage: vouch COMMAND [OPTIONS...]\n"
	      "\n"
	      "Secure over-the-air updates: sign, publish and verify releases.\n"
	      "\n"
	      "Commands:\n",
	      fp);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Run 'vouch COMMAND --help' for a command's options.\n"
	      "Exit codes: 0 ok, 1 rejected by a security check, 2 usage error,\n"
	      "3 system or I/O error.\n",
	      fp);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vouch %s\n", VOUCH_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "vouch: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
