/* floorfs.c - the floor of a FUSE file system that answers OPEN and
 * RELEASE, for the benchmark (not part of mailfs): a read-only view of
 * one flat local directory, each request doing the least it can (LOOKUP
 * an fstatat, OPEN an openat with keep_cache, READ a splice, RELEASE a
 * close), READDIRPLUS with the same timeouts as mailfs, the same
 * multithreaded loop.  A warm `grep -r` through it costs what the
 * per-file OPEN and RELEASE round trips cost on this machine.
 *
 * Build: cc -O2 floorfs.c $(pkg-config --cflags --libs fuse3) -o floorfs
 * Run:   floorfs DIR MOUNTPOINT   (stays in the foreground; fusermount3 -u)
 */
#define FUSE_USE_VERSION 312
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dirfd_;
static char **names;
static size_t count;

/* Inode 1 is the root, 2 + i the i-th file. */
static int
stat_of(fuse_ino_t ino, struct stat *st)
{
	if (ino == 1) {
		memset(st, 0, sizeof *st);
		st->st_ino = 1;
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	if (ino - 2 >= count || fstatat(dirfd_, names[ino - 2], st, 0) != 0)
		return -1;
	st->st_ino = ino;
	return 0;
}

static void
entry_of(fuse_ino_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	e->ino = ino;
	e->attr_timeout = e->entry_timeout = 3600.0;
	stat_of(ino, &e->attr);
}

static void
ff_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	for (size_t i = 0; parent == 1 && i < count; i++)
		if (strcmp(names[i], name) == 0) {
			entry_of(2 + i, &e);
			fuse_reply_entry(req, &e);
			return;
		}
	fuse_reply_err(req, ENOENT);
}

static void
ff_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	if (stat_of(ino, &st) != 0)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, 3600.0);
}

static void
ff_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
               struct fuse_file_info *fi)
{
	char *buf = malloc(size);
	size_t used = 0;

	for (size_t i = (size_t)off; i < count; i++) {
		struct fuse_entry_param e;
		entry_of(2 + i, &e);
		size_t n = fuse_add_direntry_plus(req, buf + used, size - used,
		                                  names[i], &e, (off_t)i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void
ff_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
           struct fuse_file_info *fi)
{
	char *buf = malloc(size);
	size_t used = 0;

	for (size_t i = (size_t)off; i < count; i++) {
		struct stat st = { .st_ino = 2 + i, .st_mode = S_IFREG };
		size_t n = fuse_add_direntry(req, buf + used, size - used,
		                             names[i], &st, (off_t)i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void
ff_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd = ino >= 2 && ino - 2 < count
	         ? openat(dirfd_, names[ino - 2], O_RDONLY | O_CLOEXEC) : -1;

	if (fd < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) != 0)
		close(fd);
}

static void
ff_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
        struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void
ff_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void
ff_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	fuse_reply_err(req, ENOTSUP);
}

static void
ff_init(void *ud, struct fuse_conn_info *conn)
{
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

static const struct fuse_lowlevel_ops ff_ops = {
	.init = ff_init, .lookup = ff_lookup, .getattr = ff_getattr,
	.readdir = ff_readdir, .readdirplus = ff_readdirplus,
	.open = ff_open, .read = ff_read, .release = ff_release,
	.getxattr = ff_getxattr,
};

static void
load_names(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;

	if (!d) {
		perror(dir);
		exit(1);
	}
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (count == cap)
			names = realloc(names, (cap = cap ? 2 * cap : 1024) *
			                sizeof *names);
		names[count++] = strdup(de->d_name);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);

	if (argc != 3) {
		fprintf(stderr, "usage: floorfs DIR MOUNTPOINT\n");
		return 2;
	}
	load_names(argv[1]);
	fuse_opt_add_arg(&args, "floorfs");
	fuse_opt_add_arg(&args, "-o");
	fuse_opt_add_arg(&args, "fsname=floorfs,default_permissions");
	struct fuse_session *se = fuse_session_new(&args, &ff_ops,
	                                           sizeof ff_ops, NULL);
	if (!se || fuse_set_signal_handlers(se) != 0 ||
	    fuse_session_mount(se, argv[2]) != 0)
		return 1;
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_idle_threads(lc, 2);
	int rc = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return rc ? 1 : 0;
}
