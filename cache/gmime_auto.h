/* gmime_auto.h - g_autoptr() for the GMime types the views of mail use
 * (GMime 3 declares none), and the one g_mime_init() of the process for
 * them.  For cache/ files only. */
#ifndef MAILFS_GMIME_AUTO_H
#define MAILFS_GMIME_AUTO_H

#include <gmime/gmime.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeParser, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeContentType, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeContentDisposition, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeDataWrapper, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeFilter, g_object_unref)

/* Calls g_mime_init() once (any thread): every cache/ file that uses
 * GMime (the views, the outbox's parser, storeall's dates) goes through
 * it, as g_mime_init() itself is not safe to call from two threads at
 * once (cache/summary.c). */
void summary_gmime_init(void);

#endif
