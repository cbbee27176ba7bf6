/* The client address behind trusted proxies: TRUSTED_PROXIES takes addresses and CIDR
 * networks (IPv4 and IPv6, as nginx's set_real_ip_from), the client is the right-most
 * X-Forwarded-For entry that is not a trusted proxy, and an entry that is not an IP address
 * never becomes the client address. */
#include "http/internal.h"

#include <criterion/criterion.h>
#include <stdio.h>

#define F(n, v)                                                                                    \
    {                                                                                              \
        MN_STR_LIT(n), MN_STR_LIT(v)                                                               \
    }

static const char *client(const char *peer, const char *proxies, const char *xff)
{
    static char out[64];
    mn_field h[] = {F("X-Forwarded-For", "")};
    h[0].value = mn_str_from(xff);
    mn_req_init init = {
        .target = "/", .headers = h, .header_count = xff ? 1 : 0, .client_ip = peer};
    mn_req *r = mn_req_new(&init);
    cr_assert_not_null(r);
    r->trusted_proxies = proxies;
    snprintf(out, sizeof out, "%s", mn_req_client_ip(r));
    mn_req_free(r);
    return out;
}

Test(client_address, exact_addresses_still_work)
{
    cr_assert_str_eq(client("10.0.0.1", "10.0.0.1", "203.0.113.9"), "203.0.113.9");
    cr_assert_str_eq(client("10.0.0.9", "10.0.0.1", "203.0.113.9"), "10.0.0.9");
}

Test(client_address, ipv4_networks)
{
    /* the audit's chain: 10.1.2.3 is one of our proxies once 10.0.0.0/8 is trusted */
    cr_assert_str_eq(client("10.9.9.9", "10.0.0.0/8", "1.1.1.1, 10.1.2.3"), "1.1.1.1");
    cr_assert_str_eq(client("10.9.9.9", "192.168.0.0/16, 10.0.0.0/8", "1.1.1.1"), "1.1.1.1");
    cr_assert_str_eq(client("11.0.0.1", "10.0.0.0/8", "1.1.1.1"), "11.0.0.1");
    cr_assert_str_eq(client("172.16.5.4", "172.16.0.0/12", "1.1.1.1"), "1.1.1.1");
    cr_assert_str_eq(client("172.32.0.1", "172.16.0.0/12", "1.1.1.1"), "172.32.0.1");
    /* everything trusted: no entry is the client's, the peer stays */
    cr_assert_str_eq(client("8.8.8.8", "0.0.0.0/0", "1.1.1.1"), "8.8.8.8");
    cr_assert_str_eq(client("10.0.0.1", "10.0.0.1/32", "1.1.1.1"), "1.1.1.1");
    cr_assert_str_eq(client("10.0.0.2", "10.0.0.1/32", "1.1.1.1"), "10.0.0.2");
}

Test(client_address, ipv6_networks_and_mapped_ipv4)
{
    cr_assert_str_eq(client("fd00::5", "fd00::/8", "2001:db8::1"), "2001:db8::1");
    cr_assert_str_eq(client("fe80::1", "fd00::/8", "2001:db8::1"), "fe80::1");
    cr_assert_str_eq(client("::1", "::1", "2001:db8::1, 198.51.100.7"), "198.51.100.7");
    cr_assert_str_eq(client("::ffff:10.0.0.7", "10.0.0.0/8", "203.0.113.1"), "203.0.113.1");
}

Test(client_address, bad_list_items_match_nothing)
{
    cr_assert_str_eq(client("10.0.0.1", "10.0.0.0/33, 10.0.0.0/x, nonsense", "1.1.1.1"),
                     "10.0.0.1");
}

Test(client_address, an_entry_that_is_not_an_ip_is_ignored)
{
    cr_assert_str_eq(client("10.0.0.1", "10.0.0.0/8", "garbage"), "10.0.0.1");
    cr_assert_str_eq(client("10.0.0.1", "10.0.0.0/8", "1.1.1.1, <script>"), "10.0.0.1");
    cr_assert_str_eq(client("10.0.0.1", "10.0.0.0/8", "1.1.1.1:80"), "10.0.0.1");
    /* left of the right-most untrusted entry the client may write anything */
    cr_assert_str_eq(client("10.0.0.1", "10.0.0.0/8", "garbage, 198.51.100.4, 10.2.2.2"),
                     "198.51.100.4");
}

Test(client_address, untrusted_peer_ignores_the_header)
{
    cr_assert_str_eq(client("203.0.113.50", "10.0.0.0/8", "1.1.1.1"), "203.0.113.50");
    cr_assert_str_eq(client("10.0.0.1", NULL, "1.1.1.1"), "10.0.0.1");
}
