//! Link-header pagination. Okta's cursors are opaque: revokd follows the `rel="next"` URL as
//! given (a relative one resolved against its page, RFC 8288), refuses one on another origin
//! (the API token would follow it there), and stops on a repeated URL or past a page cap
//! instead of looping forever.

use std::collections::HashSet;

use reqwest::header::{HeaderMap, LINK};
use url::Url;

/// The `rel="next"` URL of a response, from repeated `Link` headers or one comma-joined header.
/// Unparseable entries are ignored; the first `next` wins.
pub fn parse_link_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_links)
        .find_map(|(url, rels)| rels.split_whitespace().any(|r| r == "next").then_some(url))
}

/// Splits a Link header value into `(url, rel)` pairs. Commas inside `<…>` do not split.
fn split_links(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let url = rest[open + 1..open + close].trim().to_owned();
        let after = &rest[open + close + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        let rel = params
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("rel="))
            .map(|r| {
                r.trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .to_owned()
            })
            .next()
            .unwrap_or_default();
        out.push((url, rel));
        rest = &after[params_end..];
    }
    out
}

/// Why a `next` link is not followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("next link is not a valid URL")]
    Invalid,
    #[error("next link points to another origin ({0}); not sending credentials there")]
    ForeignOrigin(String),
    #[error("next link repeats an earlier page (cursor loop)")]
    Loop,
    #[error("more than {0} pages; stopping")]
    TooManyPages(usize),
}

/// The page a `next` link names: resolved against the `page` it came with (RFC 8288), and
/// refused when it is no URI reference or leaves the origin of `base`, the org.
pub fn resolve_next(base: &Url, page: &Url, next: &str) -> Result<Url, LinkRefusal> {
    // A URI reference holds no blank, control character or delimiter RFC 3986 excludes.
    let excluded = |c: char| c.is_whitespace() || c.is_control() || "<>\"{}|\\^`".contains(c);
    if next.chars().any(excluded) {
        return Err(LinkRefusal::Invalid);
    }
    let url = page.join(next).map_err(|_| LinkRefusal::Invalid)?;
    if url.origin() != base.origin() {
        return Err(LinkRefusal::ForeignOrigin(
            url.origin().ascii_serialization(),
        ));
    }
    Ok(url)
}

/// Tracks the pages of one listing and vets each `next` link before it is followed.
#[derive(Debug)]
pub struct Cursor {
    base: Url,
    /// The listing's first page: a relative `next` link resolves against it (RFC 8288 says
    /// against the page that carried it; every page of a listing has its path, so the two
    /// agree, and a link given twice resolves the same, which loop detection needs).
    first: Url,
    seen: HashSet<String>,
    max_pages: usize,
}

impl Cursor {
    /// A cursor for a listing that starts at `first`, on the origin of `base`.
    pub fn new(base: &Url, first: &Url, max_pages: usize) -> Self {
        let mut seen = HashSet::new();
        seen.insert(first.as_str().to_owned());
        Cursor {
            base: base.clone(),
            first: first.clone(),
            seen,
            max_pages,
        }
    }

    /// Accepts `next` as the following page, or says why not.
    pub fn advance(&mut self, next: &str) -> Result<Url, LinkRefusal> {
        let url = resolve_next(&self.base, &self.first, next)?;
        if !self.seen.insert(url.as_str().to_owned()) {
            return Err(LinkRefusal::Loop);
        }
        if self.seen.len() > self.max_pages {
            return Err(LinkRefusal::TooManyPages(self.max_pages));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(LINK, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn next_is_found_in_repeated_headers() {
        let h = headers(&[
            r#"<https://o.okta.com/api/v1/x?limit=20>; rel="self""#,
            r#"<https://o.okta.com/api/v1/x?limit=20&after=abc>; rel="next""#,
        ]);
        assert_eq!(
            parse_link_header(&h).as_deref(),
            Some("https://o.okta.com/api/v1/x?limit=20&after=abc")
        );
    }

    #[test]
    fn next_is_found_in_a_comma_joined_header() {
        let h = headers(&[
            r#"<https://o.okta.com/x?a=1,2>; rel="self", <https://o.okta.com/x?after=z>; rel="next""#,
        ]);
        assert_eq!(
            parse_link_header(&h).as_deref(),
            Some("https://o.okta.com/x?after=z")
        );
    }

    #[test]
    fn no_next_means_the_last_page() {
        assert_eq!(
            parse_link_header(&headers(&[r#"<https://o/x>; rel="self""#])),
            None
        );
        assert_eq!(parse_link_header(&HeaderMap::new()), None);
        assert_eq!(parse_link_header(&headers(&["garbage", "<unclosed"])), None);
    }

    #[test]
    fn unquoted_and_multi_valued_rels_are_understood() {
        let h = headers(&["<https://o/x?after=1>; rel=next"]);
        assert_eq!(
            parse_link_header(&h).as_deref(),
            Some("https://o/x?after=1")
        );
        let h = headers(&[r#"<https://o/x?after=2>; title="t"; rel="prev next""#]);
        assert_eq!(
            parse_link_header(&h).as_deref(),
            Some("https://o/x?after=2")
        );
    }

    #[test]
    fn the_cursor_refuses_other_origins_loops_and_runaway_listings() {
        let base = Url::parse("https://o.okta.com/").unwrap();
        let first = base.join("/api/v1/x").unwrap();
        let mut c = Cursor::new(&base, &first, 3);
        assert!(c.advance("https://o.okta.com/api/v1/x?after=1").is_ok());
        assert_eq!(
            c.advance("https://evil.example/api/v1/x?after=2"),
            Err(LinkRefusal::ForeignOrigin("https://evil.example".into()))
        );
        assert_eq!(
            c.advance("http://o.okta.com/api/v1/x?after=2"),
            Err(LinkRefusal::ForeignOrigin("http://o.okta.com".into()))
        );
        assert_eq!(
            c.advance("https://o.okta.com/api/v1/x?after=1"),
            Err(LinkRefusal::Loop)
        );
        assert!(c.advance("https://o.okta.com/api/v1/x?after=2").is_ok());
        assert_eq!(
            c.advance("https://o.okta.com/api/v1/x?after=3"),
            Err(LinkRefusal::TooManyPages(3))
        );
        assert_eq!(c.advance("not a url"), Err(LinkRefusal::Invalid));
    }

    /// A relative `next` link resolves against the page it came with (RFC 8288), and is
    /// vetted as an absolute one is.
    #[test]
    fn a_relative_next_link_resolves_within_its_listing() {
        let base = Url::parse("https://o.okta.com/").unwrap();
        let first = base.join("/api/v1/users/u/clients/c/tokens").unwrap();
        let mut c = Cursor::new(&base, &first, 10);
        let next = c
            .advance("/api/v1/users/u/clients/c/tokens?after=1")
            .unwrap();
        assert_eq!(
            next.as_str(),
            "https://o.okta.com/api/v1/users/u/clients/c/tokens?after=1"
        );
        let next = c.advance("tokens?after=2").unwrap();
        assert_eq!(
            next.as_str(),
            "https://o.okta.com/api/v1/users/u/clients/c/tokens?after=2"
        );
        assert_eq!(
            c.advance("//evil.example/api/v1/x"),
            Err(LinkRefusal::ForeignOrigin("https://evil.example".into()))
        );
    }
}
