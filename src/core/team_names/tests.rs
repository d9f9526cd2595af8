//! Which team a message asks for, as a table; and the aliases the settings may not have.

use super::*;

fn team(name: &str, aliases: &[&str]) -> Team {
    Team {
        name: name.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        ..Team::default()
    }
}

/// Teams shaped like the shipped ones.
fn teams() -> BTreeMap<String, Team> {
    BTreeMap::from([
        ("sales".to_string(), team("Sales", &[])),
        (
            "billing".to_string(),
            team("Billing", &["finance", "accounts payable"]),
        ),
        (
            "support".to_string(),
            team("Support", &["customer support", "helpdesk"]),
        ),
        (
            "security".to_string(),
            team("Security", &["compliance", "infosec"]),
        ),
        (
            "people".to_string(),
            team("People", &["hr", "human resources"]),
        ),
        ("investors".to_string(), team("Investor Relations", &["ir"])),
        (
            "press".to_string(),
            team("Communications", &["media", "pr", "comms"]),
        ),
    ])
}

#[test]
fn the_team_a_message_asks_for() {
    let names = TeamNames::compile(&teams());
    let cases: &[(&str, Option<&str>)] = &[
        // Asked for, by id, name or alias, in every frame.
        (
            "I don't want a bot, connect me to someone from sales",
            Some("sales"),
        ),
        ("connect me to someone from billing", Some("billing")),
        ("connect me to someone from security", Some("security")),
        ("connect me to the press team", Some("press")),
        ("can I talk to your sales team?", Some("sales")),
        ("your security people please", Some("security")),
        ("sales please", Some("sales")),
        ("I need a human. Sales, please!", Some("sales")),
        ("a human, billing please", Some("billing")),
        ("Sales", Some("sales")),
        ("transfer me to billing", Some("billing")),
        ("put me through to the billing department", Some("billing")),
        (
            "speak with someone in security about our audit",
            Some("security"),
        ),
        ("is there anybody at finance who can help", Some("billing")),
        ("I want a sales rep", Some("sales")),
        ("can a security engineer look at this", Some("security")),
        ("get me your communications people", Some("press")),
        ("someone from investor relations please", Some("investors")),
        ("someone from customer support", Some("support")),
        ("forward me to HR", Some("people")),
        ("the people team", Some("people")),
        ("connect me to the comms team, not sales", Some("press")),
        ("Connect me to SALES about our contract", Some("sales")),
        ("connect me to sales-team", Some("sales")),
        (
            "Verbinde mich mit jemandem aus dem Sales Team",
            Some("sales"),
        ),
        // Named, but not asked for.
        ("sales tax on my invoice", None),
        ("I need a human about sales tax on my invoice", None),
        ("question related to sales tax", None),
        ("how to press enter in the editor", None),
        ("I need to press the button twice", None),
        ("our security team needs your SOC 2 report", None),
        ("my sales people can't log in", None),
        ("I'm on the sales team at Acme and need a human", None),
        ("I work in sales", None),
        ("I'm Anna from sales at Acme", None),
        ("we want to support SSO for everyone", None),
        ("I want to talk to people, not a bot", None),
        ("talk to people", None),
        ("billing", Some("billing")),
        ("a question about billing", None),
        ("my billing address changed", None),
        ("the billing is wrong", None),
        ("someone from the team", None),
        ("", None),
    ];
    for (message, want) in cases {
        assert_eq!(names.requested(message), *want, "{message:?}");
    }
}

#[test]
fn no_teams_name_nothing() {
    let names = TeamNames::compile(&BTreeMap::new());
    assert_eq!(names.requested("connect me to sales"), None);
}

#[test]
fn a_name_two_teams_share_names_neither() {
    let mut t = teams();
    t.insert("success".into(), team("Customer Success", &["finance"]));
    let names = TeamNames::compile(&t);
    assert_eq!(names.requested("connect me to finance"), None);
    assert_eq!(
        names.requested("connect me to accounts payable"),
        Some("billing")
    );
    assert_eq!(
        names.requested("the customer success team"),
        Some("success")
    );
}

#[test]
fn longest_name_wins() {
    let mut t = teams();
    t.insert("success".into(), team("Customer Success", &[]));
    t.insert("customer".into(), team("Customers", &[]));
    let names = TeamNames::compile(&t);
    assert_eq!(
        names.requested("someone from customer success"),
        Some("success")
    );
    assert_eq!(
        names.requested("someone from customer support"),
        Some("support")
    );
}

#[test]
fn alias_problems_table() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("billing", &["finance"], &[]),
        (
            "billing",
            &["!!!"],
            &["billing#0: alias \"!!!\" has no words to match"],
        ),
        (
            "billing",
            &["Sales"],
            &["billing#0: alias \"Sales\" also names team `sales`"],
        ),
        (
            "billing",
            &["x", "communications"],
            &["billing#1: alias \"communications\" also names team `press`"],
        ),
        ("billing", &["billing"], &[]),
    ];
    for (id, aliases, want) in cases {
        let mut t = teams();
        t.insert(id.to_string(), team("Billing", aliases));
        let got: Vec<String> = alias_problems(&t)
            .iter()
            .map(|p| format!("{}#{}: {}", p.team, p.index, p.problem))
            .collect();
        assert_eq!(got.len(), want.len(), "{aliases:?}: {got:?}");
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(g.starts_with(w), "{aliases:?}: got {g}, want {w}");
        }
    }
}
