/* dirlist.h - what an open directory lists.  OPENDIR captures a few
 * entries of its own (".", "..", folders, files being written: a
 * DirList) and, for a folder, a reference to its listing snapshot; READDIR
 * builds each message's entry (name and attributes) from the snapshot
 * when it is asked for, so an open directory costs a reference and a few
 * entries, not a copy of the listing (a folder of 1,000,000 messages
 * opened ten times holds one listing).  The entries an open directory
 * shows do not change while it is open, whatever refreshes do. */
#ifndef MAILFS_DIRLIST_H
#define MAILFS_DIRLIST_H

#include <fuse_lowlevel.h>
#include <glib.h>
#include <sys/stat.h>

#include "fs/ops.h"

/* Entries captured at OPENDIR: a GArray of them. */
GArray *dirlist_new(void);
void dirlist_add(GArray *dir, const char *name, fuse_ino_t ino, mode_t mode);
/* An entry with its attributes, for READDIRPLUS (the kernel then needs no
 * LOOKUP for it: an `ls -l` of a folder is one request per page of
 * entries, not one per message). */
void dirlist_add_plus(GArray *dir, const char *name,
                      const struct fuse_entry_param *e);
/* The names of DIR's entries from FROM on, as a set (valid while DIR is
 * unchanged), or NULL if there are none. */
GHashTable *dirlist_names(GArray *dir, guint from);

/* An open directory: HEAD (taken) first, then the messages of LISTING
 * (taken; NULL: none) but for those named like an entry of HEAD from
 * SKIP_FROM on (files being written show in their place). */
typedef struct DirSnap DirSnap;
DirSnap *dirsnap_new(GArray *head, MfListing *listing, guint skip_from);
void dirsnap_free(DirSnap *d); /* accepts NULL */
/* Replies to READDIR (PLUS: READDIRPLUS) with D's entries from OFF on
 * (an offset this reply or an earlier one gave). */
void dirsnap_reply(fuse_req_t req, const DirSnap *d, size_t size, off_t off,
                   gboolean plus);

#endif
