/* account_view.h - what the read-only views of mail (fs/view_ops.c) need
 * of an account beyond account.h: message summaries for folder
 * summaries.  Every function may be called from any FUSE worker thread,
 * with no lock of fs/ held. */
#ifndef MAILFS_ACCOUNT_VIEW_H
#define MAILFS_ACCOUNT_VIEW_H

#include "cache/account.h"
#include "cache/summary.h"

/* The summaries of the messages of L, FOLDER_ID's listing: a new array
 * (owned, freeing its MfSummary*) with one entry per message, in L's
 * order.  Those not yet in the store are made from header fields only:
 * while online, those of all of them fetched in one command (never a
 * body); else the headers of bodies in the cache; else left empty (and
 * asked for again next time).  Never fails: a server or store failure is
 * logged and leaves fields empty. */
GPtrArray *account_summaries(MfAccount *a, gint64 folder_id,
                             const MfListing *l);

#endif
