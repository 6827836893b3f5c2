/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <errno.h>

static const char *errno_text(int e) {
        switch (e) {
        case ENOMEM:
                return "out of memory";
        case EINVAL:
                return "invalid argument";
        case EIO:
                return "input/output error";
        case ENOSPC:
                return "no space left on device";
        case ENOENT:
                return "no such file or directory";
        case EEXIST:
                return "file exists";
        case EACCES:
                return "permission denied";
        case EPERM:
                return "operation not permitted";
        case EAGAIN:
                return "resource temporarily unavailable";
        case EINTR:
                return "interrupted system call";
        case EBADF:
                return "bad file descriptor";
        case EROFS:
                return "read-only file system";
        case EFBIG:
                return "file too large";
        case EMFILE:
                return "too many open files";
        case ENOTDIR:
                return "not a directory";
        case EISDIR:
                return "is a directory";
        case ELOOP:
                return "too many levels of symbolic links";
        case ETIMEDOUT:
                return "connection timed out";
        case ECONNREFUSED:
                return "connection refused";
        case ECONNRESET:
                return "connection reset by peer";
        case EADDRINUSE:
                return "address already in use";
        case EPIPE:
                return "broken pipe";
        case EOVERFLOW:
                return "value too large for defined data type";
        case ERANGE:
                return "numerical result out of range";
        case EBADMSG:
                return "bad message";
        case EPROTO:
                return "protocol error";
        case ENOTSUP:
                return "operation not supported";
        default:
                return "system error";
        }
}

const char *gh_strerror(int status) {
        if (status < 0)
                return errno_text(-status);
        switch (status) {
        case GH_OK:
                return "success";
        case GH_E_MALFORMED:
                return "malformed data";
        case GH_E_TOO_LARGE:
                return "size limit exceeded";
        case GH_E_VERSION:
                return "unknown format version or record kind";
        case GH_E_BAD_SIGNATURE:
                return "signature does not verify";
        case GH_E_NO_KEY:
                return "no signature from a known key";
        case GH_E_BAD_PROOF:
                return "Merkle proof does not verify";
        case GH_E_RANGE:
                return "argument out of range";
        case GH_E_ROOT_MISMATCH:
                return "recomputed root differs from the signed root";
        default:
                return "unknown status";
        }
}
