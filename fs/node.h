/* node.h - inode numbers of the mount tree, computed rather than
 * allocated, so they are stable across remounts and need no table:
 *   1                       the mount root
 *   2, 3                    outbox/, outbox/failed/
 *   4 .. 15                 .mailfs/ and its files
 *   0x100 + folder id       a folder (folder ids < 2^30)
 *   2^31 + 2 * spool id     a file in outbox/ or outbox/failed/
 *   ... + 1                 its NAME.error in outbox/failed/
 *   2^31 + 2^30 + id        a file being written into a folder
 *   gen << 32 | uid         a message; gen names (folder, UIDVALIDITY)
 *   2^63 + ...              a view of mail (fs/view_ops.h)
 * and the helpers fs/ uses to answer with them. */
#ifndef MAILFS_NODE_H
#define MAILFS_NODE_H

#include <fuse_lowlevel.h>
#include <glib.h>
#include <sys/stat.h>

#include "fs/node_name.h"
#include "fs/ops.h"

typedef enum {
	NODE_NONE, NODE_ROOT, NODE_OUTBOX, NODE_FAILED, NODE_FOLDER, NODE_MSG,
	NODE_SPOOL, NODE_SPOOL_ERROR, NODE_CTL, NODE_STAGED,
	NODE_VIEW, /* .mailfs/view/ and what is in it: fs/view_ops.h */
} NodeKind;

typedef struct {
	NodeKind kind;
	gint64 id;   /* folder id, message generation, or spool id */
	guint32 uid; /* message UID */
} Node;

#define INO_ROOT FUSE_ROOT_ID
#define INO_OUTBOX 2
#define INO_FAILED 3
#define INO_CTL_FIRST 4    /* .mailfs/ and its files: see ctl_ops.h */
#define INO_CTL_LAST 15

Node node_decode(fuse_ino_t ino);
fuse_ino_t node_folder_ino(gint64 id);
fuse_ino_t node_msg_ino(gint64 gen, guint32 uid);
fuse_ino_t node_spool_ino(gint64 id, gboolean error_file);
fuse_ino_t node_staged_ino(gint64 id);

MfFs *node_fs(fuse_req_t req);

/* The file name of message M of listing L: the name it was given
 * through the mount (written or renamed to), else node_name_format() of
 * its UID and the listing's generation, which makes names unique in the
 * whole account (a message copied or moved to another folder never meets
 * a name it already has there), or of its key (a POP3 UIDL).  Written to
 * BUF, or an alias L holds. */
const char *node_msg_name(const MfListing *l, const MfRemoteMessage *m,
                          char buf[NODE_NAME_MAX]);
/* Messages never change: the kernel may keep their names and attributes
 * for long. */
#define NODE_MSG_TIMEOUT 3600.0
/* The entry of message M of listing L: its inode, 0644 where mail can be
 * changed (else 0444), the size it reads with, its arrival time, both
 * timeouts NODE_MSG_TIMEOUT. */
void node_msg_entry(const MfFs *fs, const MfListing *l,
                    const MfRemoteMessage *m, struct fuse_entry_param *e);

/* The message called NAME in FOLDER_ID (its listing refreshed if stale):
 * its generation and UID; FALSE if none. */
gboolean node_find_message(MfFs *fs, gint64 folder_id, const char *name,
                           gint64 *gen, guint32 *uid);

/* Copies every byte of FROM (from its start) to TO (at its offset). */
gboolean node_copy_fd(int from, int to, GError **err);

/* TRUE if the mail of FS can be changed (the owner may write folders and
 * messages: modes 0755 and 0644, else 0555 and 0444). */
gboolean node_mail_writable(const MfFs *fs);

/* Attributes of a directory (0555, or 0755 when WRITABLE), changed at
 * MTIME (or when the mount started, if later). */
void node_dir_attr(const MfFs *fs, fuse_ino_t ino, gboolean writable,
                   gint64 mtime, struct stat *st);
/* Attributes of a regular file. */
void node_file_attr(const MfFs *fs, fuse_ino_t ino, mode_t perm,
                    guint64 size, gint64 mtime, struct stat *st);

/* Replies to GETXATTR or LISTXATTR with VALUE (LEN bytes) for a caller
 * buffer of SIZE (0: it asks for the length). */
void node_reply_xattr(fuse_req_t req, const char *value, size_t len,
                      size_t size);

/* Replies with ERR's errno (errmap). */
void node_reply_error(fuse_req_t req, const GError *err);

/* Open file and directory handles.  The kernel may release a handle while
 * a request on it is still being answered (an interrupted read), and may
 * not release every handle before the session ends; so requests hold a
 * handle between node_handle_get() (FALSE: already released) and
 * node_handle_put(), and what is still open at the end is freed. */
/* node_handles_init() creates fs->handles, node_handles_free_all() frees
 * it with every handle still open. */
void node_handles_init(MfFs *fs);
void node_handle_track(MfFs *fs, gpointer h, GDestroyNotify free_fn);
gboolean node_handle_get(MfFs *fs, gpointer h);
/* The same, for a handle tracked with FREE_FN only (its kind). */
gboolean node_handle_get_kind(MfFs *fs, gpointer h, GDestroyNotify free_fn);
void node_handle_put(MfFs *fs, gpointer h);
/* At RELEASE: H is freed once no request holds it. */
void node_handle_release(MfFs *fs, gpointer h);
void node_handles_free_all(MfFs *fs);

/* Directory listings: fs/dirlist.h. */
#include "fs/dirlist.h"

#endif
