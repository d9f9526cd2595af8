//! The persona owners' pages: `/review` (the review report as a page, behind a login with the
//! owner token, or the agent token when no owner token is set) and `GET /v1/review` (the same
//! report as JSON, for tools).

use std::sync::LazyLock;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;

use crate::engine::AppState;
use crate::http::auth::authorize;
use crate::http::brand::render;
use crate::http::client::ClientAddr;
use crate::http::{ApiError, Role, SignIn, SignInForm, OWNER_COOKIE};
use crate::owner::review::{self, HtmlTarget, ReviewOptions};

/// The agent sign-in page, worded for persona owners and posting to `/review/login`.
static LOGIN_PAGE: LazyLock<String> =
    LazyLock::new(|| owner_login(include_str!("pages/login.html")));

/// The parts of the agent sign-in page that differ for owners.
const LOGIN_WORDING: [(&str, &str); 5] = [
    ("Agent sign in", "Persona owner sign in"),
    ("agent queue", "persona review"),
    ("/agent/login", "/review/login"),
    ("Agent token", "Owner token"),
    (
        "Ask your administrator for your token (<code>personabot agents add</code> makes one).",
        "Ask your administrator for your owner token (<code>personabot agents add NAME --role \
         owner</code> makes one; the agent token works while no owner token is set).",
    ),
];

fn owner_login(agent_page: &str) -> String {
    LOGIN_WORDING
        .iter()
        .fold(agent_page.to_string(), |page, (from, to)| {
            page.replace(from, to)
        })
}

/// The review page with the product's name in its title (the report itself says
/// "personabot").
fn branded_review(html: &str, name: &str) -> String {
    html.replacen(
        " · personabot</title>",
        &format!(
            " · {} support</title>",
            crate::owner::review::escape_html(name)
        ),
        1,
    )
}

/// `?since=30d&persona=ID`; empty values mean "not set".
#[derive(Debug, Default, Deserialize)]
struct ReviewQuery {
    since: Option<String>,
    persona: Option<String>,
}

impl ReviewQuery {
    fn since(&self) -> Option<&str> {
        self.since
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    fn persona(&self) -> Option<&str> {
        self.persona
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// Builds the review the query asks for.
async fn build(state: &AppState, query: &ReviewQuery) -> Result<review::Review, ApiError> {
    let now = crate::store::now_ms();
    let options = ReviewOptions {
        since_ms: query
            .since()
            .map(|s| review::since_cutoff(s, now))
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        persona: query.persona().map(str::to_string),
        now_ms: now,
        ..Default::default()
    };
    let catalog = state.pipeline.catalog().clone();
    state
        .blocking(move |p| review::from_store(p.store(), &catalog, &options))
        .await?
        .map_err(|e| match e {
            review::ReviewError::Store(inner) => ApiError::from(inner),
            other => ApiError::bad_request(other.to_string()),
        })
}

async fn page(
    State(state): State<AppState>,
    addr: ClientAddr,
    method: Method,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Response {
    match authorize(&state, &headers, &method, addr, Role::Owner).await {
        Ok(_) => {}
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => {
            let page = render(&LOGIN_PAGE, &state.settings.brand);
            return (StatusCode::UNAUTHORIZED, Html(page)).into_response();
        }
        Err(e) => return e.page(),
    }
    match build(&state, &query).await {
        Ok(report) => {
            let target = HtmlTarget {
                served: true,
                since: query.since().map(str::to_string),
                personas: state
                    .pipeline
                    .catalog()
                    .personas
                    .iter()
                    .map(|p| p.id.clone())
                    .collect(),
            };
            let html = review::render_html(&report, &target);
            Html(branded_review(&html, &state.settings.brand.name)).into_response()
        }
        Err(e) => message_page(e),
    }
}

/// An error as a small page (the report is read in a browser).
fn message_page(e: ApiError) -> Response {
    (
        e.status,
        Html(format!(
            "<!doctype html><meta charset=\"utf-8\"><title>personabot review</title><p>{}</p>\
             <p><a href=\"/review\">Back to the review</a></p>",
            crate::owner::review::escape_html(&e.message)
        )),
    )
        .into_response()
}

async fn json(
    State(state): State<AppState>,
    addr: ClientAddr,
    method: Method,
    headers: HeaderMap,
    Query(query): Query<ReviewQuery>,
) -> Response {
    if let Err(refused) = authorize(&state, &headers, &method, addr, Role::Owner).await {
        return refused.into_response();
    }
    match build(&state, &query).await {
        Ok(review) => Json(review).into_response(),
        Err(e) => e.into_response(),
    }
}

const SIGN_IN: SignIn = SignIn {
    role: Role::Owner,
    cookie: OWNER_COOKIE,
    home: "/review",
};

async fn login(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let page = render(&LOGIN_PAGE, &state.settings.brand);
    SIGN_IN
        .sign_in(&state, &headers, addr, &form.token, &page)
        .await
}

async fn logout(State(state): State<AppState>, addr: ClientAddr, headers: HeaderMap) -> Response {
    SIGN_IN.sign_out(&state, &headers, addr).await
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/review", get(page))
        .route("/review/login", post(login))
        .route("/review/logout", post(logout))
        .route("/v1/review", get(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_login_rewords_every_part_of_the_agent_page() {
        let agent = include_str!("pages/login.html");
        for (from, to) in LOGIN_WORDING {
            assert!(agent.contains(from), "the agent page says {from:?}");
            assert!(LOGIN_PAGE.contains(to), "the owner page says {to:?}");
        }
        assert!(!LOGIN_PAGE.contains("/agent/login"));
    }

    #[test]
    fn the_review_title_names_the_product() {
        let page = "<html><head><title>Persona review · personabot</title></head></html>";
        assert_eq!(
            branded_review(page, "Acme & Co"),
            "<html><head><title>Persona review · Acme &amp; Co support</title></head></html>"
        );
    }
}
