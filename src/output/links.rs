//! Which export and thumbnail links the API hands back may be fetched. The
//! links come from a third party and are fetched by a service that may sit
//! next to a cloud metadata endpoint or a private network, so: `https` only,
//! no loopback, private or link-local address (checked after DNS, on every
//! redirect too), no `Referer`. The one exception is the kind of place
//! `[api] base_url` itself points at: a plain-http base allows http links, a
//! base on 127.0.0.1 allows loopback links, and so on (a local test server or
//! a private gateway then keeps working).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

/// The class of an IP address, as far as fetching links is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Public,
    Loopback,
    /// RFC 1918, CGNAT (100.64/10), IPv6 unique local (fc00::/7).
    Private,
    /// 169.254/16 (cloud metadata lives there), fe80::/10.
    LinkLocal,
    /// Unspecified, multicast, broadcast, reserved: never fetched.
    Special,
}

impl AddressKind {
    fn describe(self) -> &'static str {
        match self {
            AddressKind::Public => "a public address",
            AddressKind::Loopback => "a loopback address",
            AddressKind::Private => "a private-network address",
            AddressKind::LinkLocal => "a link-local address",
            AddressKind::Special => "a reserved address",
        }
    }
}

/// What kind of address `ip` is. IPv4-mapped IPv6 addresses count as IPv4.
pub fn kind_of(ip: IpAddr) -> AddressKind {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                AddressKind::Loopback
            } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                AddressKind::Private
            } else if v4.is_link_local() {
                AddressKind::LinkLocal
            } else if v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || a >= 240
            {
                AddressKind::Special
            } else {
                AddressKind::Public
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return kind_of(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                AddressKind::Loopback
            } else if first & 0xfe00 == 0xfc00 {
                AddressKind::Private
            } else if first & 0xffc0 == 0xfe80 {
                AddressKind::LinkLocal
            } else if v6.is_unspecified() || v6.is_multicast() {
                AddressKind::Special
            } else {
                AddressKind::Public
            }
        }
    }
}

/// Why a link is not fetched. Names the scheme or host, never the query
/// (links are signed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    #[error("the link is not a valid URL")]
    Invalid,
    #[error("{scheme}:// links are not fetched (only https{})", if *.allow_http { " and http" } else { "" })]
    Scheme { scheme: String, allow_http: bool },
    #[error("{host} is {}; links to such addresses are not fetched", .kind.describe())]
    Address { host: String, kind: AddressKind },
    #[error("too many redirects")]
    TooManyRedirects,
}

/// The rule every link (and every redirect) must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPolicy {
    allow_http: bool,
    /// Besides public addresses.
    allowed: Vec<AddressKind>,
}

impl LinkPolicy {
    /// `https` and public addresses, plus what `base_url` itself uses: its
    /// scheme if plain http, and the kinds of address its host resolves to.
    /// A host name is resolved here (once, at start-up).
    pub async fn for_base_url(base_url: &str) -> LinkPolicy {
        let Ok(url) = Url::parse(base_url) else {
            return LinkPolicy::strict();
        };
        let mut kinds = literal_kinds(&url);
        match url.host() {
            Some(Host::Domain(name)) if !name.eq_ignore_ascii_case("localhost") => {
                let port = url.port_or_known_default().unwrap_or(443);
                let lookup = tokio::net::lookup_host((name, port));
                let timeout = std::time::Duration::from_secs(10);
                if let Ok(Ok(addrs)) = tokio::time::timeout(timeout, lookup).await {
                    kinds.extend(addrs.map(|a| kind_of(a.ip())));
                }
            }
            _ => {}
        }
        LinkPolicy::new(url.scheme() == "http", kinds)
    }

    /// [`LinkPolicy::for_base_url`] without DNS: a host name other than
    /// `localhost` adds nothing to the public addresses always allowed.
    pub fn for_base_url_offline(base_url: &str) -> LinkPolicy {
        match Url::parse(base_url) {
            Ok(url) => LinkPolicy::new(url.scheme() == "http", literal_kinds(&url)),
            Err(_) => LinkPolicy::strict(),
        }
    }

    pub fn new(allow_http: bool, kinds: impl IntoIterator<Item = AddressKind>) -> LinkPolicy {
        let mut allowed = Vec::new();
        for kind in kinds {
            if !matches!(kind, AddressKind::Public | AddressKind::Special)
                && !allowed.contains(&kind)
            {
                allowed.push(kind);
            }
        }
        LinkPolicy {
            allow_http,
            allowed,
        }
    }

    /// https and public addresses only.
    pub fn strict() -> LinkPolicy {
        LinkPolicy::new(false, [])
    }

    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        let kind = kind_of(ip);
        kind == AddressKind::Public || self.allowed.contains(&kind)
    }

    /// Whether `url` may be fetched, as far as can be told before DNS: the
    /// scheme, and the address when the host is an IP literal. Host names
    /// are checked by [`GuardedResolver`] after resolution.
    pub fn check(&self, url: &Url) -> Result<(), LinkRefused> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            other => {
                return Err(LinkRefused::Scheme {
                    scheme: other.to_string(),
                    allow_http: self.allow_http,
                })
            }
        }
        let ip: IpAddr = match url.host() {
            Some(Host::Ipv4(ip)) => ip.into(),
            Some(Host::Ipv6(ip)) => ip.into(),
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err(LinkRefused::Invalid),
        };
        if self.address_allowed(ip) {
            Ok(())
        } else {
            Err(LinkRefused::Address {
                host: ip.to_string(),
                kind: kind_of(ip),
            })
        }
    }

    /// [`LinkPolicy::check`] on a link as text.
    pub fn check_str(&self, link: &str) -> Result<Url, LinkRefused> {
        let url = Url::parse(link.trim()).map_err(|_| LinkRefused::Invalid)?;
        self.check(&url)?;
        Ok(url)
    }

    /// A redirect policy that applies this policy to every hop.
    pub fn redirects(self: &Arc<Self>) -> reqwest::redirect::Policy {
        let policy = self.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 10 {
                return attempt.error(LinkRefused::TooManyRedirects);
            }
            match policy.check(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        })
    }
}

/// The kind of address `url`'s host is, when it says without DNS (an IP
/// literal, or `localhost`).
fn literal_kinds(url: &Url) -> Vec<AddressKind> {
    match url.host() {
        Some(Host::Ipv4(ip)) => vec![kind_of(ip.into())],
        Some(Host::Ipv6(ip)) => vec![kind_of(ip.into())],
        Some(Host::Domain(name)) if name.eq_ignore_ascii_case("localhost") => {
            vec![AddressKind::Loopback]
        }
        _ => Vec::new(),
    }
}

/// DNS for the file fetcher: only addresses the policy allows are returned,
/// so a host name pointing at 169.254.169.254 or 10.0.0.1 is never connected.
pub struct GuardedResolver {
    pub policy: Arc<LinkPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.address_allowed(a.ip()))
                .collect();
            if allowed.is_empty() {
                if let Some(first) = found.first() {
                    let refused = LinkRefused::Address {
                        host,
                        kind: kind_of(first.ip()),
                    };
                    return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The [`LinkRefused`] somewhere in `err`'s chain, if the policy stopped it.
pub fn refusal_in(err: &(dyn std::error::Error + 'static)) -> Option<LinkRefused> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<LinkRefused>() {
            return Some(refused.clone());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_are_classified() {
        for (text, kind) in [
            ("127.0.0.1", AddressKind::Loopback),
            ("127.8.9.10", AddressKind::Loopback),
            ("::1", AddressKind::Loopback),
            ("::ffff:127.0.0.1", AddressKind::Loopback),
            ("10.1.2.3", AddressKind::Private),
            ("172.16.0.1", AddressKind::Private),
            ("172.31.255.255", AddressKind::Private),
            ("192.168.1.1", AddressKind::Private),
            ("100.64.0.1", AddressKind::Private),
            ("fc00::1", AddressKind::Private),
            ("fd12:3456::1", AddressKind::Private),
            ("::ffff:10.0.0.1", AddressKind::Private),
            ("169.254.169.254", AddressKind::LinkLocal),
            ("fe80::1", AddressKind::LinkLocal),
            ("::ffff:169.254.169.254", AddressKind::LinkLocal),
            ("0.0.0.0", AddressKind::Special),
            ("::", AddressKind::Special),
            ("255.255.255.255", AddressKind::Special),
            ("224.0.0.1", AddressKind::Special),
            ("ff02::1", AddressKind::Special),
            ("8.8.8.8", AddressKind::Public),
            ("172.32.0.1", AddressKind::Public),
            ("100.128.0.1", AddressKind::Public),
            ("2606:4700::1111", AddressKind::Public),
        ] {
            assert_eq!(kind_of(ip(text)), kind, "{text}");
        }
    }

    #[test]
    fn the_strict_policy_takes_only_https_to_public_addresses() {
        let policy = LinkPolicy::strict();
        assert!(policy
            .check_str("https://cdn.example.com/a.mp4?sig=x")
            .is_ok());
        assert!(policy.check_str("https://8.8.8.8/a.mp4").is_ok());
        for link in [
            "http://cdn.example.com/a.mp4",
            "file:///etc/passwd",
            "ftp://cdn.example.com/a.mp4",
            "gopher://cdn.example.com/",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.5/a.mp4",
            "https://127.0.0.1/a.mp4",
            "https://[::1]/a.mp4",
            "https://[fc00::5]/a.mp4",
            "https://[fe80::1]/a.mp4",
            "https://0.0.0.0/a.mp4",
            "https://[::ffff:169.254.169.254]/a.mp4",
            "not a url",
        ] {
            assert!(policy.check_str(link).is_err(), "{link} must be refused");
        }
        let refused = policy.check_str("file:///etc/passwd").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "file:// links are not fetched (only https)"
        );
        let refused = policy
            .check_str("https://169.254.169.254/x?sig=secret")
            .unwrap_err();
        assert!(refused
            .to_string()
            .contains("169.254.169.254 is a link-local"));
        assert!(!refused.to_string().contains("secret"));
    }

    #[tokio::test]
    async fn a_local_http_base_url_allows_only_its_own_kind() {
        let policy = LinkPolicy::for_base_url("http://127.0.0.1:4000/open/v2").await;
        assert!(policy.check_str("http://127.0.0.1:5000/f.mp4").is_ok());
        assert!(policy.check_str("http://[::1]:5000/f.mp4").is_ok());
        assert!(policy.check_str("https://cdn.example.com/f.mp4").is_ok());
        for link in [
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/f.mp4",
            "http://[fc00::1]/f.mp4",
            "http://[fe80::1]/f.mp4",
            "file:///etc/passwd",
            "ftp://127.0.0.1/f.mp4",
        ] {
            assert!(policy.check_str(link).is_err(), "{link} must be refused");
        }
        assert!(LinkPolicy::for_base_url("http://localhost:4000/open/v2")
            .await
            .address_allowed(ip("::1")));
        // A private gateway: private addresses, over https only.
        let gateway = LinkPolicy::for_base_url("https://10.1.1.1/open/v2").await;
        assert!(gateway.check_str("https://10.9.9.9/f.mp4").is_ok());
        assert!(gateway.check_str("http://10.9.9.9/f.mp4").is_err());
        assert!(gateway.check_str("https://127.0.0.1/f.mp4").is_err());
        assert!(gateway.check_str("https://169.254.169.254/f").is_err());
    }

    #[test]
    fn the_default_base_url_kind_is_public_only() {
        let policy = LinkPolicy::new(false, [AddressKind::Public, AddressKind::Special]);
        assert_eq!(policy, LinkPolicy::strict());
    }

    #[tokio::test]
    async fn redirects_are_held_to_the_same_rule() {
        // A server that redirects to each refused place in turn; the client
        // must stop at the redirect, never connect there.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let targets = [
            "ftp://127.0.0.1/x",
            "file:///etc/passwd",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/x",
            "http://[fc00::1]/x",
        ];
        let server = tokio::spawn(async move {
            for target in targets {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 2048];
                let _ = socket.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                socket.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        let policy = LinkPolicy::for_base_url(&format!("{origin}/open/v2")).await;
        let fetcher =
            crate::output::download::Fetcher::new(std::time::Duration::from_secs(5), policy)
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        for target in targets {
            let dest = dir.path().join("clip.mp4");
            let err = fetcher
                .fetch(&format!("{origin}/start?sig=secret"), &dest, 1 << 20, "cap")
                .await
                .unwrap_err();
            let crate::output::download::DownloadError::UnsafeLink(refused) = &err else {
                panic!("{target}: {err:?}")
            };
            assert!(
                matches!(
                    refused,
                    LinkRefused::Scheme { .. } | LinkRefused::Address { .. }
                ),
                "{target}: {refused}"
            );
            assert!(!err.to_string().contains("secret"));
            assert!(!err.is_retryable() && !err.needs_fresh_link());
            assert!(!dest.exists() && !dir.path().join("clip.mp4.part").exists());
        }
        server.await.unwrap();
    }

    #[tokio::test]
    async fn an_allowed_redirect_is_followed_without_a_referer() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let second = format!("{origin}/second");
        let server = tokio::spawn(async move {
            let mut requests = Vec::new();
            for reply in [
                format!("HTTP/1.1 302 Found\r\nLocation: {second}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 4\r\nConnection: close\r\n\r\nmp4!".to_string(),
            ] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap();
                requests.push(String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase());
                socket.write_all(reply.as_bytes()).await.unwrap();
            }
            requests
        });
        let policy = LinkPolicy::for_base_url(&format!("{origin}/open/v2")).await;
        let fetcher =
            crate::output::download::Fetcher::new(std::time::Duration::from_secs(5), policy)
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("clip.mp4");
        let link = format!("{origin}/first?sig=secret");
        assert_eq!(
            fetcher.fetch(&link, &dest, 1 << 20, "cap").await.unwrap(),
            4
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"mp4!");
        let requests = server.await.unwrap();
        assert!(requests[1].starts_with("get /second"), "{requests:?}");
        assert!(
            requests.iter().all(|r| !r.contains("referer")),
            "no Referer carries the signed link: {requests:?}"
        );
    }

    #[tokio::test]
    async fn a_new_policy_applies_to_the_next_fetch() {
        let fetcher = crate::output::download::Fetcher::new(
            std::time::Duration::from_secs(5),
            LinkPolicy::strict(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("clip.mp4");
        // Port 9 on loopback: refused by policy before any connection.
        let link = "http://127.0.0.1:9/clip.mp4";
        let err = fetcher.fetch(link, &dest, 1024, "cap").await.unwrap_err();
        assert!(
            matches!(err, crate::output::download::DownloadError::UnsafeLink(_)),
            "{err:?}"
        );
        fetcher
            .set_policy(LinkPolicy::for_base_url("http://127.0.0.1:4000/open/v2").await)
            .unwrap();
        let err = fetcher.fetch(link, &dest, 1024, "cap").await.unwrap_err();
        assert!(
            !matches!(err, crate::output::download::DownloadError::UnsafeLink(_)),
            "allowed now (the connection itself fails): {err:?}"
        );
    }
}
