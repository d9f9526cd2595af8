//! Who may speak for which conversation over the HTTP API. Web visitors hold the token the
//! server issued with their conversation; a declared chat bridge holds its bearer token and
//! speaks for its own channel's ids; the built-in channels (Discord, Slack, Telegram) never
//! speak over HTTP. [`decide`] is the pure rule; [`VisitorKey`] signs and checks visitor tokens.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::catalog::settings::BridgeSettings;
use crate::core::hex;
use crate::core::secret::same;

/// The web chat's channel: conversations the server issues to visitors.
pub const WEB: &str = "web";

/// The header that carries a web conversation's visitor token.
pub const VISITOR_HEADER: &str = "x-visitor-token";

/// Channels that have their own transport and can never be written to over HTTP.
const BUILT_IN: &[&str] = &["discord", "slack", "telegram", "terminal"];

/// Prefixes of server-issued web conversation and visitor ids.
const CONVERSATION_PREFIX: &str = "web-";
const VISITOR_PREFIX: &str = "visitor-";

/// What a request claims: the channel, conversation and user it names (all optional).
#[derive(Debug, Clone, Copy, Default)]
pub struct Claim<'a> {
    pub channel: Option<&'a str>,
    pub conversation: Option<&'a str>,
    pub user: Option<&'a str>,
}

/// The credentials a request presents.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// `Authorization: Bearer <token>`.
    pub bearer: Option<&'a str>,
    /// `X-Visitor-Token: <token>`.
    pub visitor: Option<&'a str>,
}

/// What a request does with the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Sends a message: may start a web conversation (`POST /v1/messages`).
    Send,
    /// Acts in an existing conversation as its user (`POST /v1/feedback`).
    Act,
    /// Reads an existing conversation (`GET .../updates`): a bridge names no user.
    Read,
}

/// Who speaks, once allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Speaker {
    /// A new web visitor: the server issues the conversation (only where one may start).
    NewVisitor,
    /// A web visitor in the conversation its token was issued for.
    Visitor { conversation: String },
    /// A declared bridge for its own channel's ids.
    Bridge {
        channel: String,
        conversation: String,
        user: String,
    },
}

/// Why a request may not speak, each with its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("`{0}` is required")]
    Missing(&'static str),
    #[error(
        "this web conversation needs its visitor token in the X-Visitor-Token header (start a \
         conversation without `conversation` to get one)"
    )]
    VisitorToken,
    #[error("the `{0}` channel cannot be written to or read over HTTP")]
    BuiltIn(String),
    #[error(
        "unknown channel `{0}`: a chat bridge must be declared with \
         PERSONABOT__BRIDGES__<NAME>__TOKEN and send `Authorization: Bearer <token>`"
    )]
    UnknownChannel(String),
    #[error("the `{0}` bridge needs its token (Authorization: Bearer <token>)")]
    BridgeToken(String),
}

impl Refusal {
    /// The HTTP status: 400 for a missing field, 401 without the right bridge credential, 403
    /// for what no credential allows (another visitor's conversation, a built-in channel).
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Missing(_) => 400,
            Refusal::UnknownChannel(_) | Refusal::BridgeToken(_) => 401,
            Refusal::VisitorToken | Refusal::BuiltIn(_) => 403,
        }
    }
}

/// The rule, for a request with `purpose`. `visitor_ok(conversation, token)` checks a visitor
/// token.
pub fn decide(
    claim: Claim<'_>,
    credentials: Credentials<'_>,
    purpose: Purpose,
    bridges: &BTreeMap<String, BridgeSettings>,
    visitor_ok: impl Fn(&str, &str) -> bool,
) -> Result<Speaker, Refusal> {
    let channel = claim.channel.map(str::trim).unwrap_or(WEB);
    if channel == WEB {
        // The user is the token's, never the body's: a `user` in the body is ignored.
        return match (claim.conversation, credentials.visitor) {
            (None, _) if purpose == Purpose::Send => Ok(Speaker::NewVisitor),
            (None, _) => Err(Refusal::Missing("conversation")),
            (Some(c), Some(token)) if visitor_ok(c, token) => Ok(Speaker::Visitor {
                conversation: c.to_string(),
            }),
            (Some(_), _) => Err(Refusal::VisitorToken),
        };
    }
    if BUILT_IN.contains(&channel) {
        return Err(Refusal::BuiltIn(channel.to_string()));
    }
    let Some(expected) = bridges.get(channel).and_then(|b| b.token.as_deref()) else {
        return Err(Refusal::UnknownChannel(channel.to_string()));
    };
    if !credentials
        .bearer
        .is_some_and(|t| same(t.trim(), expected.trim()))
    {
        return Err(Refusal::BridgeToken(channel.to_string()));
    }
    Ok(Speaker::Bridge {
        channel: channel.to_string(),
        conversation: claim
            .conversation
            .ok_or(Refusal::Missing("conversation"))?
            .to_string(),
        user: match (claim.user, purpose) {
            (Some(user), _) => user.to_string(),
            (None, Purpose::Read) => String::new(),
            (None, _) => return Err(Refusal::Missing("user")),
        },
    })
}

/// The server's key for visitor tokens (kept in the store, so tokens outlive restarts). A
/// conversation's token is an HMAC of its id: nothing is written per conversation, and a token
/// opens only the conversation it was issued for.
#[derive(Clone)]
pub struct VisitorKey([u8; 32]);

impl VisitorKey {
    pub fn new(key: [u8; 32]) -> VisitorKey {
        VisitorKey(key)
    }

    fn mac(&self, conversation: &str) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"personabot visitor\0");
        mac.update(conversation.as_bytes());
        mac
    }

    /// The token of `conversation`.
    pub fn token(&self, conversation: &str) -> String {
        hex::encode(&self.mac(conversation).finalize().into_bytes())
    }

    /// Whether `token` is `conversation`'s (only server-issued ids have one).
    pub fn verify(&self, conversation: &str, token: &str) -> bool {
        if !conversation.starts_with(CONVERSATION_PREFIX) {
            return false;
        }
        match hex::decode(token.trim()) {
            Some(bytes) => self.mac(conversation).verify_slice(&bytes).is_ok(),
            None => false,
        }
    }
}

/// A new web conversation: its id and its visitor's user id, from 128 random bits.
pub fn new_conversation() -> Result<(String, String), getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    let id = hex::encode(&bytes);
    Ok((
        format!("{CONVERSATION_PREFIX}{id}"),
        visitor_of(&format!("{CONVERSATION_PREFIX}{id}")),
    ))
}

/// The visitor (user id) of a server-issued web conversation.
pub fn visitor_of(conversation: &str) -> String {
    let id = conversation
        .strip_prefix(CONVERSATION_PREFIX)
        .unwrap_or(conversation);
    format!("{VISITOR_PREFIX}{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BRIDGE_TOKEN: &str = "intercom-bridge-token-0123";

    fn bridges() -> BTreeMap<String, BridgeSettings> {
        BTreeMap::from([(
            "intercom".to_string(),
            BridgeSettings {
                token: Some(BRIDGE_TOKEN.into()),
            },
        )])
    }

    #[test]
    fn who_may_speak_for_whom() {
        use Purpose::{Act, Read, Send};
        let key = VisitorKey::new([7; 32]);
        let (mine, _) = new_conversation().unwrap();
        let (theirs, _) = new_conversation().unwrap();
        let my_token = key.token(&mine);
        let claim = |channel, conversation, user| Claim {
            channel,
            conversation,
            user,
        };
        let creds = |bearer, visitor| Credentials { bearer, visitor };
        let visitor = |c: &str| {
            Ok(Speaker::Visitor {
                conversation: c.to_string(),
            })
        };
        let bridge = Ok(Speaker::Bridge {
            channel: "intercom".into(),
            conversation: "c1".into(),
            user: "u1".into(),
        });
        type Case<'a> = (
            Claim<'a>,
            Credentials<'a>,
            Purpose,
            Result<Speaker, Refusal>,
        );
        let table: Vec<Case> = vec![
            // Web: a new conversation only where one may start.
            (
                claim(None, None, None),
                creds(None, None),
                Send,
                Ok(Speaker::NewVisitor),
            ),
            (
                claim(Some("web"), None, Some("u")),
                creds(None, None),
                Send,
                Ok(Speaker::NewVisitor),
            ),
            (
                claim(None, None, None),
                creds(None, None),
                Act,
                Err(Refusal::Missing("conversation")),
            ),
            // Web: the conversation's own token, and only that.
            (
                claim(None, Some(&mine), None),
                creds(None, Some(&my_token)),
                Act,
                visitor(&mine),
            ),
            (
                claim(None, Some(&mine), Some("someone-else")),
                creds(None, Some(&my_token)),
                Send,
                visitor(&mine),
            ),
            (
                claim(None, Some(&theirs), None),
                creds(None, Some(&my_token)),
                Send,
                Err(Refusal::VisitorToken),
            ),
            (
                claim(None, Some(&mine), None),
                creds(None, None),
                Send,
                Err(Refusal::VisitorToken),
            ),
            (
                claim(None, Some(&mine), None),
                creds(None, Some("zz")),
                Send,
                Err(Refusal::VisitorToken),
            ),
            // Web with ids the server never issued: no token can be right.
            (
                claim(Some("web"), Some("c1"), Some("u1")),
                creds(Some(BRIDGE_TOKEN), Some(&my_token)),
                Send,
                Err(Refusal::VisitorToken),
            ),
            // The built-in channels: never, whatever the credential.
            (
                claim(Some("discord"), Some("0"), Some("u")),
                creds(Some(BRIDGE_TOKEN), None),
                Send,
                Err(Refusal::BuiltIn("discord".into())),
            ),
            (
                claim(Some("slack"), Some("C1/1.2"), Some("u")),
                creds(None, None),
                Send,
                Err(Refusal::BuiltIn("slack".into())),
            ),
            (
                claim(Some("telegram"), Some("42"), Some("u")),
                creds(None, None),
                Act,
                Err(Refusal::BuiltIn("telegram".into())),
            ),
            // Bridges: declared, with their own token.
            (
                claim(Some("intercom"), Some("c1"), Some("u1")),
                creds(Some(BRIDGE_TOKEN), None),
                Send,
                bridge,
            ),
            (
                claim(Some("intercom"), Some("c1"), Some("u1")),
                creds(None, None),
                Send,
                Err(Refusal::BridgeToken("intercom".into())),
            ),
            (
                claim(Some("intercom"), Some("c1"), Some("u1")),
                creds(Some("intercom-bridge-token-0124"), None),
                Send,
                Err(Refusal::BridgeToken("intercom".into())),
            ),
            (
                claim(Some("intercom"), None, Some("u1")),
                creds(Some(BRIDGE_TOKEN), None),
                Send,
                Err(Refusal::Missing("conversation")),
            ),
            (
                claim(Some("intercom"), Some("c1"), None),
                creds(Some(BRIDGE_TOKEN), None),
                Send,
                Err(Refusal::Missing("user")),
            ),
            (
                claim(Some("intercom"), Some("c1"), None),
                creds(Some(BRIDGE_TOKEN), None),
                Act,
                Err(Refusal::Missing("user")),
            ),
            (
                claim(Some("intercom"), Some("c1"), None),
                creds(Some(BRIDGE_TOKEN), None),
                Read,
                Ok(Speaker::Bridge {
                    channel: "intercom".into(),
                    conversation: "c1".into(),
                    user: String::new(),
                }),
            ),
            (
                claim(Some("slack"), Some("C1/1.2"), None),
                creds(None, None),
                Read,
                Err(Refusal::BuiltIn("slack".into())),
            ),
            (
                claim(None, Some(&theirs), None),
                creds(None, Some(&my_token)),
                Read,
                Err(Refusal::VisitorToken),
            ),
            (
                claim(None, Some(&mine), None),
                creds(None, Some(&my_token)),
                Read,
                visitor(&mine),
            ),
            (
                claim(Some("http"), Some("c1"), Some("u1")),
                creds(Some(BRIDGE_TOKEN), None),
                Send,
                Err(Refusal::UnknownChannel("http".into())),
            ),
        ];
        for (i, (claim, creds, purpose, want)) in table.into_iter().enumerate() {
            let got = decide(claim, creds, purpose, &bridges(), |c, t| key.verify(c, t));
            assert_eq!(got, want, "case {i}: {claim:?} {creds:?}");
        }
    }

    #[test]
    fn refusals_have_their_status() {
        assert_eq!(Refusal::Missing("user").status(), 400);
        assert_eq!(Refusal::UnknownChannel("x".into()).status(), 401);
        assert_eq!(Refusal::BridgeToken("x".into()).status(), 401);
        assert_eq!(Refusal::VisitorToken.status(), 403);
        assert_eq!(Refusal::BuiltIn("slack".into()).status(), 403);
    }

    #[test]
    fn a_token_opens_only_its_conversation_under_its_key() {
        let (a, b) = (VisitorKey::new([1; 32]), VisitorKey::new([2; 32]));
        let (c, user) = new_conversation().unwrap();
        assert!(c.starts_with("web-") && c.len() == 36, "{c}");
        assert_eq!(user, format!("visitor-{}", &c[4..]));
        let token = a.token(&c);
        assert_eq!(token.len(), 64);
        assert!(a.verify(&c, &token));
        assert!(a.verify(&c, &format!(" {token} ")));
        assert!(!b.verify(&c, &token), "another server's key");
        assert!(!a.verify(&format!("{c}0"), &token));
        assert!(!a.verify(&c, &token[..62]));
        assert!(!a.verify(&c, "é"));
        assert!(!a.verify(&c, ""));
        let (other, _) = new_conversation().unwrap();
        assert_ne!(other, c);
    }
}
