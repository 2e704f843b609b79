/* version: the omlop release string, shared by omlopd, omlctl and the API. */
#ifndef OMLOP_VERSION_H
#define OMLOP_VERSION_H

#define OMLOP_RELEASE "0.1.0-dev"

#endif
