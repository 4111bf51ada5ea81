/*
 * outputs.c: where a job's files live, shared by the child runtime (which
 * stages and publishes them) and the master (which finishes or removes what
 * a dead child left).
 *
 * NOTES
 *   A job that writes files writes them into a staging directory of its own
 *   attempt, output_root/.staging/<job id>.<attempt>/, never into the place
 *   readers look.  The directory becomes output_root/<job id>/ by one
 *   rename(2) once the transaction that marks the job completed (fenced on
 *   its attempt) has committed.  Attempts never go down, so (id, attempt)
 *   names one run for ever, and only the run whose completion committed can
 *   publish: a stale attempt touches only its own staging directory.
 *
 *   A process can die between the commit and the rename, or while it
 *   writes.  Whoever finds a staging directory later (the master when it
 *   reaps the child, and its sweep of .staging) asks the database: the row
 *   completed by that attempt -> publish; the row still running that attempt
 *   -> leave it to its owner; anything else -> remove.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

int
staging_dir(const char *root, long long id, int attempt, char *buf,
    size_t len)
{
	int	 n;

	n = snprintf(buf, len, "%s/" GW_STAGING "/%lld.%d", root, id, attempt);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
published_dir(const char *root, long long id, char *buf, size_t len)
{
	int	 n;

	n = snprintf(buf, len, "%s/%lld", root, id);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
staging_parse(const char *name, long long *id, int *attempt)
{
	char	*end;

	errno = 0;
	*id = strtoll(name, &end, 10);
	if (errno != 0 || end == name || *end != '.' || *id <= 0)
		return -1;
	*attempt = (int)strtol(end + 1, &end, 10);
	return *end == '\0' && *attempt > 0 ? 0 : -1;
}

/* Removes what dirfd holds, never following a link out of it. */
static int
remove_within(int dirfd)
{
	DIR		*d;
	struct dirent	*e;
	int		 fd, rv = 0;

	if ((d = fdopendir(dirfd)) == NULL) {
		close(dirfd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd, e->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			rv = -1;
			continue;
		}
		fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1 || remove_within(fd) == -1 ||
		    unlinkat(dirfd, e->d_name, AT_REMOVEDIR) == -1)
			rv = -1;
	}
	closedir(d);
	return rv;
}

int
remove_tree(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (remove_within(fd) == -1)
		return -1;
	return rmdir(path) == -1 && errno != ENOENT ? -1 : 0;
}

int
staging_publish(const char *root, long long id, int attempt)
{
	char	 from[4096], to[4096];

	if (staging_dir(root, id, attempt, from, sizeof(from)) == -1 ||
	    published_dir(root, id, to, sizeof(to)) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* An empty directory at the final name (made by hand, or by an older
	 * version that made it before writing) is replaced; a full one is not. */
	if (rename(from, to) == -1) {
		if (errno == ENOENT && access(to, F_OK) == 0)
			return 0;	/* published already */
		return -1;
	}
	return 0;
}
