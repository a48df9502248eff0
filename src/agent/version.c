/* vouch-agent — version ordering (see version.h for the rules). */
#include "version.h"

#include <string.h>

int agent_version_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > AGENT_VERSION_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum =
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (i == 0 && !alnum)
			return 0;
		if (!alnum && c != '.' && c != '+' && c != '-' && c != '~' && c != '_')
			return 0;
	}
	/* Shape: every core component starts with a digit, so that a word
	 * ("latest", "zzz", "v9") cannot sort above every numbered release
	 * (letters sort above digits); no empty component in the core or the
	 * pre-release ("1..2", "1.", "1.0-", "1.0-rc..1"), which would sort
	 * as a word too. */
	size_t core = strcspn(s, "-+");
	size_t end = strcspn(s, "+");
	if (core == 0)
		return 0;
	for (size_t i = 0; i < core; i++) {
		if (i == 0 || s[i - 1] == '.') {
			if (s[i] < '0' || s[i] > '9')
				return 0;
		}
	}
	if (s[core - 1] == '.')
		return 0;
	if (core < end) { /* "-pre" up to the build metadata */
		size_t a = core + 1;
		if (a >= end || s[a] == '.' || s[end - 1] == '.')
			return 0;
		for (size_t i = a + 1; i < end; i++)
			if (s[i] == '.' && s[i - 1] == '.')
				return 0;
	}
	return 1;
}

static int is_num(const char *p, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

static int cmp_component(const char *a, size_t an, const char *b, size_t bn)
{
	int na = is_num(a, an), nb = is_num(b, bn);
	if (na && nb) {
		while (an > 1 && *a == '0') {
			a++;
			an--;
		}
		while (bn > 1 && *b == '0') {
			b++;
			bn--;
		}
		if (an != bn)
			return an < bn ? -1 : 1;
		int c = memcmp(a, b, an);
		return c < 0 ? -1 : c > 0;
	}
	if (na != nb)
		return na ? -1 : 1;
	size_t m = an < bn ? an : bn;
	int c = memcmp(a, b, m);
	if (c != 0)
		return c < 0 ? -1 : 1;
	return an == bn ? 0 : (an < bn ? -1 : 1);
}

/* Compares dotted lists a[0..an) and b[0..bn). pad_zero: missing
 * components count as "0" (core); else fewer components sort first. */
static int cmp_list(const char *a, size_t an, const char *b, size_t bn, int pad_zero)
{
	size_t i = 0, j = 0;
	for (;;) {
		int ea = i >= an, eb = j >= bn;
		if (ea && eb)
			return 0;
		if (!pad_zero && (ea || eb))
			return ea ? -1 : 1;
		const char *ca = "0", *cb = "0";
		size_t la = 1, lb = 1;
		if (!ea) {
			ca = a + i;
			const char *d = memchr(ca, '.', an - i);
			la = d ? (size_t)(d - ca) : an - i;
			i += la + 1;
		}
		if (!eb) {
			cb = b + j;
			const char *d = memchr(cb, '.', bn - j);
			lb = d ? (size_t)(d - cb) : bn - j;
			j += lb + 1;
		}
		int c = cmp_component(ca, la, cb, lb);
		if (c != 0)
			return c;
	}
}

static void split(const char *s, size_t *core, const char **pre, size_t *pren)
{
	size_t n = strcspn(s, "+");
	const char *dash = memchr(s, '-', n);
	if (dash) {
		*core = (size_t)(dash - s);
		*pre = dash + 1;
		*pren = n - *core - 1;
	} else {
		*core = n;
		*pre = NULL;
		*pren = 0;
	}
}

int agent_version_cmp(const char *a, const char *b)
{
	size_t ac, bc, ap, bp;
	const char *apre, *bpre;
	split(a, &ac, &apre, &ap);
	split(b, &bc, &bpre, &bp);
	int c = cmp_list(a, ac, b, bc, 1);
	if (c != 0)
		return c;
	if (apre == NULL || bpre == NULL)
		return apre == bpre ? 0 : (apre == NULL ? 1 : -1);
	return cmp_list(apre, ap, bpre, bp, 0);
}
