/* vouch-agent — ordering of release versions (custom.vouch.version).
 *
 * Semantic-version ordering, tolerant of other dotted schemes:
 *   - "+build" metadata is ignored;
 *   - the part before the first '-' is compared component by component
 *     (split on '.'): numeric components numerically (any length),
 *     other components byte-wise, a numeric component below a non-numeric
 *     one, missing components as 0 ("1.2" == "1.2.0");
 *   - on an equal core, a version with a pre-release ("2.0.0-rc.1") is
 *     below the release ("2.0.0"); pre-releases compare like the core,
 *     except that fewer components sort first (semver: rc < rc.1).
 * "1.10.0" > "1.9.3" > "1.9.3-rc.2" > "1.9.3-rc.1" > "1.9". */
#ifndef VOUCH_AGENT_VERSION_H
#define VOUCH_AGENT_VERSION_H

#define AGENT_VERSION_MAX 64

/* 1 if s is a usable version: 1..64 bytes of [0-9A-Za-z.+~_-]; the core
 * (before the first '-' or '+') is non-empty dot-separated components each
 * starting with a digit ("1.2.0a" yes; "latest", "v1.2", "1..2" no); a
 * pre-release has no empty component. A release whose version is not
 * valid is refused ("missing or malformed version"), so no string can sort
 * above the numbered releases by being a word. */
int agent_version_valid(const char *s);
/* <0, 0, >0 like strcmp. */
int agent_version_cmp(const char *a, const char *b);

#endif
