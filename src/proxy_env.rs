//! HTTP proxy selection exactly as Go's `golang.org/x/net/http/httpproxy` (behind
//! `net/http.ProxyFromEnvironment`, which notation, dockerd and containerd use) reads it:
//! `HTTPS_PROXY` for https URLs, `HTTP_PROXY` for http URLs (upper case first, then lower
//! case), `NO_PROXY` (`*`, IPs, CIDRs, `host`, `.domain`, `*.domain`, each optionally with a
//! `:port`), `localhost` and loopback IPs never proxied, `HTTP_PROXY` refused in a CGI
//! environment (`REQUEST_METHOD` set). A config section can replace the environment.
//!
//! A proxy URL may carry credentials (`http://user:pass@proxy:3128`): they are sent as
//! `Proxy-Authorization: Basic`, and [`Proxy::redacted`] is the only form ever logged or put in
//! an error.

use std::net::IpAddr;

use base64::Engine as _;
use serde::Deserialize;

/// `[proxy]` in the config: replaces the environment when present (an empty string: none).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

/// A parsed proxy URL (only `http://` proxies are supported, as a CONNECT tunnel for https).
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `host:port` of the proxy.
    pub authority: String,
    /// `Basic …` for `Proxy-Authorization`, from the URL's userinfo.
    pub authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Proxy {
    /// `http://proxy:3128` (credentials, if any, shown as `***@`).
    pub fn redacted(&self) -> String {
        let who = if self.authorization.is_some() {
            "***@"
        } else {
            ""
        };
        format!("http://{who}{}", self.authority)
    }
}

enum Matcher {
    All,
    Cidr(IpAddr, u8),
    Ip(IpAddr, String),
    Domain {
        host: String,
        port: String,
        match_host: bool,
    },
}

/// The proxy settings, parsed once.
#[derive(Default)]
pub struct ProxyConfig {
    http: Option<Result<Proxy, String>>,
    https: Option<Result<Proxy, String>>,
    cgi: bool,
    ip_matchers: Vec<Matcher>,
    domain_matchers: Vec<Matcher>,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |p: &Option<Result<Proxy, String>>| match p {
            Some(Ok(p)) => p.redacted(),
            Some(Err(_)) => "<invalid>".into(),
            None => "none".into(),
        };
        f.debug_struct("ProxyConfig")
            .field("https", &show(&self.https))
            .field("http", &show(&self.http))
            .finish_non_exhaustive()
    }
}

fn env_any(names: [&str; 2]) -> String {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
}

impl ProxyConfig {
    /// Go's `httpproxy.FromEnvironment()`.
    pub fn from_env() -> ProxyConfig {
        ProxyConfig::new(
            &env_any(["HTTP_PROXY", "http_proxy"]),
            &env_any(["HTTPS_PROXY", "https_proxy"]),
            &env_any(["NO_PROXY", "no_proxy"]),
            std::env::var_os("REQUEST_METHOD").is_some_and(|v| !v.is_empty()),
        )
    }

    /// The config section when given, else the environment; a key missing from the section
    /// falls back to its environment variable.
    pub fn from_section(section: Option<&ProxySection>) -> ProxyConfig {
        let Some(s) = section else {
            return ProxyConfig::from_env();
        };
        let pick = |v: &Option<String>, names| v.clone().unwrap_or_else(|| env_any(names));
        ProxyConfig::new(
            &pick(&s.http_proxy, ["HTTP_PROXY", "http_proxy"]),
            &pick(&s.https_proxy, ["HTTPS_PROXY", "https_proxy"]),
            &pick(&s.no_proxy, ["NO_PROXY", "no_proxy"]),
            false,
        )
    }

    pub fn new(http: &str, https: &str, no_proxy: &str, cgi: bool) -> ProxyConfig {
        let mut c = ProxyConfig {
            http: parse_proxy(http),
            https: parse_proxy(https),
            cgi,
            ..ProxyConfig::default()
        };
        c.parse_no_proxy(no_proxy);
        c
    }

    /// The configured proxy URLs that cannot be used (redacted), for a check at start.
    pub fn problems(&self) -> Vec<String> {
        [&self.https, &self.http]
            .into_iter()
            .filter_map(|p| p.as_ref().and_then(|r| r.as_ref().err().cloned()))
            .collect()
    }

    /// Go's `proxyForURL`: the proxy for a request to `scheme://host[:port]`, or `None`.
    pub fn proxy_for(
        &self,
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> Result<Option<Proxy>, String> {
        let proxy = match scheme {
            "https" => &self.https,
            "http" => {
                if self.http.is_some() && self.cgi {
                    return Err("refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy".into());
                }
                &self.http
            }
            _ => &None,
        };
        let Some(proxy) = proxy else { return Ok(None) };
        let port = port.unwrap_or(if scheme == "https" { 443 } else { 80 });
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !self.use_proxy(host, &port.to_string()) {
            return Ok(None);
        }
        proxy.clone().map(Some)
    }

    fn use_proxy(&self, host: &str, port: &str) -> bool {
        if host == "localhost" {
            return false;
        }
        let ip: Option<IpAddr> = host.parse().ok();
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return false;
        }
        let host = host.trim().to_ascii_lowercase();
        if let Some(ip) = ip
            && self
                .ip_matchers
                .iter()
                .any(|m| m.matches(&host, port, Some(ip)))
        {
            return false;
        }
        !self
            .domain_matchers
            .iter()
            .any(|m| m.matches(&host, port, ip))
    }

    fn parse_no_proxy(&mut self, no_proxy: &str) {
        for p in no_proxy.split(',') {
            let p = p.trim().to_ascii_lowercase();
            if p.is_empty() {
                continue;
            }
            if p == "*" {
                self.ip_matchers = vec![Matcher::All];
                self.domain_matchers = vec![Matcher::All];
                return;
            }
            if let Some(m) = parse_cidr(&p) {
                self.ip_matchers.push(m);
                continue;
            }
            let (mut phost, pport) = match split_host_port(&p) {
                Some((h, port)) => {
                    if h.is_empty() {
                        continue;
                    }
                    (h.to_string(), port.to_string())
                }
                None => (p.clone(), String::new()),
            };
            if phost.len() >= 2 && phost.starts_with('[') && phost.ends_with(']') {
                phost = phost[1..phost.len() - 1].to_string();
            }
            if let Ok(ip) = phost.parse::<IpAddr>() {
                self.ip_matchers.push(Matcher::Ip(ip, pport));
                continue;
            }
            if phost.is_empty() {
                continue;
            }
            if let Some(rest) = phost.strip_prefix("*.") {
                phost = format!(".{rest}");
            }
            let match_host = !phost.starts_with('.');
            if match_host {
                phost = format!(".{phost}");
            }
            self.domain_matchers.push(Matcher::Domain {
                host: phost,
                port: pport,
                match_host,
            });
        }
    }
}

impl Matcher {
    fn matches(&self, host: &str, port: &str, ip: Option<IpAddr>) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
            Matcher::Ip(m, p) => {
                ip.is_some_and(|ip| same_ip(ip, *m)) && (p.is_empty() || p == port)
            }
            Matcher::Domain {
                host: h,
                port: p,
                match_host,
            } => {
                if ip.is_some() {
                    return false;
                }
                (host.ends_with(h.as_str()) || (*match_host && host == &h[1..]))
                    && (p.is_empty() || p == port)
            }
        }
    }
}

/// Go's `net.IP.Equal`: an IPv4 address equals its IPv4-mapped IPv6 form.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    canonical_ip(a) == canonical_ip(b)
}

fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn parse_cidr(p: &str) -> Option<Matcher> {
    let (ip, bits) = p.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some(Matcher::Cidr(ip, bits))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (canonical_ip(ip), net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Go's `net.SplitHostPort` (only what NO_PROXY entries need): `host:port`, `[v6]:port`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, tail) = rest.split_once(']')?;
        let port = tail.strip_prefix(':')?;
        return Some((h, port));
    }
    let (h, port) = s.rsplit_once(':')?;
    if h.contains(':') {
        return None; // "too many colons": a bare IPv6 address
    }
    Some((h, port))
}

/// Go's `parseProxy` (a value without a scheme is `http://` + value), then what this client
/// supports: `http://` proxies only.
fn parse_proxy(value: &str) -> Option<Result<Proxy, String>> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let with_scheme = match value.split_once("://") {
        Some((scheme, _)) if !scheme.is_empty() && !scheme.contains(['/', '@']) => {
            value.to_string()
        }
        _ => format!("http://{value}"),
    };
    let (scheme, rest) = with_scheme
        .split_once("://")
        .unwrap_or(("http", &with_scheme));
    let scheme = scheme.to_ascii_lowercase();
    let authority_part = rest.split(['/', '?', '#']).next().unwrap_or("");
    let (userinfo, authority) = match authority_part.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, authority_part),
    };
    // Shown in logs and errors: never anything before the last `@` (a password with an
    // unencoded `/`, `?` or `#` would otherwise end the authority early and show in part).
    let shown = match rest.rfind('@') {
        Some(at) => format!(
            "{scheme}://***@{}",
            rest[at + 1..].split(['/', '?', '#']).next().unwrap_or("")
        ),
        None => format!("{scheme}://{authority}"),
    };
    if userinfo.is_none() && rest.contains('@') {
        return Some(Err(format!(
            "invalid proxy address {shown}: a `/`, `?` or `#` in its user name or password must be percent-encoded"
        )));
    }
    if scheme != "http" {
        return Some(Err(format!(
            "proxy {shown}: only http:// proxies are supported (a CONNECT tunnel carries TLS)"
        )));
    }
    if authority.is_empty() {
        return Some(Err(format!("invalid proxy address {shown}")));
    }
    let authority = if split_host_port(authority).is_some_and(|(_, p)| !p.is_empty()) {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let authorization = userinfo.map(|u| {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        let pair = format!(
            "{}:{}",
            crate::http::pct_decode(user),
            crate::http::pct_decode(pass)
        );
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    });
    Some(Ok(Proxy {
        authority,
        authorization,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(c: &ProxyConfig, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let authority = rest.split('/').next().unwrap();
        let uri: hyper::Uri = url.parse().unwrap();
        let _ = authority;
        match c.proxy_for(scheme, uri.host().unwrap(), uri.port_u16()) {
            Ok(Some(p)) => p.authority,
            Ok(None) => "direct".into(),
            Err(e) => format!("err:{e}"),
        }
    }

    /// Cases from Go's httpproxy tests (proxy_test.go) plus the loopback rule.
    #[test]
    fn go_rules() {
        let c = ProxyConfig::new("http.proxy:8080", "https://secure.proxy", "", false);
        assert_eq!(via(&c, "http://example.com"), "http.proxy:8080");
        assert!(via(&c, "https://example.com").starts_with("err:proxy https://secure.proxy"));
        let c = ProxyConfig::new("proxy", "", "", false);
        assert_eq!(via(&c, "http://example.com"), "proxy:80");
        // HTTPS does not fall back to HTTP_PROXY.
        assert_eq!(via(&c, "https://example.com"), "direct");
        // Loopback and localhost are never proxied.
        let c = ProxyConfig::new("p:1", "p:2", "", false);
        for u in [
            "http://localhost",
            "https://localhost:5000",
            "http://127.0.0.1:5000",
            "https://127.1.2.3",
            "https://[::1]:5000",
        ] {
            assert_eq!(via(&c, u), "direct", "{u}");
        }
        assert_eq!(via(&c, "https://vm:5000"), "p:2");
        // CGI: HTTP_PROXY refused, HTTPS_PROXY used.
        let c = ProxyConfig::new("p:1", "p:2", "", true);
        assert!(via(&c, "http://example.com").starts_with("err:refusing to use HTTP_PROXY"));
        assert_eq!(via(&c, "https://example.com"), "p:2");

        let no = "foobar.com, .barbaz.net, *.wildcard.com, 192.168.1.1, 192.168.1.2:81, \
                  192.168.1.3:80, 10.0.0.0/30, 2001:db8::52:0:1, [2001:db8::52:0:2]:443, \
                  [2001:db8::52:0:3]:80, 2002:db8:a::45/64, bar.baz:1234, ::ffff:172.16.1.1";
        let c = ProxyConfig::new("p:1", "p:2", no, false);
        let table = [
            ("http://foobar.com", "direct"),
            ("http://www.foobar.com", "direct"),
            ("http://xfoobar.com", "p:1"),
            ("http://barbaz.net", "p:1"),
            ("http://www.barbaz.net", "direct"),
            ("http://wildcard.com", "p:1"),
            ("http://www.wildcard.com", "direct"),
            ("http://192.168.1.1", "direct"),
            ("http://192.168.1.2", "p:1"),
            ("http://192.168.1.2:81", "direct"),
            ("http://192.168.1.3", "direct"),
            ("https://192.168.1.3", "p:2"),
            ("http://10.0.0.2", "direct"),
            ("http://10.0.0.4", "p:1"),
            ("http://[2001:db8::52:0:1]", "direct"),
            ("http://[2001:db8::52:0:2]", "p:1"),
            ("https://[2001:db8::52:0:2]", "direct"),
            ("http://[2001:db8::52:0:3]", "direct"),
            ("http://[2002:db8:a::123]", "direct"),
            ("http://[fe80::424b:c8be:1643:a1b6]", "p:1"),
            ("http://bar.baz:1234", "direct"),
            ("http://bar.baz", "p:1"),
            ("http://172.16.1.1", "direct"),
        ];
        for (u, want) in table {
            assert_eq!(via(&c, u), want, "{u}");
        }
        let c = ProxyConfig::new("p:1", "p:2", " * ", false);
        assert_eq!(via(&c, "https://anything.example"), "direct");
    }

    #[test]
    fn credentials_are_never_shown() {
        let c = ProxyConfig::new("", "http://alice:s%3Acret@proxy.corp:3128", "", false);
        let p = c.proxy_for("https", "ghcr.io", None).unwrap().unwrap();
        assert_eq!(p.authority, "proxy.corp:3128");
        assert_eq!(
            p.authorization.as_deref(),
            Some(
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("alice:s:cret")
                )
                .as_str()
            )
        );
        assert_eq!(p.redacted(), "http://***@proxy.corp:3128");
        assert!(!format!("{c:?}{p:?}").contains("cret"));
        let c = ProxyConfig::new("", "socks5://bob:hunter2@p:1080", "", false);
        let e = c.proxy_for("https", "ghcr.io", None).unwrap_err();
        assert!(e.contains("***@p:1080") && !e.contains("hunter2"), "{e}");
        // A password with an unencoded `/`, `#` or `?`: refused, and no part of it shown.
        for bad in [
            "http://alice:hun/ter2@proxy.corp:3128",
            "http://alice:hun#ter2@proxy.corp:3128",
            "http://alice:hun?ter2@proxy.corp:3128",
        ] {
            let e = match parse_proxy(bad) {
                Some(Err(e)) => e,
                other => panic!("{bad}: {:?}", other.map(|r| r.map(|p| p.redacted()))),
            };
            assert!(
                e.contains("***@proxy.corp:3128") && !e.contains("hun") && !e.contains("alice"),
                "{e}"
            );
        }
    }
}
