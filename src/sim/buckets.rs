//! Rate-limit buckets as the sim groups routes into them: which grouping it plays
//! ([`BucketModel`]), the buckets themselves ([`SimBucket`]) and what each window of one saw
//! ([`WindowStats`]). Okta matches buckets by method and longest path prefix and does not
//! publish the grouping of the routes revokd calls (FACTS.md §1), so each plausible one is here.

use super::types::RouteKind;

/// Which routes share a rate-limit bucket. Okta matches buckets by method and longest path
/// prefix and does not publish whether the GETs and DELETEs under `/api/v1/users/{id}/clients`
/// share one, so the sim can play either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BucketModel {
    /// One bucket per method + path template ([`RouteKind`]).
    #[default]
    PerRoute,
    /// Every route under `/api/v1/users/{id}/clients`, GET and DELETE alike, draws on one
    /// bucket; other routes keep their own.
    SharedUserClients,
    /// Buckets by method, as Okta's last published table sized the `/api/v1/users` ones: every
    /// GET under `/api/v1/users/{id}/clients` (listings and the verifying GET alike) draws on
    /// one bucket of the org's limit, every DELETE on another of 3/10 of it (2,000 and 600
    /// requests a minute in that table); other routes keep their own.
    UsersByMethod,
}

/// The share of the org's limit [`BucketModel::UsersByMethod`] gives its DELETE bucket, as
/// (numerator, denominator): 600 of 2,000.
pub const USER_WRITES_SHARE: (u32, u32) = (3, 10);

/// A rate-limit bucket of the sim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimBucket {
    /// One route kind's own bucket.
    Route(RouteKind),
    /// The shared bucket of [`BucketModel::SharedUserClients`].
    UserClients,
    /// The GET bucket of [`BucketModel::UsersByMethod`].
    UserReads,
    /// The DELETE bucket of [`BucketModel::UsersByMethod`].
    UserWrites,
    /// Every route under `/api/v1/apps` (Okta's `/api/v1/apps*` bucket), in every model.
    Apps,
}

impl BucketModel {
    /// The bucket a request of `route` draws on.
    pub fn bucket_of(self, route: RouteKind) -> SimBucket {
        let under_user_clients = matches!(
            route,
            RouteKind::ListClients
                | RouteKind::ListTokens
                | RouteKind::GetToken
                | RouteKind::RevokeToken
                | RouteKind::RevokeAll
        );
        match self {
            _ if route.is_apps() => SimBucket::Apps,
            BucketModel::SharedUserClients if under_user_clients => SimBucket::UserClients,
            BucketModel::UsersByMethod if under_user_clients => match route {
                RouteKind::RevokeToken | RouteKind::RevokeAll => SimBucket::UserWrites,
                _ => SimBucket::UserReads,
            },
            _ => SimBucket::Route(route),
        }
    }
}

/// What one bucket's window saw, as the org counted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowStats {
    pub bucket: SimBucket,
    /// The window's `X-Rate-Limit-Reset` (UTC epoch seconds); identifies it.
    pub reset: i64,
    /// Requests per window.
    pub limit: u32,
    /// Requests "other integrations" took at the window's start (background load).
    pub background: u32,
    /// Requests received and served within the limit.
    pub served: u32,
    /// Requests received and refused with 429 because the bucket was exhausted.
    pub refused: u32,
}

impl WindowStats {
    /// Every request the clients sent in this window, served or refused.
    pub fn received(&self) -> u32 {
        self.served + self.refused
    }
}
