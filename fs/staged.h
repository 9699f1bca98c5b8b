/* staged.h - files being written into folders through the mount, before
 * (and while) they become messages.
 *
 * A file created in a folder, or a message opened for writing (empty with
 * O_TRUNC, else holding the message's bytes), is a Staged: its
 * bytes in cache_dir/staging/, shown in the folder under its name, in
 * place of a message of that name.  When it is closed after a change it is
 * checked (cache/append_msg.h) and committed: recorded in the journal,
 * which appends it under that name and only then removes the message that
 * had the name.  A file that fails the check makes close() fail with
 * EBADMSG; it stays until its last close, then goes, never appended.
 *
 * Scratch names (editors' swap, lock and backup files, rsync's temporary
 * names, dot-names: outbox_msg_is_scratch_name) are never committed: they
 * stay local while they exist (until removed, or the mount ends), and
 * renaming one to a real name commits it.
 *
 * Handles (StagedHandle) keep their Staged alive; otherwise Stageds are
 * named by folder and name, or by id (their inode), and every function
 * takes the lock of fs->staged itself. */
#ifndef MAILFS_STAGED_H
#define MAILFS_STAGED_H

#include "fs/node.h"

typedef struct Staged Staged;

typedef struct {
	Staged *st;
	int fd;
} StagedHandle;

/* Frees a handle (the free function it is tracked with). */
void staged_handle_free(gpointer h);

/* Creates fs->staged, keeping the bytes in DIR (emptied: what a crash
 * left was never closed, so never appended); staged_cleanup() frees it. */
void staged_init(MfFs *fs, const char *dir);
void staged_cleanup(MfFs *fs);

/* A new empty file NAME in FOLDER_ID (replacing a staged file of that
 * name), open read-write: a handle, tracked (node_handle_track). */
StagedHandle *staged_create(MfFs *fs, gint64 folder_id, const char *name,
                            GError **err);
/* A file NAME in FOLDER_ID that replaces the message of that name, open
 * with FLAGS (open(2)): empty, or a copy of SRC_FD's bytes (-1: none). */
StagedHandle *staged_replace(MfFs *fs, gint64 folder_id, const char *name,
                             int src_fd, int flags, GError **err);
/* Opens staged file ID again with FLAGS. */
StagedHandle *staged_open(MfFs *fs, gint64 id, int flags, GError **err);

/* The inode of the staged file NAME in FOLDER_ID and its attributes in
 * *SB, or 0 if there is none. */
fuse_ino_t staged_lookup(MfFs *fs, gint64 folder_id, const char *name,
                         struct stat *sb);
/* Attributes of staged file ID; FALSE if it is gone. */
gboolean staged_getattr(MfFs *fs, gint64 id, struct stat *sb);
/* Adds the staged files of FOLDER_ID to DIR. */
void staged_fill(MfFs *fs, gint64 folder_id, GArray *dir);

/* At a close of H (FLUSH): commits the file if it changed and its name is
 * not a scratch name.  MF_ERROR_BADMSG if it is no message (it stays,
 * uncommitted, until released), or the journal's error. */
gboolean staged_flush(MfFs *fs, StagedHandle *h, GError **err);
/* At the last close of H (RELEASE): a file that was committed, or never
 * could be, goes (with a log line if it was not appended); a scratch
 * file stays.  Frees H through node_handle_release. */
void staged_release(MfFs *fs, StagedHandle *h);

/* Removes the staged file NAME of FOLDER_ID; FALSE if there is none. */
gboolean staged_unlink(MfFs *fs, gint64 folder_id, const char *name);
/* Renames the staged file NAME of FOLDER_ID to NEW_NAME in NEW_FOLDER
 * (replacing a staged file there).  One no longer open, and whose new
 * name is a real one, is committed then: a failed commit undoes the
 * rename.  *FOUND says whether there was such a file. */
gboolean staged_rename(MfFs *fs, gint64 folder_id, const char *name,
                       gint64 new_folder, const char *new_name,
                       gboolean *found, GError **err);

/* SETATTR on staged file ID: the size (truncate) and the time (the date
 * it is appended with) are kept; modes and owners are accepted and not
 * kept.  Fills *SB. */
gboolean staged_setattr(MfFs *fs, gint64 id, const struct stat *attr,
                        int to_set, struct stat *sb, GError **err);
/* Records that H's file was written to. */
void staged_wrote(MfFs *fs, StagedHandle *h);
/* The staged file a tracked handle H belongs to: its id. */
gint64 staged_handle_id(const StagedHandle *h);

/* The flags (user.mailfs.flags) staged file ID will be appended with:
 * set (FLAGS NULL: none) and read (owned; NULL if none). */
gboolean staged_set_flags(MfFs *fs, gint64 id, const char *flags);
char *staged_get_flags(MfFs *fs, gint64 id, gboolean *found);

/* Unix time of the last change of FOLDER_ID's staged files (0: none). */
gint64 staged_folder_mtime(MfFs *fs, gint64 folder_id);

#endif
