/* error.c — names for Manouche's error codes. */
#include <manouche/core.h>

const char *mn_strerror(int err)
{
    switch (err) {
    case MN_OK: return "success";
    case MN_ENOMEM: return "out of memory";
    case MN_EINVAL: return "invalid argument";
    case MN_EIO: return "input/output error";
    case MN_ETIMEDOUT: return "timed out";
    case MN_ECLOSED: return "connection closed";
    case MN_ETOOBIG: return "over the configured limit";
    case MN_ENOTFOUND: return "not found";
    case MN_ECANCELED: return "cancelled";
    case MN_EAGAIN: return "try again";
    case MN_EPROTO: return "protocol error";
    case MN_EUNSUPPORTED: return "not supported";
    default: return "unknown error";
    }
}
