/* account_view.h - what the read-only views of mail (fs/view_ops.c) need
 * of an account beyond account.h: message summaries for folder
 * summaries, and searches.  Every function may be called from any FUSE
 * worker thread, with no lock of fs/ held. */
#ifndef MAILFS_ACCOUNT_VIEW_H
#define MAILFS_ACCOUNT_VIEW_H

#include "cache/account.h"
#include "cache/search_query.h"
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

typedef struct {
	gint64 folder_id;
	gint64 gen;      /* the listing generation that names it */
	guint32 uid;
} MfSearchHit;

/* The messages QUERY finds (cache/account_search.c): a new array of
 * MfSearchHit, folder by folder (that of its in:, else every selectable
 * one, depth first), by UID; only messages of the folders' listings.
 * While online, the server's UID SEARCH in each folder; while offline (or when the
 * backend cannot search, or the server is found unreachable), the local
 * full-text index of cached bodies, which is first given the cached
 * bodies it does not hold yet: *LOCAL says so.  MF_ERROR_NOTFOUND when
 * in: names no folder; a server's refusal (MF_ERROR_REFUSED) fails. */
GArray *account_search(MfAccount *a, const SearchQuery *q, gboolean *local,
                       GError **err);

#endif
