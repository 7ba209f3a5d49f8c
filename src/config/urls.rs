//! The checks on configured URLs: `okta.org_url` is an org's base URL, https unless its host is
//! loopback, without credentials; no message quotes a URL that holds user info
//! (`user:password@`), or one that does not parse.

use std::net::IpAddr;

use url::{Host, Url};

/// Why `text` is not an acceptable `okta.org_url` (the caller names the key).
pub(super) fn check_org_url(text: &str) -> Result<(), String> {
    // Nothing of a URL that does not parse is quoted: where its user info (which may hold a
    // password) ends cannot be told reliably. One that parses is quoted only once it is known
    // to hold none.
    let url = Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials (user:password@)".into());
    }
    let loopback = loopback_host(&url).map_err(|e| format!("`{text}` {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "`{text}` must use https (http only for loopback hosts)"
            ));
        }
        other => return Err(format!("`{text}`: scheme {other} is not https")),
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        // The origin only: what follows it may be anything, a misplaced password included.
        return Err(format!(
            "must be the org's base URL (`{}`), without path, query or fragment",
            url.origin().ascii_serialization()
        ));
    }
    Ok(())
}

/// Whether the URL's host is loopback (`localhost`, 127.0.0.0/8, `::1`); an error without one.
pub(super) fn loopback_host(url: &Url) -> Result<bool, String> {
    match url.host() {
        Some(Host::Domain(d)) => Ok(d.eq_ignore_ascii_case("localhost")),
        Some(Host::Ipv4(ip)) => Ok(IpAddr::V4(ip).is_loopback()),
        Some(Host::Ipv6(ip)) => Ok(IpAddr::V6(ip).is_loopback()),
        None => Err("has no host".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_message_shows_a_urls_user_info() {
        for text in [
            "https://a:s3cr3t@x.okta.com/p",
            "https://a:s3#cr3t@x.okta.com",
            "https://a:s3/cr3t@x.okta.com",
            "https://a:s3?cr3t@x",
            "http:a:s3cr3t@x",
            "https://a:s3@cr3t@",
            "https://u:123/s3cr3t@x.okta.com",
            "http://a:s3cr3t@x.okta.com",
            "ftp://a:s3cr3t@x.okta.com",
        ] {
            let e = check_org_url(text).expect_err(text);
            assert!(!e.contains("s3") && !e.contains("cr3t"), "{text}: {e}");
        }
        let e = check_org_url("http://x.okta.com").unwrap_err();
        assert!(e.contains("`http://x.okta.com` must use https"), "{e}");
    }
}
