//! Who is asking: agent and owner accounts by bearer token or sign-in session, checked by role.
//!
//! A request presents `Authorization: Bearer <token>` (any account's token, looked up by its
//! hash; the environment's agent and owner tokens are the bootstrap accounts `agent` and
//! `owner`) or a session cookie set by a sign-in. A cookie request from another origin is refused
//! (403); failed token sign-ins are limited per client address (429 past 5 a minute); every
//! sign-in, sign-out and failure is written to the audit log.

use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::engine::AppState;
use crate::http::client::ClientAddr;
use crate::http::origin::same_origin;
use crate::http::ApiError;
use crate::store::{now_ms, token_hash, Account, AccountRole, AuditEntry, Store, StoreError};

/// The name of the cookie the agent sign-in sets.
pub(crate) const AGENT_COOKIE: &str = "pb_agent";

/// The name of the cookie the persona owners' sign-in (`/review`) sets.
pub(crate) const OWNER_COOKIE: &str = "pb_owner";

/// Which routes: the agent desk, or the persona owners' review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Admits accounts with role agent or admin.
    Agent,
    /// Admits owners and admins (and the bootstrap `agent` when no owner token is set).
    Owner,
}

/// The account a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: AccountRole,
    /// Empty: every team.
    pub teams: Vec<String>,
    /// The bootstrap account of an environment token.
    pub bootstrap: bool,
    /// The hash of the token it signed in with (a session ends when the token changes).
    token_hash: String,
}

impl Principal {
    fn from_account(account: Account, token_hash: &str) -> Principal {
        Principal {
            name: account.name,
            role: account.role,
            teams: account.teams,
            bootstrap: false,
            token_hash: token_hash.to_string(),
        }
    }

    /// An account another cluster node authenticated, for a request it routed here (see
    /// [`crate::cluster::desk`]: nodes trust each other).
    pub(crate) fn remote(name: String, role: AccountRole, teams: Vec<String>) -> Principal {
        Principal {
            name,
            role,
            teams,
            bootstrap: false,
            token_hash: String::new(),
        }
    }

    /// Whether this account works on every team's tickets.
    pub fn all_teams(&self) -> bool {
        self.role == AccountRole::Admin || self.teams.is_empty()
    }

    /// Whether this account sees and works on `team`'s tickets.
    pub fn sees_team(&self, team: &str) -> bool {
        self.all_teams() || self.teams.iter().any(|t| t == team)
    }

    fn admitted(&self, role: Role, settings: &crate::catalog::settings::Settings) -> bool {
        match (role, self.role) {
            (Role::Agent, AccountRole::Agent | AccountRole::Admin) => true,
            (Role::Owner, AccountRole::Owner | AccountRole::Admin) => true,
            // As before accounts: without an owner token, the agent token opens the review.
            (Role::Owner, AccountRole::Agent) => {
                self.bootstrap && set(&settings.http.owner_token).is_none()
            }
            _ => false,
        }
    }
}

fn set(token: &Option<String>) -> Option<&str> {
    token.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

use crate::core::secret::same;

/// The account whose token hashes to `hash`: a bootstrap one, else a stored one.
fn principal_by_hash(
    state: &AppState,
    store: &Store,
    hash: &str,
) -> Result<Option<Principal>, StoreError> {
    let http = &state.settings.http;
    for (name, role, token) in [
        ("agent", AccountRole::Agent, &http.agent_token),
        ("owner", AccountRole::Owner, &http.owner_token),
    ] {
        if set(token).is_some_and(|t| same(&token_hash(t), hash)) {
            return Ok(Some(Principal {
                name: name.into(),
                role,
                teams: Vec::new(),
                bootstrap: true,
                token_hash: hash.to_string(),
            }));
        }
    }
    Ok(store
        .account_by_token_hash(hash)?
        .map(|a| Principal::from_account(a, hash)))
}

/// Whether the `role` routes are on: a bootstrap token for them is set, or an account exists.
fn routes_on(state: &AppState, store: &Store, role: Role) -> Result<bool, StoreError> {
    let http = &state.settings.http;
    let token = match role {
        Role::Agent => set(&http.agent_token),
        Role::Owner => set(&http.owner_token).or(set(&http.agent_token)),
    };
    Ok(token.is_some() || store.has_accounts()?)
}

/// The value of the cookie `name`, if the request has it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
}

/// What a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Presented {
    Bearer(String),
    /// Session cookies, the one of the role's own sign-in first.
    Cookies(Vec<String>),
    Nothing,
}

/// The credential a request presents: `Authorization: Bearer ...`, else its session cookies.
pub(crate) fn presented(headers: &HeaderMap, role: Role) -> Presented {
    if headers.contains_key(header::AUTHORIZATION) {
        return match bearer(headers) {
            Some(token) => Presented::Bearer(token.to_string()),
            None => Presented::Nothing,
        };
    }
    let names = match role {
        Role::Agent => [AGENT_COOKIE, OWNER_COOKIE],
        Role::Owner => [OWNER_COOKIE, AGENT_COOKIE],
    };
    let values: Vec<String> = names
        .iter()
        .filter_map(|name| cookie(headers, name))
        .filter(|v| !v.is_empty())
        .collect();
    match values.is_empty() {
        true => Presented::Nothing,
        false => Presented::Cookies(values),
    }
}

/// The token of an `Authorization: Bearer <token>` header, trimmed.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// A refused request (its `Retry-After`, when rate limited, is the error's).
#[derive(Debug)]
pub(crate) struct Refused {
    pub error: ApiError,
}

impl Refused {
    pub fn status(&self) -> StatusCode {
        self.error.status
    }

    fn new(status: StatusCode, message: impl Into<String>) -> Refused {
        Refused {
            error: ApiError::new(status, message),
        }
    }

    fn off(role: Role) -> Refused {
        Refused::new(
            StatusCode::NOT_FOUND,
            match role {
                Role::Agent => {
                    "the agent routes are off: set PERSONABOT__HTTP__AGENT_TOKEN to turn them on"
                }
                Role::Owner => {
                    "the review is off: set PERSONABOT__HTTP__OWNER_TOKEN (or the agent token) \
                     to turn it on"
                }
            },
        )
    }

    fn unauthorized(state: &AppState, role: Role) -> Refused {
        state.metrics.refused("auth", 401);
        Refused::new(
            StatusCode::UNAUTHORIZED,
            match role {
                Role::Agent => "a valid agent token is required (Authorization: Bearer <token>)",
                Role::Owner => {
                    "a valid owner token is required (Authorization: Bearer <token>); \
                     without an owner token set, the agent token"
                }
            },
        )
    }

    fn foreign_origin(state: &AppState) -> Refused {
        state.metrics.refused("auth", 403);
        Refused::new(
            StatusCode::FORBIDDEN,
            "refused: a signed-in request from another site (its Origin is not this server's)",
        )
    }

    fn too_many(state: &AppState, wait: std::time::Duration) -> Refused {
        state.metrics.refused("auth", 429);
        let secs = crate::engine::address_limit::retry_after_secs(wait);
        Refused {
            error: ApiError {
                retry_after_secs: Some(secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("too many failed sign-ins from this address: try again in {secs} s"),
                )
            },
        }
    }

    /// As a small HTML page (for the pages and sign-in forms), keeping `Retry-After`.
    pub fn page(self) -> Response {
        let retry = self.error.retry_after_secs;
        let mut response = (
            self.error.status,
            Html(format!(
                "<!doctype html><meta charset=\"utf-8\"><title>personabot</title><p>{}</p>",
                crate::owner::review::escape_html(&self.error.message)
            )),
        )
            .into_response();
        add_retry_after(&mut response, retry);
        response
    }
}

/// Sets `Retry-After: secs` on `response` when there is a wait.
pub(crate) fn add_retry_after(response: &mut Response, secs: Option<u64>) {
    if let Some(secs) = secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        self.error.into_response()
    }
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Refused {
        Refused { error }
    }
}

/// Writes an audit entry; a failure to write is logged (the action itself already happened).
pub(crate) fn audit(
    store: &Store,
    who: &str,
    action: &str,
    ticket: Option<u64>,
    target: Option<String>,
    from: Option<ClientAddr>,
) {
    audit_via(store, who, action, ticket, target, from, "http");
}

/// [`audit`] of an action that came `via` another way (e.g. `cluster:a`: routed from node a).
pub(crate) fn audit_via(
    store: &Store,
    who: &str,
    action: &str,
    ticket: Option<u64>,
    target: Option<String>,
    from: Option<ClientAddr>,
    via: &str,
) {
    let entry = AuditEntry {
        at_ms: now_ms(),
        who: who.to_string(),
        action: action.to_string(),
        ticket,
        target,
        via: via.into(),
        from: from.map(|ClientAddr(ip)| ip.to_string()),
    };
    if let Err(e) = store.record_audit(&entry) {
        tracing::error!(error = %e, action, "the audit log could not be written");
    }
}

/// The wait left for `addr` after too many failed sign-ins.
fn blocked(state: &AppState, addr: ClientAddr) -> Option<std::time::Duration> {
    let gate = state
        .sign_in_failures
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    gate.refused(addr.0, Instant::now())
}

/// Counts a failed sign-in from `addr` and writes it to the audit log.
fn failed(state: &AppState, store: &Store, addr: ClientAddr, who: &str, target: &str) {
    state
        .sign_in_failures
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .record(addr.0, Instant::now());
    audit(
        store,
        who,
        "sign_in_failed",
        None,
        Some(target.into()),
        Some(addr),
    );
}

/// 429 (with `Retry-After`) when `addr` is past its failed sign-ins: checked before another
/// bearer credential (a bridge's token) is tried.
pub(crate) fn bearer_gate(state: &AppState, addr: ClientAddr) -> Result<(), ApiError> {
    let Some(wait) = blocked(state, addr) else {
        return Ok(());
    };
    Err(Refused::too_many(state, wait).error)
}

/// Counts a wrong bearer credential of another kind (`target`, e.g. a bridge's name) from
/// `addr` against its failed sign-ins, and writes it to the audit log.
pub(crate) async fn bearer_failed(state: &AppState, addr: ClientAddr, target: String) {
    let owned = state.clone();
    let counted = state
        .blocking(move |p| failed(&owned, p.store(), addr, "-", &target))
        .await;
    if let Err(e) = counted {
        tracing::error!(error = %e, "a failed bridge token could not be counted");
    }
}

/// What a credential resolved to.
enum Resolved {
    Off,
    /// The address is past its failed sign-ins: wait this long.
    Blocked(std::time::Duration),
    Nobody,
    Somebody(Principal),
}

/// The principal of a request for the `role` routes: 404 when they are off, 429 for an address
/// past its failed sign-ins, 403 for a cookie from another origin, 401 without a valid
/// credential for the role.
pub(crate) async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    addr: ClientAddr,
    role: Role,
) -> Result<Principal, Refused> {
    let credential = presented(headers, role);
    if let Presented::Cookies(_) = credential {
        if !same_origin(headers, method, state.settings.http.public_url.as_deref()) {
            return Err(Refused::foreign_origin(state));
        }
    }
    let owned = state.clone();
    let resolved = state
        .blocking(move |p| -> Result<Resolved, StoreError> {
            let store = p.store();
            if !routes_on(&owned, store, role)? {
                return Ok(Resolved::Off);
            }
            match credential {
                Presented::Nothing => Ok(Resolved::Nobody),
                Presented::Bearer(token) => {
                    if let Some(wait) = blocked(&owned, addr) {
                        return Ok(Resolved::Blocked(wait));
                    }
                    let found = principal_by_hash(&owned, store, &token_hash(&token))?;
                    if found.is_none() {
                        failed(&owned, store, addr, "-", "bearer");
                    }
                    Ok(found.map_or(Resolved::Nobody, Resolved::Somebody))
                }
                Presented::Cookies(values) => {
                    let mut first = None;
                    for value in values {
                        let Some(p) = session_principal(&owned, store, &value)? else {
                            continue;
                        };
                        if p.admitted(role, &owned.settings) {
                            return Ok(Resolved::Somebody(p));
                        }
                        first.get_or_insert(p);
                    }
                    Ok(first.map_or(Resolved::Nobody, Resolved::Somebody))
                }
            }
        })
        .await
        .map_err(ApiError::from)?
        .map_err(ApiError::from)?;
    match resolved {
        Resolved::Off => Err(Refused::off(role)),
        Resolved::Blocked(wait) => Err(Refused::too_many(state, wait)),
        Resolved::Somebody(p) if p.admitted(role, &state.settings) => Ok(p),
        _ => Err(Refused::unauthorized(state, role)),
    }
}

/// The principal of a live session (its account still holding the token it signed in with).
fn session_principal(
    state: &AppState,
    store: &Store,
    session_id: &str,
) -> Result<Option<Principal>, StoreError> {
    let Some(session) = store.session(session_id, now_ms())? else {
        return Ok(None);
    };
    Ok(principal_by_hash(state, store, &session.token_hash)?.filter(|p| p.name == session.account))
}

/// A token sign-in: the role it admits, the cookie it sets and the page it leads to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignIn {
    pub role: Role,
    pub cookie: &'static str,
    pub home: &'static str,
}

/// The sign-in form's body.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct SignInForm {
    pub token: String,
}

impl SignIn {
    /// `POST` of the sign-in form: a valid token starts a new server-side session (its random id
    /// in the cookie, HttpOnly, SameSite=Strict, `Secure` behind https) and goes home; any other
    /// gets the form `page` again with 401. A foreign origin: 403; too many failures: 429.
    pub(crate) async fn sign_in(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        addr: ClientAddr,
        token: &str,
        page: &str,
    ) -> Response {
        let http = &state.settings.http;
        if !same_origin(headers, &Method::POST, http.public_url.as_deref()) {
            return Refused::foreign_origin(state).page();
        }
        let (token, role, home) = (token.trim().to_string(), self.role, self.home);
        let ttl_ms = u64::from(http.session_hours) * 3_600_000;
        let owned = state.clone();
        let outcome = state
            .blocking(
                move |p| -> Result<Result<String, Option<Refused>>, StoreError> {
                    let store = p.store();
                    if !routes_on(&owned, store, role)? {
                        return Ok(Err(Some(Refused::off(role))));
                    }
                    if let Some(wait) = blocked(&owned, addr) {
                        return Ok(Err(Some(Refused::too_many(&owned, wait))));
                    }
                    match principal_by_hash(&owned, store, &token_hash(&token))? {
                        Some(p) if p.admitted(role, &owned.settings) => {
                            let id =
                                store.create_session(&p.name, &p.token_hash, now_ms(), ttl_ms)?;
                            audit(
                                store,
                                &p.name,
                                "sign_in",
                                None,
                                Some(home.into()),
                                Some(addr),
                            );
                            Ok(Ok(id))
                        }
                        Some(p) => {
                            audit(
                                store,
                                &p.name,
                                "sign_in_failed",
                                None,
                                Some(home.into()),
                                Some(addr),
                            );
                            Ok(Err(None))
                        }
                        None => {
                            failed(&owned, store, addr, "-", home);
                            Ok(Err(None))
                        }
                    }
                },
            )
            .await;
        match outcome {
            Ok(Ok(Ok(session))) => {
                let secure = http
                    .public_url
                    .as_deref()
                    .is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https"));
                let cookie = format!(
                    "{}={session}; HttpOnly; SameSite=Strict; Path=/{}",
                    self.cookie,
                    if secure { "; Secure" } else { "" }
                );
                ([(header::SET_COOKIE, cookie)], Redirect::to(self.home)).into_response()
            }
            Ok(Ok(Err(None))) => {
                state.metrics.refused("auth", 401);
                (StatusCode::UNAUTHORIZED, Html(page.to_string())).into_response()
            }
            Ok(Ok(Err(Some(refused)))) => refused.page(),
            Ok(Err(e)) => Refused::from(ApiError::from(e)).page(),
            Err(e) => Refused::from(ApiError::from(e)).page(),
        }
    }

    /// Ends the session at once (its cookie is then refused) and goes home.
    pub(crate) async fn sign_out(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        addr: ClientAddr,
    ) -> Response {
        if !same_origin(
            headers,
            &Method::POST,
            state.settings.http.public_url.as_deref(),
        ) {
            return Refused::foreign_origin(state).page();
        }
        if let Some(id) = cookie(headers, self.cookie).filter(|v| !v.is_empty()) {
            let home = self.home;
            let ended = state
                .blocking(move |p| -> Result<(), StoreError> {
                    if let Some(session) = p.store().end_session(&id)? {
                        audit(
                            p.store(),
                            &session.account,
                            "sign_out",
                            None,
                            Some(home.into()),
                            Some(addr),
                        );
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = ended
                .map_err(ApiError::from)
                .and_then(|r| r.map_err(ApiError::from))
            {
                return Refused::from(e).page();
            }
        }
        let cookie = format!(
            "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
            self.cookie
        );
        ([(header::SET_COOKIE, cookie)], Redirect::to(self.home)).into_response()
    }
}

/// An extractor that admits only agents and admins (by token or session cookie), giving their
/// [`Principal`]. As a request-parts extractor it runs before any body is read, so anonymous
/// requests get 401 even when their body is malformed.
pub(crate) struct AgentAuth(pub Principal);

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let addr = ClientAddr::from_request_parts(parts, state)
            .await
            .unwrap_or(ClientAddr(std::net::Ipv4Addr::UNSPECIFIED.into()));
        authorize(state, &parts.headers, &parts.method, addr, Role::Agent)
            .await
            .map(AgentAuth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::http::test_headers::{headers, Pairs};

    #[test]
    fn credentials_from_bearer_or_cookies() {
        let cookies = |v: &[&str]| Presented::Cookies(v.iter().map(|s| s.to_string()).collect());
        let table: &[(Pairs<'_>, Role, Presented)] = &[
            (&[], Role::Agent, Presented::Nothing),
            (
                &[("cookie", "a=1; pb_agent=abc; b=2")],
                Role::Agent,
                cookies(&["abc"]),
            ),
            (
                &[("cookie", "pb_owner=o; pb_agent=a")],
                Role::Agent,
                cookies(&["a", "o"]),
            ),
            (
                &[("cookie", "pb_owner=o; pb_agent=a")],
                Role::Owner,
                cookies(&["o", "a"]),
            ),
            (&[("cookie", "pb_agent=")], Role::Agent, Presented::Nothing),
            (
                &[("authorization", "Bearer tok"), ("cookie", "pb_agent=a")],
                Role::Agent,
                Presented::Bearer("tok".into()),
            ),
            (
                &[("authorization", "Basic abc")],
                Role::Agent,
                Presented::Nothing,
            ),
        ];
        for (pairs, role, want) in table {
            assert_eq!(&presented(&headers(pairs), *role), want, "{pairs:?}");
        }
    }

    #[test]
    fn team_scopes() {
        let p = |role, teams: &[&str]| Principal {
            name: "x".into(),
            role,
            teams: teams.iter().map(|t| t.to_string()).collect(),
            bootstrap: false,
            token_hash: String::new(),
        };
        assert!(p(AccountRole::Agent, &[]).sees_team("security"));
        assert!(p(AccountRole::Agent, &["billing"]).sees_team("billing"));
        assert!(!p(AccountRole::Agent, &["billing"]).sees_team("security"));
        assert!(p(AccountRole::Admin, &["billing"]).sees_team("security"));
    }
}
