//! The checks on configured URLs: `okta.org_url` is an org's base URL, https unless its host is
//! loopback, without credentials; what the messages quote of a URL never includes its user
//! info (`user:password@`), even when the URL does not parse.

use std::net::IpAddr;

use url::{Host, Url};

/// Why `text` is not an acceptable `okta.org_url` (the caller names the key).
pub(super) fn check_org_url(text: &str) -> Result<(), String> {
    // Messages quote the URL, never its user info: that may hold a password.
    let shown = without_userinfo(text);
    let url = Url::parse(text).map_err(|e| format!("`{shown}` is not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials (user:password@)".into());
    }
    let loopback = loopback_host(&url).map_err(|e| format!("`{shown}` {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "`{shown}` must use https (http only for loopback hosts)"
            ));
        }
        other => return Err(format!("`{shown}`: scheme {other} is not https")),
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{shown}` must be the org's base URL, without path or query"
        ));
    }
    Ok(())
}

/// `text` with whatever precedes an `@` in its authority (`user:password`) replaced by `***`,
/// also when `text` does not parse as a URL.
fn without_userinfo(text: &str) -> String {
    let after_scheme = text.find(':').map_or(0, |i| i + 1);
    let rest = &text[after_scheme..];
    let start = after_scheme + (rest.len() - rest.trim_start_matches(['/', '\\']).len());
    let end = text[start..]
        .find(['/', '\\', '?', '#'])
        .map_or(text.len(), |i| start + i);
    match text[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &text[..start], &text[start + at..]),
        None => text.to_owned(),
    }
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
    fn user_info_is_cut_from_what_is_shown_of_any_url() {
        for (text, shown) in [
            ("https://a:pw@x.okta.com/p", "https://***@x.okta.com/p"),
            ("https://pw@x.okta.com", "https://***@x.okta.com"),
            ("http:a:pw@x", "http:***@x"),
            ("https://a:p@w@", "https://***@"),
            ("https://x.okta.com/a@b", "https://x.okta.com/a@b"),
            ("x.okta.com", "x.okta.com"),
        ] {
            assert_eq!(without_userinfo(text), shown, "{text}");
        }
    }
}
