//! The settings: loading from defaults, file and environment, and what each refuses.
use super::*;

#[test]
fn bridges_are_declared_by_a_long_token_under_a_free_name() {
    let long = "b".repeat(MIN_TOKEN_CHARS);
    let s = Settings::load_with_env(
        None,
        env(&[("PERSONABOT__BRIDGES__INTERCOM__TOKEN", long.as_str())]),
    )
    .unwrap();
    assert_eq!(s.bridges["intercom"].token.as_deref(), Some(long.as_str()));
    assert!(
        !format!("{s:?}").contains(&long),
        "the token never reaches Debug output"
    );
    let table = [
        (
            "PERSONABOT__BRIDGES__INTERCOM__TOKEN",
            "short",
            "shorter than 20",
        ),
        (
            "PERSONABOT__BRIDGES__SLACK__TOKEN",
            long.as_str(),
            "built-in channel",
        ),
        (
            "PERSONABOT__BRIDGES__WEB__TOKEN",
            long.as_str(),
            "built-in channel",
        ),
        ("PERSONABOT__BRIDGES__INTERCOM__TOKEN", "", "needs a token"),
    ];
    for (key, value, needle) in table {
        let e = Settings::load_with_env(None, env(&[(key, value)]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(needle) && e.contains("bridges."),
            "{key}={value}: {e}"
        );
    }
}

#[test]
fn shard_ranges_parse_or_say_why_not() {
    let ok = |first, last, total| Ok(ShardRange { first, last, total });
    let table = [
        ("0-3/8", ok(0, 3, 8)),
        (" 4-7 / 8 ", ok(4, 7, 8)),
        ("2/4", ok(2, 2, 4)),
        ("0-0/1", ok(0, 0, 1)),
    ];
    for (text, want) in table {
        assert_eq!(ShardRange::parse(text), want, "{text}");
    }
    for bad in ["", "0-3", "3-1/8", "0-8/8", "a-b/c", "-1/4"] {
        assert!(ShardRange::parse(bad).is_err(), "{bad}");
    }
    let e = Settings::load_with_env(None, env(&[("PERSONABOT__DISCORD__SHARDS", "5-9/8")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("discord.shards"), "{e}");
}

fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn defaults_have_the_seven_teams() {
    let s = Settings::load_with_env(None, env(&[])).unwrap();
    let teams: Vec<&str> = s.teams.keys().map(String::as_str).collect();
    assert_eq!(
        teams,
        [
            "billing",
            "investors",
            "people",
            "press",
            "sales",
            "security",
            "support"
        ]
    );
    assert_eq!(s.classify.intent_threshold, 0.5);
}

#[test]
fn environment_overrides_file_and_defaults() {
    let s = Settings::load_with_env(
        None,
        env(&[
            ("PERSONABOT__CLASSIFY__MARGIN", "0.3"),
            ("PERSONABOT__TEAMS__SALES__RESPONSE_TIME", "within 2 hours"),
            ("PERSONABOT__PRIVACY__USER_HASH_KEY", "s3cret"),
        ]),
    )
    .unwrap();
    assert_eq!(s.classify.margin, 0.3);
    assert_eq!(s.teams["sales"].response_time, "within 2 hours");
    assert_eq!(s.privacy.user_hash_key.as_deref(), Some("s3cret"));
    assert!(
        !format!("{s:?}").contains("s3cret"),
        "secrets never reach Debug output"
    );
}

#[test]
fn server_limits_from_the_environment_or_refused() {
    let d = Settings::built_in();
    assert_eq!(
        (
            d.http.header_timeout_secs,
            d.http.request_timeout_secs,
            d.http.max_connections
        ),
        (10, 30, 512)
    );
    assert_eq!(
        (d.limits.address_requests, d.limits.address_window_secs),
        (300, 60)
    );
    assert!(d.http.trusted_proxies.is_empty() && d.http.frame_ancestors.is_empty());
    let s = Settings::load_with_env(
        None,
        env(&[
            (
                "PERSONABOT__HTTP__TRUSTED_PROXIES",
                "127.0.0.1, 10.0.0.0/8,",
            ),
            (
                "PERSONABOT__HTTP__FRAME_ANCESTORS",
                "https://www.example.com",
            ),
            ("PERSONABOT__HTTP__HEADER_TIMEOUT_SECS", "2"),
        ]),
    )
    .unwrap();
    let proxies: Vec<String> = s
        .http
        .trusted_proxies
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(proxies, ["127.0.0.1/32", "10.0.0.0/8"]);
    assert_eq!(s.http.frame_ancestors, ["https://www.example.com"]);
    assert_eq!(s.http.header_timeout_secs, 2);
    let cleared = Settings::load_with_env(None, env(&[("PERSONABOT__HTTP__TRUSTED_PROXIES", "")]));
    assert!(cleared.unwrap().http.trusted_proxies.is_empty());
    for (key, value, says) in [
        (
            "PERSONABOT__HTTP__HEADER_TIMEOUT_SECS",
            "11",
            "http.header_timeout_secs",
        ),
        (
            "PERSONABOT__HTTP__HEADER_TIMEOUT_SECS",
            "0",
            "http.header_timeout_secs",
        ),
        (
            "PERSONABOT__HTTP__MAX_CONNECTIONS",
            "0",
            "http.max_connections",
        ),
        (
            "PERSONABOT__HTTP__REQUEST_TIMEOUT_SECS",
            "0",
            "http.request_timeout_secs",
        ),
        (
            "PERSONABOT__LIMITS__ADDRESS_REQUESTS",
            "0",
            "limits.address_requests",
        ),
        (
            "PERSONABOT__HTTP__TRUSTED_PROXIES",
            "proxy.local",
            "not an IP address",
        ),
        ("PERSONABOT__HTTP__FRAME_ANCESTORS", "*", "not an origin"),
    ] {
        let e = Settings::load_with_env(None, env(&[(key, value)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{key}={value}: {e}");
    }
}

#[test]
fn discord_settings_from_the_environment() {
    let s = Settings::load_with_env(
        None,
        env(&[
            ("PERSONABOT__DISCORD__GUILD_ID", "3001"),
            ("PERSONABOT__DISCORD__SUPPORT_CHANNELS", "2001,2002"),
            ("PERSONABOT__DISCORD__DMS", "false"),
            ("PERSONABOT__DISCORD__API_BASE", "http://127.0.0.1:9"),
            ("PERSONABOT__TEAMS__SALES__DISCORD_CHANNEL", "4001"),
            ("PERSONABOT__TEAMS__SALES__DISCORD_ROLE", "5001"),
            ("PERSONABOT__TEAMS__SALES__HOURS", "Mon-Fri 09:00-17:00"),
            ("PERSONABOT__TEAMS__SALES__TIMEZONE", "Europe/Berlin"),
            ("DISCORD_TOKEN", "tok-123"),
        ]),
    )
    .unwrap();
    assert_eq!(s.discord.guild_id, Some(3001));
    assert_eq!(s.discord.support_channels, vec![2001, 2002]);
    assert!(!s.discord.dms);
    assert_eq!(s.discord.api_base.as_deref(), Some("http://127.0.0.1:9"));
    assert_eq!(s.discord.token.as_deref(), Some("tok-123"));
    assert!(
        !format!("{s:?}").contains("tok-123"),
        "the token never reaches Debug output"
    );
    let sales = &s.teams["sales"];
    assert_eq!(
        (sales.discord_channel, sales.discord_role),
        (Some(4001), Some(5001))
    );
    assert_eq!(sales.timezone, "Europe/Berlin");
    // The PERSONABOT__ name wins over DISCORD_TOKEN.
    let s = Settings::load_with_env(
        None,
        env(&[("PERSONABOT__DISCORD__TOKEN", "a"), ("DISCORD_TOKEN", "b")]),
    )
    .unwrap();
    assert_eq!(s.discord.token.as_deref(), Some("a"));
}

#[test]
fn http_settings_checked_at_start() {
    let long = "a-token-of-twenty-chars";
    type Env<'a> = &'a [(&'a str, &'a str)];
    let table: &[(Env<'_>, Option<&str>)] = &[
        (&[("PERSONABOT__HTTP__AGENT_TOKEN", long)], None),
        (&[("PERSONABOT__HTTP__OWNER_TOKEN", long)], None),
        (
            &[("PERSONABOT__HTTP__AGENT_TOKEN", "short-token")],
            Some("PERSONABOT__HTTP__AGENT_TOKEN needs at least 20 characters"),
        ),
        (
            &[("PERSONABOT__HTTP__OWNER_TOKEN", "x")],
            Some("PERSONABOT__HTTP__OWNER_TOKEN needs at least 20 characters"),
        ),
        (
            &[("PERSONABOT__HTTP__SESSION_HOURS", "0")],
            Some("session_hours"),
        ),
        (
            &[("PERSONABOT__HTTP__PUBLIC_URL", "support.example.com")],
            Some("http.public_url"),
        ),
        (
            &[(
                "PERSONABOT__HTTP__PUBLIC_URL",
                "https://support.example.com",
            )],
            None,
        ),
    ];
    for (pairs, want) in table {
        let got = Settings::load_with_env(None, env(pairs)).map_err(|e| e.to_string());
        match want {
            None => assert!(got.is_ok(), "{pairs:?}: {got:?}"),
            Some(needle) => {
                let e = got.expect_err("refused");
                assert!(e.contains(needle), "{pairs:?}: {e}");
                assert!(!e.contains("short-token"), "the token is never shown: {e}");
            }
        }
    }
    let s = Settings::built_in();
    assert_eq!((s.http.session_hours, s.http.public_url), (12, None));
}

#[test]
fn file_errors_table() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "[privacy]\nuser_hash_key = \"x\"\n",
            "only through the environment",
        ),
        ("[classify]\nmargin = 2.0\n", "classify.margin"),
        ("[classify]\nmargn = 0.2\n", "margn"),
        ("[teams.Sales]\nname = \"S\"\n", "invalid team id `Sales`"),
        ("[discord]\ntoken = \"x\"\n", "PERSONABOT__DISCORD__TOKEN"),
        (
            "[teams.sales]\nhours = \"Mon-Fri 9-5\"\n",
            "teams.sales.hours",
        ),
        (
            "[teams.sales]\ntimezone = \"Mars/Olympus\"\n",
            "teams.sales.hours",
        ),
        (
            "[discord]\nsupport_channels = [\"abc\"]\n",
            "not a numeric id",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("s{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let err = Settings::load_with_env(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "case {i}: {err}");
    }
}

#[test]
fn team_aliases_from_the_file_or_the_environment() {
    let built_in = Settings::built_in();
    assert!(built_in.teams["billing"]
        .aliases
        .contains(&"finance".to_string()));
    // From the environment: one comma-separated string.
    let s = Settings::load_with_env(
        None,
        env(&[("PERSONABOT__TEAMS__SALES__ALIASES", "deals desk, quotes")]),
    )
    .unwrap();
    assert_eq!(s.teams["sales"].aliases, ["deals desk", "quotes"]);
    // From a file: the list replaces the built-in one.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, "[teams.billing]\naliases = [\"money people\"]\n").unwrap();
    let s = Settings::load_with_env(Some(&path), env(&[])).unwrap();
    assert_eq!(s.teams["billing"].aliases, ["money people"]);
    // A name may belong to one team only, wherever it comes from.
    let e = Settings::load_with_env(
        None,
        env(&[("PERSONABOT__TEAMS__BILLING__ALIASES", "sales")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("teams.billing.aliases") && e.contains("also names team `sales`"),
        "{e}"
    );
    std::fs::write(&path, "[teams.billing]\naliases = [\"press\", 3]\n").unwrap();
    let e = Settings::load_with_env(Some(&path), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("s.toml:2:12: `teams.billing.aliases`: alias \"press\" also names team `press`"),
        "{e}"
    );
    assert!(
        e.contains("s.toml:2:21: `teams.billing.aliases[1]` must be a string, found an integer"),
        "{e}"
    );
}
