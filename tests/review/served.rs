//! `/review` and `/v1/review` on a real server: the owner token, its fallback to the agent
//! token, the login cookie, and the report itself.

use std::collections::HashMap;
use std::sync::Arc;

use personabot::app::app;
use personabot::catalog::settings::Settings;
use personabot::engine::AppState;
use personabot::store::Store;
use reqwest::StatusCode;

const OWNER: &str = "owner-secret-7-long-enough";
const AGENT: &str = "agent-secret-7-long-enough";

struct Server {
    base: String,
    client: reqwest::Client,
    evidence: super::Evidence,
    _dir: tempfile::TempDir,
}

async fn start(env: &[(&str, &str)]) -> Server {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let settings = Settings::load_with_env(None, Some(env)).expect("settings");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let evidence = tokio::task::spawn_blocking({
        let data = data.clone();
        move || super::build_evidence(&data)
    })
    .await
    .unwrap();
    assert!(evidence.total > 0);
    let store = Store::open(&data, Some(super::KEY)).unwrap();
    let pipeline = Arc::new(super::support::pipeline_on(store));
    let state = AppState::new(pipeline, Arc::new(settings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        base,
        evidence,
        client: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _dir: dir,
    }
}

impl Server {
    /// Signs in with the form at `page`; returns the session cookie's value.
    async fn sign_in(&self, page: &str, token: &str) -> String {
        let set_cookie =
            super::support::served::sign_in(&self.client, &self.base, page, token).await;
        let pair = set_cookie.split(';').next().unwrap();
        pair.split_once('=').unwrap().1.to_string()
    }

    async fn get(&self, path: &str, auth: Option<(&str, &str)>) -> (StatusCode, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        match auth {
            Some(("bearer", token)) => request = request.bearer_auth(token),
            Some((cookie, value)) => {
                request = request.header("cookie", format!("{cookie}={value}"))
            }
            None => {}
        }
        let r = request.send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_token_guards_the_review_and_the_agent_token_does_not() {
    let s = start(&[
        ("PERSONABOT__HTTP__OWNER_TOKEN", OWNER),
        ("PERSONABOT__HTTP__AGENT_TOKEN", AGENT),
    ])
    .await;
    let (status, body) = s.get("/review", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Persona owner sign in"), "the login page");
    assert_eq!(s.get("/v1/review", None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.get("/v1/review", Some(("bearer", AGENT))).await.0,
        StatusCode::UNAUTHORIZED,
        "an owner token is set: the agent token does not open the review"
    );
    let agent_cookie = s.sign_in("/agent", AGENT).await;
    assert_eq!(
        s.get("/review", Some(("pb_agent", &agent_cookie))).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, body) = s.get("/v1/review?since=30d", Some(("bearer", OWNER))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(json["messages"].as_u64().unwrap() > 0);
    assert!(json["since_ms"].as_u64().is_some());

    // Sign in with the form: the cookie opens the page.
    let r = s
        .client
        .post(format!("{}/review/login", s.base))
        .form(&[("token", OWNER)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set_cookie.starts_with("pb_owner="), "{set_cookie}");
    assert!(!set_cookie.contains(OWNER), "the cookie is not the token");
    let value = set_cookie
        .trim_start_matches("pb_owner=")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (status, page) = s.get("/review", Some(("pb_owner", &value))).await;
    assert_eq!(status, StatusCode::OK);
    for id in ["volume-chart", "resolution-chart", "relabel-intent-chart"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(page.contains("action=\"/review\""), "the filter form");
    assert!(!page.contains("<script>alert"), "customer text is escaped");

    let (status, page) = s
        .get("/review?persona=job-seeker", Some(("pb_owner", &value)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<option value=\"job-seeker\" selected>"));
    // The summary counts the persona's messages, not every message in the window.
    let summary = format!(
        "<p class=\"sub\" id=\"summary\">{} message(s) of persona job-seeker ({} in the \
         window),",
        s.evidence.expected["job-seeker"].messages, s.evidence.total
    );
    assert!(page.contains(&summary), "{summary}");
    assert!(s.evidence.expected["job-seeker"].messages < s.evidence.total);
    let (_, json) = s
        .get("/v1/review?persona=job-seeker", Some(("bearer", OWNER)))
        .await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["selected_messages"],
        s.evidence.expected["job-seeker"].messages
    );
    assert_eq!(json["messages"], s.evidence.total);

    let (status, body) = s
        .get("/v1/review?since=soon", Some(("bearer", OWNER)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid --since `soon`"), "{body}");
    let (status, body) = s
        .get("/v1/review?persona=astronaut", Some(("bearer", OWNER)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("unknown persona"), "{body}");

    let r = s
        .client
        .post(format!("{}/review/login", s.base))
        .form(&[("token", AGENT)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a wrong token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_owner_token_the_agent_token_opens_the_review() {
    let s = start(&[("PERSONABOT__HTTP__AGENT_TOKEN", AGENT)]).await;
    assert_eq!(
        s.get("/v1/review", Some(("bearer", AGENT))).await.0,
        StatusCode::OK
    );
    let agent_cookie = s.sign_in("/agent", AGENT).await;
    let (status, page) = s.get("/review", Some(("pb_agent", &agent_cookie))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an agent signed in at /agent may read it"
    );
    assert!(page.contains("Persona review"));
    assert_eq!(
        s.get("/v1/review", Some(("bearer", "nope"))).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_token_the_review_is_off() {
    let s = start(&[]).await;
    let (status, body) = s.get("/review", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("PERSONABOT__HTTP__OWNER_TOKEN"), "{body}");
    assert_eq!(s.get("/v1/review", None).await.0, StatusCode::NOT_FOUND);
}
