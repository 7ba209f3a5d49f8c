//! The fuzz harness bodies, shared by the cargo-fuzz targets in `fuzz/` and by
//! `tests/fuzz_corpus.rs`, which replays the committed corpus on every `cargo test`. Each
//! function feeds arbitrary bytes to one parser of untrusted Okta input and must return
//! normally for every input: a panic here is a bug in the parser, not in the harness. No IO.

use reqwest::header::{HeaderMap, HeaderValue, LINK};
use url::Url;

use super::model::{self, OktaErrorBody, UserClient};
use super::page::{Cursor, parse_link_header};

/// The origin every fuzzed listing belongs to.
const BASE: &str = "https://example.okta.com/";

/// Feeds `data` as `Link` header values (one per line, so an input can repeat the header)
/// to [`parse_link_header`], and every candidate URL through [`Cursor::advance`] twice (the
/// second time must be refused as a loop).
pub fn exercise_link_header(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        // Bytes a header cannot carry never reach revokd: hyper refuses them first.
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(LINK, value);
        }
    }
    let next = parse_link_header(&headers);
    let (Ok(base), Ok(first)) = (
        Url::parse(BASE),
        Url::parse("https://example.okta.com/api/v1/users/00u1/clients/0oa1/tokens"),
    ) else {
        return;
    };
    let mut cursor = Cursor::new(&base, &first, 3);
    let text = String::from_utf8_lossy(data);
    for candidate in next.iter().map(String::as_str).chain([text.as_ref()]) {
        if let Ok(url) = cursor.advance(candidate) {
            assert_eq!(
                url.origin(),
                base.origin(),
                "a foreign next link was accepted"
            );
            assert!(
                cursor.advance(candidate).is_err(),
                "a repeated link was accepted"
            );
        }
    }
}

/// Feeds `data` as a response body to every decoder of Okta JSON: the token list, the error
/// body and the client list. Bytes that are not UTF-8 are decoded lossily as well, since a
/// body is text by the time it reaches a decoder.
pub fn exercise_okta_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(tokens) = model::decode_tokens(&text) {
        for observed in &tokens {
            let _ = observed.token.scope_names();
            let _ = observed.token.may_be_active();
            let _ = observed.token.status.as_ref().map(|s| s.as_str().len());
        }
    }
    let _ = model::decode::<OktaErrorBody>(&text);
    let _ = model::decode::<Vec<UserClient>>(&text);
}
