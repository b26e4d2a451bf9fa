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

    /// A comma-separated list such as `10.0.0.0/8, 192.168.1.10, fd00::/8`.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("{item:?} is not an IP address or CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(", "))
    }
}

impl TrustedProxies {
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
        let hops: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(addr) = parse_hop(hop) else {
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
