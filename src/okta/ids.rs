//! Okta identifiers as newtypes, validated on construction so that nothing but an id ever
//! lands in a URL path segment. Okta ids are short alphanumeric strings (`00ub0oNGTSWTBKOLGLNR`,
//! `oar579Mcp7OUsNTlo0g3`); client ids may also carry `.`, `_` and `-`.

use std::fmt;

/// Why a string is not an acceptable Okta id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{shown}`: ids are 1-128 characters of A-Z a-z 0-9 . _ -")]
pub struct InvalidId {
    kind: &'static str,
    shown: String,
}

fn validate(kind: &'static str, value: &str) -> Result<(), InvalidId> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        let shown: String = value.chars().take(40).collect();
        Err(InvalidId { kind, shown })
    }
}

macro_rules! okta_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                validate($kind, &value)?;
                Ok(Self(value))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

okta_id!(
    /// An Okta user id (`00u…`).
    UserId,
    "user id"
);
okta_id!(
    /// An OAuth client id (`0oa…`).
    ClientId,
    "client id"
);
okta_id!(
    /// A refresh token id (`oar…`), never the token value.
    TokenId,
    "token id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_shaped_ids_are_accepted() {
        assert!(UserId::new("00ub0oNGTSWTBKOLGLNR").is_ok());
        assert!(ClientId::new("my-app.prod_1").is_ok());
        assert!(TokenId::new("oar579Mcp7OUsNTlo0g3").is_ok());
    }

    #[test]
    fn ids_that_could_escape_a_path_segment_are_refused() {
        for bad in ["", "a/b", "..%2f", "a b", "x?y=1", "a#b", &"a".repeat(129)] {
            assert!(UserId::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
