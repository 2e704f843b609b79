/* k8s_status: the reason names Kubernetes gives HTTP status codes (see k8s_status.h). */
#include "k8s_status.h"

#include <stddef.h>

const char *k8s_status_reason(long code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 408:
        return "Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "LengthRequired";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 431:
        return "RequestHeaderFieldsTooLarge";
    case 500:
        return "InternalError";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        return NULL;
    }
}
