//! Okta's ApplicationTokens listing (`GET /api/v1/apps/{appId}/tokens`,
//! `listOAuth2TokensForApplication`, scope `okta.apps.read`): every user's refresh tokens of one
//! app, page by page, through the same pager, retries and pacing as every other listing. The
//! app id is the OIDC app's client id. Okta meters `/api/v1/apps*` in a bucket of its own
//! (smaller than the users bucket), which the pacing keys as `GET /api/v1/apps/{id}/tokens`.
//!
//! A listing can start over from a `next` link kept from an earlier process: the link is used
//! verbatim, after the same origin check every `next` link gets.

use url::Url;

use super::client::{OktaClient, TokenPages};
use super::error::Error;
use super::ids::ClientId;

impl OktaClient {
    /// The first page URL of `GET /api/v1/apps/{appId}/tokens` (`expand=scope`, `limit` =
    /// page size).
    pub fn first_app_tokens_page(&self, app: &ClientId) -> Url {
        let mut url = self.url(&["api", "v1", "apps", app.as_str(), "tokens"]);
        url.query_pairs_mut()
            .append_pair("expand", "scope")
            .append_pair("limit", &self.page_size().to_string());
        url
    }

    /// Lists every user's refresh tokens of `app` page by page, following `Link rel="next"`
    /// (see [`super::page`]). With `resume_from` (a `next` link Okta sent earlier for this app) the listing
    /// continues there instead of at the first page; a link that is not a URL on this org's
    /// origin, or not one of this app's listing, is refused.
    pub fn list_app_tokens(
        &self,
        app: &ClientId,
        resume_from: Option<&str>,
    ) -> Result<TokenPages<'_>, Error> {
        let first = self.first_app_tokens_page(app);
        let start = match resume_from {
            None => first,
            Some(link) => {
                let refused = |why: &str| Error::Refused {
                    reason: format!("stored cursor of app {app} {why}; listing from the start"),
                    request_id: None,
                };
                let url = Url::parse(link).map_err(|_| refused("is not a URL"))?;
                if url.origin() != self.base_url().origin() {
                    return Err(refused("points to another origin"));
                }
                if url.path() != first.path() {
                    return Err(refused("is not a listing of that app"));
                }
                url
            }
        };
        Ok(self.pages_from(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::ratelimit::bucket_of;
    use crate::okta::{Auth, ClientSettings};
    use reqwest::Method;
    use secrecy::SecretString;

    fn client() -> OktaClient {
        OktaClient::new(
            Url::parse("https://o.okta.com/").unwrap(),
            &Auth::Ssws(SecretString::from("t")),
            ClientSettings::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_first_page_names_the_app_with_expand_and_limit() {
        let url = client().first_app_tokens_page(&ClientId::new("0oa2").unwrap());
        assert_eq!(
            url.as_str(),
            "https://o.okta.com/api/v1/apps/0oa2/tokens?expand=scope&limit=200"
        );
    }

    #[test]
    fn every_app_listing_shares_one_bucket_key() {
        assert_eq!(
            bucket_of(&Method::GET, "/api/v1/apps/0oa2/tokens"),
            "GET /api/v1/apps/{id}/tokens"
        );
        assert_eq!(
            bucket_of(&Method::GET, "/api/v1/apps/0oa3/tokens"),
            bucket_of(&Method::GET, "/api/v1/apps/0oa2/tokens")
        );
    }

    #[test]
    fn a_stored_cursor_is_followed_only_on_this_origin_and_this_app() {
        let c = client();
        let app = ClientId::new("0oa2").unwrap();
        let own = "https://o.okta.com/api/v1/apps/0oa2/tokens?limit=200&after=ab";
        let pages = c.list_app_tokens(&app, Some(own)).unwrap();
        assert_eq!(pages.next_url().map(Url::as_str), Some(own));
        for bad in [
            "https://evil.example/api/v1/apps/0oa2/tokens?after=ab",
            "https://o.okta.com/api/v1/apps/0oa9/tokens?after=ab",
            "not a url",
        ] {
            assert!(c.list_app_tokens(&app, Some(bad)).is_err(), "{bad}");
        }
    }
}
