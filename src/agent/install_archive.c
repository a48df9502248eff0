/* vouch-agent — archive installer (app code push): a tar extracted while it
 * downloads into a fresh directory, confined to it, then a symlink swap.
 *
 * libarchive pulls its input while the pipeline pushes it, so the
 * extraction runs on a second thread reading a pipe that the pipeline's
 * sink writes: memory stays bounded by the pipe and libarchive's blocks.
 * Nothing in the fresh directory is used before the whole stream has
 * matched its signed hashes; on any failure the directory is removed. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "install.h"

struct extract {
	int fd; /* read end of the pipe */
	const char *root;
	uint64_t max_bytes;
	enum vouch_rc rc;
	struct vouch_err err;
};

/* Lexically resolves rel (a relative path) against the entry's depth and
 * says whether it stays inside the root: each ".." must have a component to
 * climb out of. ".." is allowed only before the first other component: after
 * one, the component may itself be a link ("a -> ." makes "a/a/../.." climb
 * two levels above the link's directory, not zero). */
static int stays_inside(const char *entry_path, const char *link_target)
{
	long depth = 0;
	/* The link lives in entry_path's directory: count its components. */
	const char *p = entry_path;
	const char *last = strrchr(entry_path, '/');
	while (last != NULL && p < last) {
		const char *slash = strchr(p, '/');
		size_t n = (size_t)(slash - p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else {
			depth++;
		}
		p = slash + 1;
	}
	p = link_target;
	int descended = 0;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (descended || --depth < 0)
				return 0;
		} else if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else {
			depth++;
			descended = 1;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return 1;
}

static int has_dotdot(const char *path)
{
	const char *p = path;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

static enum vouch_rc check_entry(struct archive_entry *e, struct vouch_err *err)
{
	const char *path = archive_entry_pathname(e);
	if (path == NULL || *path == '\0')
		return vouch_err_set(err, VOUCH_E_DENIED, "archive entry without a name");
	if (path[0] == '/')
		return vouch_err_set(err, VOUCH_E_DENIED, "archive entry %.200s: absolute path",
				     path);
	if (has_dotdot(path))
		return vouch_err_set(err, VOUCH_E_DENIED, "archive entry %.200s: '..' in path",
				     path);
	if (strlen(path) > 1024)
		return vouch_err_set(err, VOUCH_E_LIMIT, "archive entry name too long");
	const char *hl = archive_entry_hardlink(e);
	if (hl != NULL) {
		if (hl[0] == '/' || has_dotdot(hl))
			return vouch_err_set(
			    err, VOUCH_E_DENIED,
			    "archive entry %.200s: hard link escapes the directory", path);
		return VOUCH_OK;
	}
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
	case AE_IFDIR:
		return VOUCH_OK;
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(e);
		if (t == NULL || t[0] == '/' || !stays_inside(path, t))
			return vouch_err_set(err, VOUCH_E_DENIED,
					     "archive entry %.200s: link escapes the directory (-> "
					     "%.200s)",
					     path, t ? t : "");
		return VOUCH_OK;
	}
	default:
		return vouch_err_set(err, VOUCH_E_DENIED,
				     "archive entry %.200s: device node, fifo or socket refused",
				     path);
	}
}

static enum vouch_rc prefixed(const char *root, const char *rel, struct archive_entry *e, int hard,
			      struct vouch_err *err)
{
	char full[PATH_MAX];
	if (snprintf(full, sizeof(full), "%s/%s", root, rel) >= (int)sizeof(full))
		return vouch_err_set(err, VOUCH_E_LIMIT, "archive path too long");
	if (hard)
		archive_entry_copy_hardlink(e, full);
	else
		archive_entry_copy_pathname(e, full);
	return VOUCH_OK;
}

static void *extract_main(void *arg)
{
	struct extract *x = arg;
	struct archive *a = archive_read_new();
	struct archive *w = archive_write_disk_new();
	struct archive_entry *e = NULL;
	uint64_t total = 0, entries = 0;
	enum vouch_rc rc = VOUCH_OK;
	char rel[1100];

	if (a == NULL || w == NULL) {
		rc = vouch_err_set(&x->err, VOUCH_E_NOMEM, "out of memory");
		goto out;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	/* Belt and braces on top of check_entry(): libarchive's own guards
	 * against ".." and against writing through a symlink (which a lexical
	 * check of link targets cannot see: "s -> ." then "s/l -> .."). Paths
	 * are made absolute under the root after check_entry() refused
	 * absolute ones, so libarchive's absolute-path guard cannot be used.
	 * No owner, no setuid bits. */
	archive_write_disk_set_options(
	    w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
		   ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_NO_OVERWRITE);
	if (archive_read_open_fd(a, x->fd, 64 * 1024) != ARCHIVE_OK) {
		rc = vouch_err_set(&x->err, VOUCH_E_FORMAT, "archive: %s", archive_error_string(a));
		goto out;
	}
	for (;;) {
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) {
			rc = vouch_err_set(&x->err, VOUCH_E_FORMAT, "archive: %s",
					   archive_error_string(a));
			goto out;
		}
		if (++entries > AGENT_ARCHIVE_MAX_ENTRIES) {
			rc = vouch_err_set(&x->err, VOUCH_E_LIMIT, "archive: more than %d entries",
					   AGENT_ARCHIVE_MAX_ENTRIES);
			goto out;
		}
		rc = check_entry(e, &x->err);
		if (rc != VOUCH_OK)
			goto out;
		snprintf(rel, sizeof(rel), "%s", archive_entry_pathname(e));
		archive_entry_set_perm(e, archive_entry_perm(e) & 0777);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		rc = prefixed(x->root, rel, e, 0, &x->err);
		if (rc == VOUCH_OK && archive_entry_hardlink(e) != NULL) {
			char hl[1100];
			struct stat hst;
			snprintf(hl, sizeof(hl), "%s", archive_entry_hardlink(e));
			rc = prefixed(x->root, hl, e, 1, &x->err);
			/* Only to a regular file extracted before: link(2) does not
			 * follow symlinks, so a hard link to "d/l -> .." would be a
			 * copy of that link at another depth, escaping. */
			if (rc == VOUCH_OK &&
			    (lstat(archive_entry_hardlink(e), &hst) != 0 || !S_ISREG(hst.st_mode)))
				rc = vouch_err_set(
				    &x->err, VOUCH_E_DENIED,
				    "archive entry %.200s: hard link to %.200s, which "
				    "is not a regular file of the archive",
				    rel, hl);
		}
		if (rc != VOUCH_OK)
			goto out;
		if (archive_write_header(w, e) != ARCHIVE_OK) {
			rc = vouch_err_set(&x->err, VOUCH_E_DENIED, "archive entry %.200s: %s", rel,
					   archive_error_string(w));
			goto out;
		}
		for (;;) {
			const void *buf;
			size_t n;
			la_int64_t off;
			r = archive_read_data_block(a, &buf, &n, &off);
			if (r == ARCHIVE_EOF)
				break;
			if (r != ARCHIVE_OK) {
				rc = vouch_err_set(&x->err, VOUCH_E_FORMAT, "archive: %s",
						   archive_error_string(a));
				goto out;
			}
			total += n;
			if (total > x->max_bytes) {
				rc = vouch_err_set(&x->err, VOUCH_E_LIMIT,
						   "archive expands beyond %llu bytes",
						   (unsigned long long)x->max_bytes);
				goto out;
			}
			if (archive_write_data_block(w, buf, n, off) != ARCHIVE_OK) {
				rc = vouch_err_set(&x->err, VOUCH_E_IO, "%s: %s", rel,
						   archive_error_string(w));
				goto out;
			}
		}
		if (archive_write_finish_entry(w) != ARCHIVE_OK) {
			rc = vouch_err_set(&x->err, VOUCH_E_IO, "%s: %s", rel,
					   archive_error_string(w));
			goto out;
		}
	}
	/* Consume trailing padding so the writer never blocks on a full pipe. */
	{
		char sink[4096];
		while (read(x->fd, sink, sizeof(sink)) > 0)
			;
	}
out:
	if (w != NULL) {
		if (archive_write_close(w) != ARCHIVE_OK && rc == VOUCH_OK)
			rc = vouch_err_set(&x->err, VOUCH_E_IO, "archive: %s",
					   archive_error_string(w));
		archive_write_free(w);
	}
	if (a != NULL)
		archive_read_free(a);
	close(x->fd);
	x->fd = -1;
	x->rc = rc;
	return NULL;
}

struct pipe_sink {
	int fd;
};

static enum vouch_rc pipe_write(void *ctx, const void *p, size_t n, struct vouch_err *err)
{
	struct pipe_sink *s = ctx;
	const unsigned char *c = p;
	while (n > 0) {
		ssize_t k = write(s->fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return vouch_err_set(err, VOUCH_E_IO, "archive extraction stopped");
		c += k;
		n -= (size_t)k;
	}
	return VOUCH_OK;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void agent_remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

enum vouch_rc agent_archive_release_dir(const char *dir, const char *sha256_hex, char **out,
					struct vouch_err *err)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s.%.16s", dir, sha256_hex) >= (int)sizeof(buf))
		return vouch_err_set(err, VOUCH_E_IO, "%s: path too long", dir);
	*out = strdup(buf);
	if (*out == NULL)
		return vouch_err_set(err, VOUCH_E_NOMEM, "out of memory");
	return VOUCH_OK;
}

enum vouch_rc agent_install_archive(const char *release_dir, const struct vouch_pipeline_opts *po,
				    struct vouch_pipeline_result *res, struct vouch_err *err)
{
	int fds[2] = {-1, -1};
	struct extract x;
	struct pipe_sink s = {-1};
	pthread_t th;
	enum vouch_rc rc = VOUCH_OK;
	int dfd = -1, r = 0;

	memset(&x, 0, sizeof(x));
	agent_remove_tree(release_dir);
	if (mkdir(release_dir, 0755) != 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s: mkdir: %s", release_dir,
				     strerror(errno));
	if (pipe2(fds, O_CLOEXEC) != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "pipe: %s", strerror(errno));
		goto fail;
	}
	x.fd = fds[0];
	x.root = release_dir;
	x.max_bytes = po->length * AGENT_ARCHIVE_MAX_RATIO + 64u * 1024 * 1024;
	if (pthread_create(&th, NULL, extract_main, &x) != 0) {
		close(fds[0]);
		close(fds[1]);
		rc = vouch_err_set(err, VOUCH_E_IO, "cannot start the extraction thread");
		goto fail;
	}
	s.fd = fds[1];
	rc = vouch_pipeline_run(po, pipe_write, &s, res, err);
	close(fds[1]);
	pthread_join(th, NULL);
	/* A refusal by the extractor explains a stopped pipe best. */
	if (x.rc != VOUCH_OK && (rc == VOUCH_OK || rc == VOUCH_E_IO)) {
		rc = x.rc;
		if (err != NULL)
			*err = x.err;
	}
	if (rc != VOUCH_OK)
		goto fail;
	dfd = open(release_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: %s", release_dir, strerror(errno));
		goto fail;
	}
	/* Every file of the release, durable before the switch. */
	vouch_fault_point(VOUCH_FAULT_FSYNC, release_dir);
	r = syncfs(dfd);
	close(dfd);
	if (r != 0) {
		rc = vouch_err_set(err, VOUCH_E_IO, "%s: syncfs: %s", release_dir, strerror(errno));
		goto fail;
	}
	return vouch_fsync_dir_of(release_dir, err);
fail:
	agent_remove_tree(release_dir);
	return rc;
}

char *agent_archive_current(const char *dir)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(dir, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	if (buf[0] == '/')
		return strdup(buf);
	/* Relative to the link's directory. */
	char full[PATH_MAX];
	const char *slash = strrchr(dir, '/');
	int len = slash ? (int)(slash - dir) : 0;
	if (slash == NULL)
		snprintf(full, sizeof(full), "%s", buf);
	else if (snprintf(full, sizeof(full), "%.*s/%s", len, dir, buf) >= (int)sizeof(full))
		return NULL;
	return strdup(full);
}

enum vouch_rc agent_archive_switch(const char *dir, const char *release_dir, struct vouch_err *err)
{
	char tmp[PATH_MAX];
	struct stat st;
	if (lstat(dir, &st) == 0 && !S_ISLNK(st.st_mode))
		return vouch_err_set(err, VOUCH_E_IO, "%s: exists and is not a symlink", dir);
	if (snprintf(tmp, sizeof(tmp), "%s.vouch-swap", dir) >= (int)sizeof(tmp))
		return vouch_err_set(err, VOUCH_E_IO, "%s: path too long", dir);
	/* Relative link: the pair keeps working if the tree is moved. */
	const char *base = strrchr(release_dir, '/');
	base = base ? base + 1 : release_dir;
	unlink(tmp);
	vouch_fault_point(VOUCH_FAULT_SYMLINK, tmp);
	if (symlink(base, tmp) != 0)
		return vouch_err_set(err, VOUCH_E_IO, "%s: symlink: %s", tmp, strerror(errno));
	if (vouch_fault_rename(tmp, dir) != 0) {
		int e = errno;
		unlink(tmp);
		return vouch_err_set(err, VOUCH_E_IO, "%s: rename: %s", dir, strerror(e));
	}
	return vouch_fsync_dir_of(dir, err);
}
