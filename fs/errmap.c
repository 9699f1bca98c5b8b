/* errmap.c - MF_ERROR codes to errno, for FUSE replies. */
#include "fs/errmap.h"

#include <errno.h>

#include "net/mf_error.h"

int
errmap_to_errno(const GError *err)
{
	if (!err || err->domain != MF_ERROR)
		return EIO;
	switch ((MfErrorCode)err->code) {
	case MF_ERROR_NOTFOUND:
	case MF_ERROR_MAILBOX:
		return ENOENT;
	case MF_ERROR_READONLY:
		return EACCES;
	case MF_ERROR_EXISTS:
		return EEXIST;
	case MF_ERROR_NOTEMPTY:
		return ENOTEMPTY;
	case MF_ERROR_CANCELLED:
		return EINTR;
	case MF_ERROR_CONFIG:
	case MF_ERROR_REFUSED:
		return EINVAL;
	case MF_ERROR_BADMSG:
		return EBADMSG;
	case MF_ERROR_NOSPACE:
		return ENOSPC;
	case MF_ERROR_BUSY:
		return EBUSY;
	case MF_ERROR_PERM:
		return EPERM;
	case MF_ERROR_MESSAGE:
	case MF_ERROR_CONNECTION:
	case MF_ERROR_UNSURE:
	case MF_ERROR_TLS:
	case MF_ERROR_AUTH:
	case MF_ERROR_PROTOCOL:
	case MF_ERROR_OFFLINE:
	case MF_ERROR_LOCAL:
		return EIO;
	}
	return EIO;
}

gboolean
errmap_daemon_gone(int e)
{
	return e == ENOTCONN || e == ECONNABORTED;
}
