/*
 * schema_format: the string formats the CRD schemas use (OpenAPI "format"),
 * plus the Kubernetes name grammars metadata needs. Pure functions over C
 * strings, shared by the decoder, the metadata checks and the cross-field
 * rules (which need to parse addresses, not just accept them).
 *
 * Each checker follows what the Kubernetes API server accepts for the same
 * format, so a manifest valid here is valid on a real cluster too.
 */
#ifndef OMLOP_SCHEMA_FORMAT_H
#define OMLOP_SCHEMA_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Dotted-quad IPv4, four decimal octets 0-255 without leading zeros; *out in host order. */
int schema_format_parse_ipv4(const char *s, uint32_t *out);

/* IPv6 in any RFC 4291 text form (including an embedded IPv4 tail); no zone. */
int schema_format_is_ipv6(const char *s);

/*
 * CIDR "address/prefix" for IPv4 (prefix 0-32) or IPv6 (0-128). Host bits may
 * be set (172.16.101.0/16 is accepted, as Go's net.ParseCIDR does). For IPv4,
 * *addr and *prefix are filled when not NULL and *is_v4 says which family.
 */
int schema_format_parse_cidr(const char *s, int *is_v4, uint32_t *addr, int *prefix);

/* RFC 1123 host name: dot-separated labels of [A-Za-z0-9-], 1-63 each, 253 total. */
int schema_format_is_hostname(const char *s);

/* Mail address local@domain; domain a host name with at least one dot. */
int schema_format_is_email(const char *s);

/* RFC 3339 date-time; *epoch (seconds, UTC) is filled when not NULL. */
int schema_format_parse_date_time(const char *s, int64_t *epoch);

/* Standard padded base64 (CR and LF ignored, as Go's decoder does); len bytes. */
int schema_format_is_byte(const char *s, size_t len);

/* DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63. */
int schema_format_is_dns_label(const char *s);

/* DNS-1123 subdomain: dot-separated lowercase labels, at most 253. */
int schema_format_is_dns_subdomain(const char *s);

/*
 * Kubernetes qualified name (label and annotation keys): an optional DNS
 * subdomain prefix and '/', then a name of at most 63 characters of
 * [A-Za-z0-9._-] starting and ending alphanumeric. On failure *why (static
 * text) says what is wrong.
 */
int schema_format_is_qualified_name(const char *s, const char **why);

/* Label value: empty, or at most 63 of [A-Za-z0-9._-] starting and ending alphanumeric. */
int schema_format_is_label_value(const char *s);

/*
 * Check s against the named OpenAPI format ("ipv4", "ipv6", "hostname",
 * "cidr", "email", "date-time", "byte"). Returns 1 when valid, 0 when not, -1
 * when the format is unknown.
 */
int schema_format_check(const char *format, const char *s, size_t len);

/* Whether name is a format schema_format_check knows. */
int schema_format_is_known(const char *format);

/* What a value of the format looks like, for error messages ("an IPv4 address such as 10.0.0.1").
 */
const char *schema_format_expected(const char *format);

#endif
