//! Which addresses a public CA refuses to connect to.
//!
//! The list follows Boulder's `bdns` filter (the IANA special-purpose registries): Let's
//! Encrypt drops these addresses before it dials, so a name that resolves only to them fails
//! validation no matter what answers there. std's `is_global` and friends are still unstable,
//! so the blocks std cannot name yet are written out by hand below.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` is not publicly routable, or `None` when a CA may connect to it. With
/// `allow_loopback`, 127.0.0.0/8 and ::1 count as reachable: tests and the demo run there.
pub fn reserved_reason(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => reserved_v4(v4, allow_loopback),
        IpAddr::V6(v6) => reserved_v6(v6, allow_loopback),
    }
}

fn reserved_v4(ip: Ipv4Addr, allow_loopback: bool) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("loopback (127.0.0.0/8)");
    }
    if a == 0 {
        return Some("\"this network\" (0.0.0.0/8)");
    }
    if ip.is_private() {
        return Some("private address space (RFC 1918: 10/8, 172.16/12, 192.168/16)");
    }
    if ip.is_link_local() {
        return Some("link-local (169.254.0.0/16)");
    }
    // Ipv4Addr::is_shared is unstable: RFC 6598 carrier-grade NAT, 100.64.0.0/10.
    if a == 100 && (b & 0xc0) == 64 {
        return Some("carrier-grade NAT space (100.64.0.0/10)");
    }
    if ip.is_documentation() {
        return Some("documentation range (192.0.2/24, 198.51.100/24, 203.0.113/24)");
    }
    // RFC 6890 IETF protocol assignments, 192.0.0.0/24 (no std method).
    if a == 192 && b == 0 && c == 0 {
        return Some("IETF protocol assignments (192.0.0.0/24)");
    }
    // The deprecated 6to4 relay anycast block, 192.88.99.0/24 (RFC 7526), still in Boulder's list.
    if a == 192 && b == 88 && c == 99 {
        return Some("6to4 relay anycast (192.88.99.0/24)");
    }
    // Ipv4Addr::is_benchmarking is unstable: RFC 2544, 198.18.0.0/15.
    if a == 198 && (b & 0xfe) == 18 {
        return Some("benchmarking range (198.18.0.0/15)");
    }
    if ip.is_multicast() {
        return Some("multicast (224.0.0.0/4)");
    }
    if ip.is_broadcast() {
        return Some("broadcast (255.255.255.255)");
    }
    // Ipv4Addr::is_reserved is unstable: the old class E, 240.0.0.0/4.
    if a >= 240 {
        return Some("reserved (240.0.0.0/4)");
    }
    None
}

fn reserved_v6(ip: Ipv6Addr, allow_loopback: bool) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("loopback (::1)");
    }
    if ip.is_unspecified() {
        return Some("unspecified (::)");
    }
    // An IPv4-mapped address would let a name smuggle a private IPv4 address through AAAA;
    // Boulder refuses the whole ::ffff:0:0/96 block.
    if ip.to_ipv4_mapped().is_some() {
        return Some("IPv4-mapped (::ffff:0:0/96)");
    }
    if ip.is_multicast() {
        return Some("multicast (ff00::/8)");
    }
    if ip.is_unique_local() {
        return Some("unique local address (fc00::/7)");
    }
    if ip.is_unicast_link_local() {
        return Some("link-local (fe80::/10)");
    }
    // RFC 6666 discard-only block, 100::/64 (no std method).
    if seg[0] == 0x0100 && seg[1] == 0 && seg[2] == 0 && seg[3] == 0 {
        return Some("discard-only (100::/64)");
    }
    // Ipv6Addr::is_documentation is unstable: 2001:db8::/32.
    if seg[0] == 0x2001 && seg[1] == 0x0db8 {
        return Some("documentation range (2001:db8::/32)");
    }
    // RFC 2928 IETF protocol assignments, 2001::/23 (Teredo, ORCHID, benchmarking live here).
    if seg[0] == 0x2001 && seg[1] < 0x0200 {
        return Some("IETF protocol assignments (2001::/23)");
    }
    // 6to4, 2002::/16: the embedded IPv4 address decides reachability, and CAs refuse it.
    if seg[0] == 0x2002 {
        return Some("6to4 (2002::/16)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Option<&'static str> {
        reserved_reason(s.parse().unwrap(), false)
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "2001:4860::8888",
        ] {
            assert_eq!(r(ip), None, "{ip}");
        }
    }

    #[test]
    fn reserved_v4_blocks() {
        let cases = [
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("192.168.1.1", "private"),
            ("127.0.1.9", "loopback"),
            ("0.1.2.3", "this network"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade"),
            ("100.127.255.254", "carrier-grade"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.1", "documentation"),
            ("192.0.0.8", "IETF"),
            ("192.88.99.1", "6to4"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.1", "benchmarking"),
            ("224.0.0.251", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
        ];
        for (ip, want) in cases {
            let got = r(ip).unwrap_or_else(|| panic!("{ip} should be reserved"));
            assert!(got.contains(want), "{ip}: {got}");
        }
    }

    #[test]
    fn reserved_v6_blocks() {
        let cases = [
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:10.0.0.1", "IPv4-mapped"),
            ("ff02::1", "multicast"),
            ("fd00::1", "unique local"),
            ("fc12::1", "unique local"),
            ("fe80::1", "link-local"),
            ("100::1", "discard"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "IETF"),
            ("2001:1ff::1", "IETF"),
            ("2002:c000:0204::1", "6to4"),
        ];
        for (ip, want) in cases {
            let got = r(ip).unwrap_or_else(|| panic!("{ip} should be reserved"));
            assert!(got.contains(want), "{ip}: {got}");
        }
    }

    #[test]
    fn loopback_allowed_only_when_asked() {
        assert_eq!(reserved_reason("127.0.1.1".parse().unwrap(), true), None);
        assert_eq!(reserved_reason("::1".parse().unwrap(), true), None);
        // Allowing loopback must not open the private ranges.
        assert!(reserved_reason("10.0.0.1".parse().unwrap(), true).is_some());
        assert!(reserved_reason("fd00::1".parse().unwrap(), true).is_some());
    }
}
