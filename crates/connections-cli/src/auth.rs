//! Where `list` and `token` get their credentials: typed flags first, then `SMARTCAR_*`
//! variables as defaults, so an exported variable never stands in the way of what was typed.
//!
//! - A typed `--token` ignores exported credentials and `SMARTCAR_TOKEN_URL`.
//! - A typed `--client-id`, `--client-secret` or `--token-url` ignores an exported
//!   `SMARTCAR_ACCESS_TOKEN`; the other half of the pair may come from the environment.
//! - With nothing typed, exported credentials win over an exported token (they can be
//!   renewed; the token may be one printed by `connections token` for curl).
//! - Only typed flags conflict, and errors name only what was typed, or say which variable
//!   came from the environment.

use std::fmt;

/// The flags the credentials come from (shared by `list` and `token`).
#[derive(clap::Args, Debug)]
pub(crate) struct CredentialArgs {
    /// The application's client id [default: $SMARTCAR_CLIENT_ID].
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// The application's client secret [default: $SMARTCAR_CLIENT_SECRET, better: it stays
    /// out of shell history].
    #[arg(long, value_name = "SECRET")]
    pub(crate) client_secret: Option<String>,
    /// The OAuth token endpoint [default: $SMARTCAR_TOKEN_URL, else
    /// `https://iam.smartcar.com/oauth2/token`].
    #[arg(long, value_name = "URL")]
    pub(crate) token_url: Option<String>,
}

/// Where a value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// Typed on the command line, as this flag.
    Flag(&'static str),
    /// Read from this environment variable.
    Env(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => f.write_str(flag),
            Source::Env(name) => write!(f, "{name} (from the environment)"),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug)]
pub(crate) struct Given {
    pub(crate) value: String,
    pub(crate) source: Source,
}

/// The credentials a client is built with.
#[derive(Debug)]
pub(crate) enum Auth {
    /// Client credentials, fetching application tokens.
    Credentials {
        id: Given,
        secret: Given,
        token_url: Option<Given>,
    },
    /// A token obtained elsewhere.
    Token(Given),
}

impl Auth {
    /// Which sources were used, for `-v`: never the values.
    pub(crate) fn describe(&self) -> String {
        match self {
            Auth::Credentials {
                id,
                secret,
                token_url,
            } => {
                let mut text = format!(
                    "credentials: client credentials, id from {}, secret from {}",
                    id.source, secret.source
                );
                if let Some(url) = token_url {
                    text.push_str(&format!(", token URL from {}", url.source));
                }
                text
            }
            Auth::Token(token) => format!("credentials: an access token from {}", token.source),
        }
    }
}

/// A variable's value; an empty one counts as unset, as `export VAR=` is meant to clear it.
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The variable names, one per idea.
pub(crate) const CLIENT_ID: &str = "SMARTCAR_CLIENT_ID";
pub(crate) const CLIENT_SECRET: &str = "SMARTCAR_CLIENT_SECRET";
pub(crate) const TOKEN_URL: &str = "SMARTCAR_TOKEN_URL";
pub(crate) const ACCESS_TOKEN: &str = "SMARTCAR_ACCESS_TOKEN";
pub(crate) const BASE_URL: &str = "SMARTCAR_BASE_URL";

/// The credentials `typed` and `token` (the typed `--token`, for `list`) give, with the
/// environment (`env`) as defaults; `None` when there are none at all. `accepts_token`:
/// whether a token from elsewhere will do (`list`), or only client credentials (`token`).
pub(crate) fn resolve(
    typed: &CredentialArgs,
    token: Option<&str>,
    accepts_token: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Auth>, String> {
    let flag = |value: &Option<String>, name: &'static str| {
        value.clone().map(|value| Given {
            value,
            source: Source::Flag(name),
        })
    };
    let from_env = |name: &'static str| {
        env(name).map(|value| Given {
            value,
            source: Source::Env(name),
        })
    };
    let typed_id = flag(&typed.client_id, "--client-id");
    let typed_secret = flag(&typed.client_secret, "--client-secret");
    let typed_url = flag(&typed.token_url, "--token-url");
    let typed_credentials: Vec<&'static str> = [&typed_id, &typed_secret, &typed_url]
        .into_iter()
        .flatten()
        .filter_map(|g| match g.source {
            Source::Flag(name) => Some(name),
            Source::Env(_) => None,
        })
        .collect();
    if let Some(token) = token {
        if let Some(first) = typed_credentials.first() {
            return Err(format!(
                "the argument '--token' cannot be used with '{first}': pass either a token or \
                 client credentials"
            ));
        }
        return Ok(Some(Auth::Token(Given {
            value: token.to_owned(),
            source: Source::Flag("--token"),
        })));
    }
    let id = typed_id.or_else(|| from_env(CLIENT_ID));
    let secret = typed_secret.or_else(|| from_env(CLIENT_SECRET));
    let token_url = typed_url.or_else(|| from_env(TOKEN_URL));
    let env_token = accepts_token.then(|| from_env(ACCESS_TOKEN)).flatten();
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some(Auth::Credentials {
            id,
            secret,
            token_url,
        })),
        // Half a pair from the environment, nothing typed: a token, if one is exported.
        (_, _) if typed_credentials.is_empty() && env_token.is_some() => {
            Ok(env_token.map(Auth::Token))
        }
        (Some(given), None) | (None, Some(given)) => {
            let missing = if given.source == Source::Flag("--client-id")
                || given.source == Source::Env(CLIENT_ID)
            {
                format!("a client secret: pass --client-secret or set {CLIENT_SECRET}")
            } else {
                format!("a client id: pass --client-id or set {CLIENT_ID}")
            };
            Err(format!("{} is given but not {missing}", given.source))
        }
        (None, None) => match token_url {
            Some(url) => Err(format!(
                "{} is given but no client credentials: pass --client-id and --client-secret \
                 (or set {CLIENT_ID} and {CLIENT_SECRET})",
                url.source
            )),
            None => Ok(None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(id: Option<&str>, secret: Option<&str>, url: Option<&str>) -> CredentialArgs {
        CredentialArgs {
            client_id: id.map(str::to_owned),
            client_secret: secret.map(str::to_owned),
            token_url: url.map(str::to_owned),
        }
    }

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn half_a_pair_names_what_is_missing_and_where_the_other_half_came_from() {
        let error = resolve(
            &typed(None, None, None),
            None,
            true,
            env(&[(CLIENT_ID, "i")]),
        )
        .unwrap_err();
        assert!(error.starts_with("SMARTCAR_CLIENT_ID (from the environment) is given"));
        assert!(error.contains("--client-secret"), "{error}");
        let error = resolve(&typed(None, Some("s"), None), None, true, env(&[])).unwrap_err();
        assert!(error.starts_with("--client-secret is given but not a client id"));
    }
}
