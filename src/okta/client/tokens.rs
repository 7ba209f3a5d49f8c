//! The token operations on `/api/v1/users/{userId}/clients…`: a pair's listing page by page
//! (following `Link rel="next"` only within the org, up to the page cap), one token by id, and
//! the clients a user holds tokens for (every page, should Okta page them). URLs are built from path segments, never by hand.

use reqwest::Method;
use url::Url;

use super::{MAX_PAGES, OktaClient};
use crate::ids::{ClientId, TokenId, UserId};
use crate::okta::error::{Error, excerpt};
use crate::okta::model::{self, ObservedToken, UserClient};
use crate::okta::page::{Cursor, parse_link_header};
use crate::okta::retry::RateLimitHeaders;

/// What getRefreshTokenForUserAndClient answered: the token (`None`: a 404), and the
/// answer's `X-Okta-Request-Id`, recorded with what the answer causes.
#[derive(Debug)]
pub struct TokenLookup {
    pub found: Option<ObservedToken>,
    pub request_id: Option<String>,
}

/// One page of a token listing.
#[derive(Debug)]
pub struct TokenPage {
    pub tokens: Vec<ObservedToken>,
    pub request_id: Option<String>,
    pub rate_limit: RateLimitHeaders,
}

/// One page of a token listing as Okta sent it, not decoded yet: a listing that finds a page
/// it already knows (by the hash of its body) need not decode it.
#[derive(Debug)]
pub struct RawTokenPage {
    body: String,
    request_id: Option<String>,
    rate_limit: RateLimitHeaders,
}

impl RawTokenPage {
    /// A page with this body, as a test's listing would receive it.
    #[cfg(test)]
    pub(crate) fn sent(body: &str) -> RawTokenPage {
        RawTokenPage {
            body: body.to_owned(),
            request_id: None,
            rate_limit: RateLimitHeaders::default(),
        }
    }

    /// The body exactly as sent.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The 128-bit XXH3 hash of the body as sent.
    pub fn hash(&self) -> u128 {
        xxhash_rust::xxh3::xxh3_128(self.body.as_bytes())
    }

    /// Okta's `X-Okta-Request-Id` of the response.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The tokens of the page.
    pub fn decode(self) -> Result<TokenPage, Error> {
        let tokens = model::decode_tokens(&self.body).map_err(|source| Error::Decode {
            source,
            body: excerpt(&self.body),
            request_id: self.request_id.clone(),
        })?;
        Ok(TokenPage {
            tokens,
            request_id: self.request_id,
            rate_limit: self.rate_limit,
        })
    }
}

impl OktaClient {
    pub(in crate::okta) fn tokens_url(&self, user: &UserId, client: &ClientId) -> Url {
        self.url(&[
            "api",
            "v1",
            "users",
            user.as_str(),
            "clients",
            client.as_str(),
            "tokens",
        ])
    }

    /// The first page URL of `GET /api/v1/users/{userId}/clients/{clientId}/tokens`.
    pub fn first_tokens_page(&self, user: &UserId, client: &ClientId) -> Url {
        let mut url = self.tokens_url(user, client);
        url.query_pairs_mut()
            .append_pair("expand", "scope")
            .append_pair("limit", &self.settings.page_size.to_string());
        url
    }

    /// Lists a pair's refresh tokens page by page (`expand=scope`, `limit` = page size),
    /// following `Link rel="next"` (see [`crate::okta::page`]).
    pub fn list_tokens(&self, user: &UserId, client: &ClientId) -> TokenPages<'_> {
        self.pages_from(self.first_tokens_page(user, client))
    }

    /// The pages of a token listing that starts at `first` (on this org's origin).
    pub(in crate::okta) fn pages_from(&self, first: Url) -> TokenPages<'_> {
        TokenPages {
            cursor: Cursor::new(&self.base, &first, MAX_PAGES),
            next: Some(first),
            client: self,
        }
    }

    /// Fetches one page of tokens from a URL (the first page or a vetted `next` link).
    async fn token_page(&self, url: &Url) -> Result<(RawTokenPage, Option<String>), Error> {
        let reply = self.execute(Method::GET, url.clone()).await?;
        let next = parse_link_header(&reply.headers);
        let rate_limit = RateLimitHeaders::parse(&reply.headers);
        Ok((
            RawTokenPage {
                body: reply.body,
                request_id: reply.request_id,
                rate_limit,
            },
            next,
        ))
    }

    /// Fetches again a page of a listing this client followed (the first page or a vetted
    /// `next` link), on this org's origin only.
    pub async fn token_page_again(&self, url: &Url) -> Result<RawTokenPage, Error> {
        if url.origin() != self.base.origin() {
            return Err(Error::Refused {
                reason: "a page of another origin is not fetched".into(),
                request_id: None,
            });
        }
        Ok(self.token_page(url).await?.0)
    }

    /// `GET …/tokens/{tokenId}?expand=scope`: the token, or `None` when Okta answers 404,
    /// with the answer's request id.
    pub async fn get_token(
        &self,
        user: &UserId,
        client: &ClientId,
        token: &TokenId,
    ) -> Result<TokenLookup, Error> {
        let mut url = self.tokens_url(user, client);
        if let Ok(mut p) = url.path_segments_mut() {
            p.push(token.as_str());
        }
        url.query_pairs_mut().append_pair("expand", "scope");
        let reply = match self.execute(Method::GET, url).await {
            Err(e) if e.is_not_found() => {
                let request_id = e.request_id().map(str::to_owned);
                return Ok(TokenLookup {
                    found: None,
                    request_id,
                });
            }
            other => other?,
        };
        let token = model::decode(&reply.body).map_err(|source| Error::Decode {
            source,
            body: excerpt(&reply.body),
            request_id: reply.request_id.clone(),
        })?;
        Ok(TokenLookup {
            found: Some(ObservedToken {
                token,
                raw_json: reply.body,
            }),
            request_id: reply.request_id,
        })
    }

    /// `GET /api/v1/users/{userId}/clients`: the clients the user holds tokens for. Okta
    /// documents one array; a `Link rel="next"` is followed all the same (vetted as a token
    /// listing's is), since a client left on a later page would keep its tokens.
    pub async fn list_user_clients(&self, user: &UserId) -> Result<Vec<UserClient>, Error> {
        let first = self.url(&["api", "v1", "users", user.as_str(), "clients"]);
        let mut cursor = Cursor::new(&self.base, &first, MAX_PAGES);
        let mut url = Some(first);
        let mut clients = Vec::new();
        while let Some(page) = url.take() {
            let reply = self.execute(Method::GET, page).await?;
            let items: Vec<UserClient> =
                model::decode(&reply.body).map_err(|source| Error::Decode {
                    source,
                    body: excerpt(&reply.body),
                    request_id: reply.request_id.clone(),
                })?;
            clients.extend(items);
            if let Some(next) = parse_link_header(&reply.headers) {
                url = Some(cursor.advance(&next).map_err(|refusal| Error::Refused {
                    reason: refusal.to_string(),
                    request_id: reply.request_id.clone(),
                })?);
            }
        }
        Ok(clients)
    }
}

/// The pages of one token listing. Call [`TokenPages::next_page`] until it returns `None`.
pub struct TokenPages<'c> {
    client: &'c OktaClient,
    cursor: Cursor,
    next: Option<Url>,
}

impl TokenPages<'_> {
    /// The URL of the page [`TokenPages::next_page`] fetches next (Okta's `next` link after
    /// the first page), or `None` once the listing is complete.
    pub fn next_url(&self) -> Option<&Url> {
        self.next.as_ref()
    }

    /// The next page, or `None` after the last. A `next` link that is foreign, loops or
    /// runs past the page cap ends the listing with [`Error::Refused`].
    pub async fn next_page(&mut self) -> Result<Option<TokenPage>, Error> {
        match self.next_raw().await? {
            Some(raw) => raw.decode().map(Some),
            None => Ok(None),
        }
    }

    /// [`TokenPages::next_page`], the page not decoded yet.
    pub async fn next_raw(&mut self) -> Result<Option<RawTokenPage>, Error> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let (page, next) = self.client.token_page(&url).await?;
        if let Some(next) = next {
            let url = self
                .cursor
                .advance(&next)
                .map_err(|refusal| Error::Refused {
                    reason: refusal.to_string(),
                    request_id: page.request_id.clone(),
                })?;
            self.next = Some(url);
        }
        Ok(Some(page))
    }
}
