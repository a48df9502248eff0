#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_fail(const struct vouch_err *err)
{
	fprintf(stderr, "vouch: %s\n", err->msg[0] ? err->msg : vouch_rc_name(err->code));
	return vouch_rc_exit_code(err->code);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("vouch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'vouch %s --help'.\n", cmd);
	return EXIT_USAGE;
}

static enum vouch_rc read_line_noecho(int fd, const char *prompt, char *buf, size_t cap,
				      size_t *len, struct vouch_err *err)
{
	struct termios old, quiet;
	int have_tty = tcgetattr(fd, &old) == 0;
	if (have_tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	if (write(fd, prompt, strlen(prompt)) < 0) {
		/* The prompt is a courtesy; reading still works. */
	}
	size_t n = 0;
	enum vouch_rc rc = VOUCH_OK;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n' || c == '\r')
			break;
		if (n + 1 >= cap) {
			rc = vouch_err_set(err, VOUCH_E_LIMIT, "secret longer than %zu bytes",
					   cap - 1);
			break;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	if (have_tty)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* ignore */
	}
	if (rc != VOUCH_OK)
		OPENSSL_cleanse(buf, cap);
	else
		*len = n;
	return rc;
}

enum vouch_rc cli_secret_prompt(void *ctx, const char *what, int confirm, char *buf, size_t cap,
				size_t *len, struct vouch_err *err)
{
	(void)ctx;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return vouch_err_set(err, VOUCH_E_USAGE,
				     "%s is needed but there is no terminal to ask on; "
				     "use --passphrase-file (or pin-source in the PKCS#11 URI)",
				     what);
	char prompt[512];
	snprintf(prompt, sizeof(prompt), "Enter %s: ", what);
	enum vouch_rc rc = read_line_noecho(fd, prompt, buf, cap, len, err);
	if (rc == VOUCH_OK && confirm) {
		char again[1024];
		size_t alen = 0;
		snprintf(prompt, sizeof(prompt), "Repeat %s: ", what);
		rc = read_line_noecho(fd, prompt, again, sizeof(again), &alen, err);
		if (rc == VOUCH_OK && (alen != *len || CRYPTO_memcmp(again, buf, alen) != 0)) {
			rc = vouch_err_set(err, VOUCH_E_USAGE, "the two entries differ");
		}
		OPENSSL_cleanse(again, sizeof(again));
		if (rc != VOUCH_OK)
			OPENSSL_cleanse(buf, cap);
	}
	close(fd);
	return rc;
}

void cli_key_opts(struct vouch_key_opts *opts, const char *passphrase_file,
		  const char *pkcs11_module)
{
	memset(opts, 0, sizeof(*opts));
	opts->passphrase_file = passphrase_file;
	opts->pkcs11_module = pkcs11_module;
	opts->secret_cb = cli_secret_prompt;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_draw(struct cli_progress *p, int done)
{
	double t = now_s();
	if (!p->tty || (!done && t - p->last < 0.2))
		return;
	p->last = t;
	int pct = p->total > 0 ? (int)(p->have * 100 / p->total) : 0;
	if (pct > 100)
		pct = 100;
	char bar[31];
	int bars = pct * 30 / 100;
	for (int i = 0; i < 30; i++)
		bar[i] = i < bars ? '=' : (i == bars ? '>' : ' ');
	bar[30] = '\0';
	double el = t - p->start;
	double rate = el > 0 ? (double)p->have / el / (1024.0 * 1024.0) : 0;
	fprintf(stderr, "\r%-24.24s [%s] %3d%% %8.1f MiB/s%s", p->label, bar, pct, rate,
		done ? "\n" : "");
	fflush(stderr);
}

void cli_progress_start(struct cli_progress *p, const char *label)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->tty = isatty(STDERR_FILENO);
	p->start = now_s();
}

void cli_progress_update(void *ctx, uint64_t have, uint64_t total)
{
	struct cli_progress *p = ctx;
	p->have = have;
	p->total = total;
	progress_draw(p, 0);
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->last > 0)
		progress_draw(p, 1);
}
