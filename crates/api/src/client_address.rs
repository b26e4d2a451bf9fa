//! Which address a request comes from: the TCP peer, or, when the peer is a trusted proxy,
//! the nearest untrusted hop of its `X-Forwarded-For` chain.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// The proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed.
/// Empty by default: the header is then ignored, since any client can send it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list such as `10.0.0.0/8, 192.168.1.10, fd00::/8`. IPv4-mapped
    /// entries (`::ffff:10.0.0.1`) are read as the IPv4 they map, since peers are; a range
    /// wider than [`TrustedProxies::WIDEST`] is refused (see there).
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                let net = item
                    .parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{item:?} is not an IP address or CIDR range"))?;
                let net = canonical(net.trunc());
                let widest = Self::widest(&net);
                if net.prefix_len() < widest {
                    return Err(format!(
                        "{item:?} is wider than /{widest}, so it takes in addresses of \
                         clients, each of which could then name its own address in \
                         X-Forwarded-For: list only the proxies"
                    ));
                }
                Ok(net)
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

/// An IPv4-mapped IPv6 range (`::ffff:0:0/96` and within it, RFC 4291 §2.5.5.2) as the
/// IPv4 range it maps; any other range as it is.
fn canonical(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net),
            None => net,
        },
        net => net,
    }
}

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(", "))
    }
}

impl TrustedProxies {
    /// The shortest prefix trusted, per family: that of the widest block reserved for
    /// private networks, 10.0.0.0/8 (RFC 1918) and fc00::/7 (RFC 4193). Any wider range
    /// holds public addresses, so it would trust clients as proxies (`0.0.0.0/0` and
    /// `::/0` trust everyone): refused at start rather than warned about, since no proxy
    /// deployment needs it and the limits it switches off fail silently.
    const WIDEST: (u8, u8) = (8, 7);

    fn widest(net: &IpNet) -> u8 {
        match net {
            IpNet::V4(_) => Self::WIDEST.0,
            IpNet::V6(_) => Self::WIDEST.1,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client's address: the peer's, unless the peer is trusted; then `X-Forwarded-For`
    /// is read from the right (each proxy appends the address it received from), skipping
    /// trusted hops, and the first untrusted one is the client. Entries to the left of it
    /// were written by the client and prove nothing. An entry that is not an address ends
    /// the walk at the last hop known good.
    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip().to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        // Split as bytes: an entry that is not visible ASCII (which `to_str` refuses) ends
        // the walk like any other that is not an address, and leaves the rest of its line,
        // which a proxy may have appended the real client to, readable.
        let lines: Vec<&[u8]> = req
            .headers()
            .get_all("x-forwarded-for")
            .map(|line| line.as_bytes())
            .collect();
        let mut client = peer;
        for hop in lines
            .iter()
            .flat_map(|line| line.split(|&b| b == b','))
            .rev()
        {
            let Some(addr) = std::str::from_utf8(hop.trim_ascii())
                .ok()
                .and_then(parse_hop)
            else {
                break;
            };
            client = addr;
            if !self.trusts(addr) {
                break;
            }
        }
        Some(client)
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(addr) = hop.parse::<IpAddr>() {
        return Some(addr.to_canonical());
    }
    hop.parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn request(peer: &str, forwarded: &[&str]) -> HttpRequest {
        let peer = std::net::SocketAddr::new(peer.parse().unwrap(), 40000);
        let mut req = TestRequest::default().peer_addr(peer);
        for value in forwarded {
            req = req.append_header(("X-Forwarded-For", *value));
        }
        req.to_http_request()
    }

    fn client(trusted: &str, peer: &str, forwarded: &[&str]) -> String {
        let proxies: TrustedProxies = trusted.parse().unwrap();
        proxies
            .client_address(&request(peer, forwarded))
            .unwrap()
            .to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(client("", "203.0.113.9", &["198.51.100.1"]), "203.0.113.9");
        assert_eq!(
            client("10.0.0.0/8", "203.0.113.9", &["198.51.100.1"]),
            "203.0.113.9"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        // The client forged the leftmost entry; the proxy chain appended the real one.
        assert_eq!(
            client(
                "10.0.0.0/8",
                "10.0.0.2",
                &["1.1.1.1, 198.51.100.7", "10.0.0.1"]
            ),
            "198.51.100.7"
        );
        assert_eq!(
            client("10.0.0.2", "10.0.0.2", &["198.51.100.7:5555"]),
            "198.51.100.7"
        );
        assert_eq!(client("::1", "::1", &["[2001:db8::7]:443"]), "2001:db8::7");
    }

    #[test]
    fn a_trusted_peer_without_the_header_or_with_garbage_is_the_client() {
        assert_eq!(client("10.0.0.2", "10.0.0.2", &[]), "10.0.0.2");
        assert_eq!(
            client(
                "10.0.0.0/8",
                "10.0.0.2",
                &["198.51.100.7, nonsense, 10.0.0.1"]
            ),
            "10.0.0.1"
        );
    }

    #[test]
    fn an_unreadable_entry_ends_the_walk_and_leaves_the_rest_of_its_line() {
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        let peer = std::net::SocketAddr::new("10.0.0.2".parse().unwrap(), 40000);
        let client = |line: &[u8]| {
            let value = actix_web::http::header::HeaderValue::from_bytes(line).unwrap();
            let req = TestRequest::default()
                .peer_addr(peer)
                .append_header(("X-Forwarded-For", value))
                .to_http_request();
            proxies.client_address(&req).unwrap().to_string()
        };
        // nginx appends the client's address to the line the client sent.
        assert_eq!(client(b"\xe9, 198.51.100.7"), "198.51.100.7");
        assert_eq!(client(b"198.51.100.7\xe9, 10.0.0.1"), "10.0.0.1");
        assert_eq!(
            client(b"1.1.1.1, \xff\xfe, 198.51.100.7, 10.0.0.1"),
            "198.51.100.7"
        );
    }

    #[test]
    fn a_range_that_takes_in_public_addresses_is_refused() {
        for wide in [
            "0.0.0.0/0",
            "::/0",
            "0.0.0.0/7",
            "2000::/3",
            "::ffff:0:0/96",
            "10.0.0.1, ::/1",
        ] {
            let err = wide.parse::<TrustedProxies>().unwrap_err();
            assert!(err.contains("list only the proxies"), "{wide}: {err}");
        }
        for narrow in [
            "10.0.0.0/8",
            "fc00::/7",
            "fd00::/8",
            "192.168.0.0/16",
            "2001:db8::/32",
        ] {
            assert!(narrow.parse::<TrustedProxies>().is_ok(), "{narrow}");
        }
    }

    #[test]
    fn ipv4_mapped_entries_trust_the_ipv4_proxy() {
        let proxies: TrustedProxies = "::ffff:10.0.0.1, ::ffff:192.168.0.0/112".parse().unwrap();
        assert_eq!(proxies.to_string(), "10.0.0.1/32, 192.168.0.0/16");
        assert_eq!(
            client("::ffff:10.0.0.1", "10.0.0.1", &["198.51.100.7"]),
            "198.51.100.7"
        );
    }

    #[test]
    fn the_list_takes_addresses_and_ranges() {
        assert!(
            "10.0.0.0/8, 192.168.1.10 ,fd00::/8"
                .parse::<TrustedProxies>()
                .is_ok()
        );
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("localhost".parse::<TrustedProxies>().is_err());
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
    }
}
