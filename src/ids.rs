//! Okta identifiers as newtypes, validated on construction against a strict allow-list so
//! that nothing but an id Okta could have sent ever lands in a URL path segment. Okta's user
//! and token ids are short alphanumeric strings (`00ub0oNGTSWTBKOLGLNR`,
//! `oar579Mcp7OUsNTlo0g3`). Client ids may also carry the special characters Okta allows in
//! them (`$-_.+!*'(),`, ApplicationCredentialsOAuthClient.client_id), none of which can leave
//! a path segment (`/ ? # % \`, whitespace and non-ASCII stay refused) or be decoded into
//! another character (`+` is a plus in a path, not a space). No id may consist of dots alone:
//! `.` and `..` are dot-segments, which URL parsing removes, so a token id `..` would turn
//! `DELETE …/tokens/..` into `DELETE …/clients/{cid}/tokens` (revoke-all). The
//! configuration's ids (targets, policies, exemptions) are checked by these same types, so an id that
//! `config check` accepts is one the Okta client takes. Plain values: no IO.

use std::fmt;

/// Why a string is not an acceptable Okta id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} `{shown}`: {rule}")]
pub struct InvalidId {
    kind: &'static str,
    shown: String,
    rule: &'static str,
}

impl InvalidId {
    /// The refused value as the message shows it: its first 40 characters, with control and
    /// other unprintable characters escaped, so that it is safe in a log or on a terminal.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// The characters an id may hold besides ASCII letters and digits.
#[derive(Clone, Copy)]
enum Alphabet {
    /// Letters and digits only (user and token ids).
    Alphanumeric,
    /// Also `$-_.+!*'(),`, not dots alone (client ids).
    ClientId,
}

impl Alphabet {
    fn rule(self) -> &'static str {
        match self {
            Alphabet::Alphanumeric => "ids are 1-128 characters of A-Z a-z 0-9",
            Alphabet::ClientId => {
                "client ids are 1-128 characters of A-Z a-z 0-9 and $-_.+!*'(), (not dots alone)"
            }
        }
    }
}

/// The special characters Okta allows in a client id besides letters and digits.
const CLIENT_ID_SPECIALS: &[u8] = b"$-_.+!*'(),";

fn validate(kind: &'static str, alphabet: Alphabet, value: &str) -> Result<(), InvalidId> {
    let allowed = |b: u8| match alphabet {
        Alphabet::Alphanumeric => b.is_ascii_alphanumeric(),
        Alphabet::ClientId => b.is_ascii_alphanumeric() || CLIENT_ID_SPECIALS.contains(&b),
    };
    let ok = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(allowed)
        && value.bytes().any(|b| b != b'.');
    if ok {
        Ok(())
    } else {
        let head: String = value.chars().take(40).collect();
        Err(InvalidId {
            kind,
            shown: head.escape_debug().to_string(),
            rule: alphabet.rule(),
        })
    }
}

macro_rules! okta_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $alphabet:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidId> {
                let value = value.into();
                validate($kind, $alphabet, &value)?;
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
    "user id",
    Alphabet::Alphanumeric
);
okta_id!(
    /// An OAuth client id (`0oa…`).
    ClientId,
    "client id",
    Alphabet::ClientId
);
okta_id!(
    /// A refresh token id (`oar…`), never the token value.
    TokenId,
    "token id",
    Alphabet::Alphanumeric
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
        let long = "a".repeat(129);
        let bad = [
            "",
            ".",
            "..",
            "...",
            "%2e%2e",
            "%2E%2E",
            ".%2e",
            "a/b",
            "..%2f",
            "a b",
            "x?y=1",
            "a#b",
            "a\\b",
            "a\0b",
            "\u{ff0e}\u{ff0e}",
            long.as_str(),
        ];
        for bad in bad {
            assert!(UserId::new(bad).is_err(), "user {bad:?} accepted");
            assert!(ClientId::new(bad).is_err(), "client {bad:?} accepted");
            assert!(TokenId::new(bad).is_err(), "token {bad:?} accepted");
        }
        for dotted in ["a.b", "a-b", "a_b"] {
            assert!(ClientId::new(dotted).is_ok());
            assert!(TokenId::new(dotted).is_err(), "token {dotted:?} accepted");
            assert!(UserId::new(dotted).is_err(), "user {dotted:?} accepted");
        }
    }

    #[test]
    fn client_ids_take_every_special_character_okta_allows_in_them() {
        // ApplicationCredentialsOAuthClient.client_id: alphanumerics or `$-_.+!*'(),`.
        for special in "$-_.+!*'(),".chars() {
            let id = format!("app{special}prod");
            assert!(ClientId::new(&id).is_ok(), "client {id:?} refused");
            assert!(UserId::new(&id).is_err(), "user {id:?} accepted");
            assert!(TokenId::new(&id).is_err(), "token {id:?} accepted");
        }
        assert!(ClientId::new("app+prod$(1)!*',x").is_ok());
        assert!(ClientId::new("__--__").is_ok());
        for bad in [
            "app/prod",
            "app%2Fprod",
            "app prod",
            "app;x",
            "app:x",
            "app=x",
            "app@x",
        ] {
            assert!(ClientId::new(bad).is_err(), "client {bad:?} accepted");
        }
    }

    #[test]
    fn a_refused_id_is_shown_escaped() {
        let e = ClientId::new("a\nb\u{1b}[31m").unwrap_err();
        assert_eq!(e.shown(), "a\\nb\\u{1b}[31m");
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}
