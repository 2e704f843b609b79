/* api: the API server's shared state and its defaults. */
#include "api.h"

#include <stdlib.h>

#include "lib/xalloc.h"

void api_options_default(api_options *opts)
{
    opts->max_body_bytes = 1024 * 1024;
    opts->max_header_bytes = 16 * 1024;
    opts->request_timeout_s = 30;
    opts->max_watches = 256;
    opts->bookmark_interval_s = 60;
    opts->shutdown_grace_s = 10;
    opts->watch_buffer_bytes = 8 * 1024 * 1024;
    opts->workers = 4;
}

int api_new(const api_options *opts, store *st, const schema_set *schemas, const api_auth *auth,
            api **out, omlop_err *err)
{
    api *a;

    *out = NULL;
    if (!st || !schemas || !auth)
        return omlop_err_set(err, OMLOP_EINTERNAL, "api_new: store, schemas and auth are needed");
    a = xcalloc(1, sizeof(*a));
    if (opts)
        a->opts = *opts;
    else
        api_options_default(&a->opts);
    a->store = st;
    a->schemas = schemas;
    a->auth = auth;
    *out = a;
    return 0;
}

void api_free(api *a)
{
    free(a);
}
