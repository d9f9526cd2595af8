//! The conversation table: each case is a list of steps and what each must produce.

/// One customer action.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Act {
    Say(&'static str),
    /// The "That helped" button.
    Helped,
    /// The "Talk to a human" button.
    Human,
}

/// What one step must produce. Unset parts are not checked.
#[derive(Debug, Default, Clone)]
pub(crate) struct Expect {
    pub(crate) kind: &'static str,
    /// `Some("")` means no team.
    pub(crate) team: Option<&'static str>,
    /// `Some("")` means no answer variant.
    pub(crate) answer: Option<&'static str>,
    /// `Some("")` means no persona.
    pub(crate) persona: Option<&'static str>,
    /// `Some("")` means no intent.
    pub(crate) intent: Option<&'static str>,
    pub(crate) choices: Option<Vec<&'static str>>,
    /// Texts the reply contains, in this order.
    pub(crate) says: Vec<&'static str>,
    pub(crate) reason_has: Option<&'static str>,
    /// A new ticket is opened by this step (the ticket's team is `team`).
    pub(crate) opens_ticket: bool,
    /// After this step, the interaction stored by step `.0` has feedback `helped == .1`.
    pub(crate) feedback_on: Option<(usize, bool)>,
    /// The ticket opened here is about this intent and points at the interaction of step `.1`.
    pub(crate) ticket_about: Option<(&'static str, usize)>,
}

fn expect(kind: &'static str) -> Expect {
    Expect {
        kind,
        ..Expect::default()
    }
}

impl Expect {
    fn team(mut self, t: &'static str) -> Self {
        self.team = Some(t);
        self
    }
    fn answer(mut self, a: &'static str) -> Self {
        self.answer = Some(a);
        self
    }
    fn persona(mut self, p: &'static str) -> Self {
        self.persona = Some(p);
        self
    }
    fn intent(mut self, i: &'static str) -> Self {
        self.intent = Some(i);
        self
    }
    fn choices(mut self, c: &[&'static str]) -> Self {
        self.choices = Some(c.to_vec());
        self
    }
    fn says(mut self, s: &'static str) -> Self {
        self.says.push(s);
        self
    }
    fn reason_has(mut self, r: &'static str) -> Self {
        self.reason_has = Some(r);
        self
    }
    fn opens_ticket(mut self) -> Self {
        self.opens_ticket = true;
        self
    }
    fn feedback_on(mut self, step: usize, helped: bool) -> Self {
        self.feedback_on = Some((step, helped));
        self
    }
    fn ticket_about(mut self, intent: &'static str, step: usize) -> Self {
        self.ticket_about = Some((intent, step));
        self
    }
}

pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) steps: Vec<(Act, Expect)>,
}

fn case(name: &'static str, steps: Vec<(Act, Expect)>) -> Case {
    Case { name, steps }
}

const HANDOFF_SALES: &str = "I've passed this to our Sales team (ticket #";
const HANDOFF_BILLING: &str = "I've passed this to our Billing team (ticket #";
const HANDOFF_SECURITY: &str = "I've passed this to our Security team (ticket #";
const HANDOFF_SUPPORT: &str = "I've passed this to our Support team (ticket #";
const REPHRASE: &str = "Sorry, I didn't quite get that";

pub(crate) fn cases() -> Vec<Case> {
    use Act::{Helped, Human, Say};
    vec![
        case(
            "sticky persona: the founder's pricing question gets the founder's answer",
            vec![
                (
                    Say("I'm the founder of a 5-person startup"),
                    expect("fallback").persona("startup-founder").intent("").says("What can I help you with today?"),
                ),
                (
                    Say("how much is it?"),
                    expect("answer")
                        .persona("startup-founder")
                        .intent("pricing")
                        .answer("pricing/startup-founder")
                        .team("")
                        .says("startup program"),
                ),
            ],
        ),
        case(
            "without a persona the same question gets the default pricing answer",
            vec![(
                Say("how much is it?"),
                expect("answer").persona("").intent("pricing").answer("pricing/default").says("Hearth has four plans"),
            )],
        ),
        case(
            "enterprise pricing goes to sales with the enterprise text first",
            vec![(
                Say("We need a quote for the Enterprise plan for our organisation; procurement needs it before the RFP deadline"),
                expect("ticket")
                    .persona("enterprise-it-buyer")
                    .intent("pricing")
                    .team("sales")
                    .answer("pricing/enterprise-it-buyer")
                    .says("Enterprise is quoted per organisation")
                    .says(HANDOFF_SALES)
                    .opens_ticket()
                    .ticket_about("pricing", 0),
            )],
        ),
        case(
            "refund: the policy is shown before the handoff to billing",
            vec![(
                Say("I'd like a refund please"),
                expect("ticket")
                    .intent("refund")
                    .team("billing")
                    .answer("refund/default")
                    .says("Our refund policy:")
                    .says("Duplicate charges are always refunded")
                    .says(HANDOFF_BILLING)
                    .opens_ticket()
                    .ticket_about("refund", 0),
            )],
        ),
        case(
            "security question from an enterprise buyer goes to security",
            vec![
                (
                    Say("I'm the Head of IT at a bank with thousands of employees, we are evaluating vendors"),
                    expect("fallback").persona("enterprise-it-buyer"),
                ),
                (
                    Say("can you send the SOC 2 Type II report?"),
                    expect("ticket")
                        .persona("enterprise-it-buyer")
                        .intent("security-compliance")
                        .team("security")
                        .answer("security-compliance/enterprise-it-buyer")
                        .says("I've passed this to our security team")
                        .says(HANDOFF_SECURITY)
                        .opens_ticket()
                        .ticket_about("security-compliance", 1),
                ),
            ],
        ),
        case(
            "security question in one enterprise message goes to security",
            vec![(
                Say("Our compliance team needs your SIG Lite questionnaire and ISO 27001 certificate for the vendor assessment"),
                expect("ticket").persona("enterprise-it-buyer").intent("security-compliance").team("security").opens_ticket(),
            )],
        ),
        case(
            "security question from anyone else gets the self-help answer",
            vec![(
                Say("Are you SOC 2 compliant?"),
                expect("answer")
                    .persona("")
                    .intent("security-compliance")
                    .answer("security-compliance/default")
                    .says("SOC 2 Type II report"),
            )],
        ),
        case(
            "security question from a founder gets the self-help answer",
            vec![
                (Say("I'm the founder of a 5-person startup"), expect("fallback").persona("startup-founder")),
                (
                    Say("Are you SOC 2 compliant?"),
                    expect("answer").persona("startup-founder").answer("security-compliance/default"),
                ),
            ],
        ),
        case(
            "technical issue answered, then 'that didn't help' escalates to support",
            vec![
                (
                    Say("The chat widget is not showing on my website"),
                    expect("answer").intent("technical-issue").answer("technical-issue/default").says("status.hearth.example"),
                ),
                (
                    Say("that didn't help"),
                    expect("ticket")
                        .intent("did-not-help")
                        .team("support")
                        .answer("")
                        .says(HANDOFF_SUPPORT)
                        .reason_has("after the self-help answer technical-issue/default")
                        .opens_ticket()
                        .feedback_on(0, false)
                        .ticket_about("technical-issue", 0),
                ),
            ],
        ),
        case(
            "'That helped' records helped=true on the answer",
            vec![
                (Say("the app keeps crashing on my phone"), expect("answer").intent("technical-issue")),
                (Helped, expect("answer").intent("technical-issue").says("glad that helped").feedback_on(0, true)),
            ],
        ),
        case(
            "'Talk to a human' after a founder's pricing answer opens a sales ticket",
            vec![
                (Say("I'm the founder of a 5-person startup"), expect("fallback")),
                (Say("how much is it?"), expect("answer").answer("pricing/startup-founder")),
                (
                    Human,
                    expect("ticket")
                        .team("sales")
                        .persona("startup-founder")
                        .intent("pricing")
                        .says(HANDOFF_SALES)
                        .opens_ticket()
                        .feedback_on(1, false)
                        .ticket_about("pricing", 1),
                ),
            ],
        ),
        case(
            "'Talk to a human' after a technical answer opens a support ticket",
            vec![
                (Say("I get an error 500 when I open the inbox"), expect("answer").intent("technical-issue")),
                (Human, expect("ticket").team("support").says(HANDOFF_SUPPORT).opens_ticket().feedback_on(0, false)),
                (Say("any news?"), expect("ticket").team("support").says("I've added this to ticket #")),
            ],
        ),
        case(
            "asking for a human with no context goes to support",
            vec![(
                Say("I want to talk to a human"),
                expect("ticket")
                    .intent("human-agent")
                    .team("support")
                    .says(HANDOFF_SUPPORT)
                    .reason_has("no earlier topic")
                    .opens_ticket(),
            )],
        ),
        case(
            "asking for a human after a refund question goes to billing",
            vec![
                (Say("what is your refund policy for annual plans?"), expect("ticket").team("billing").opens_ticket()),
                (Say("is there a real person I can chat with?"), expect("ticket").team("billing").says("I've added this to ticket #")),
            ],
        ),
        case(
            "two misses: first a fallback, then a support ticket",
            vec![
                (Say("asdf qwerty"), expect("fallback").intent("").persona("").says(REPHRASE)),
                (
                    Say("blorp zzz"),
                    expect("ticket").team("support").says(HANDOFF_SUPPORT).reason_has("2 messages in a row").opens_ticket(),
                ),
            ],
        ),
        case(
            "a recognised message in between resets the miss count",
            vec![
                (Say("asdf qwerty"), expect("fallback").says(REPHRASE)),
                (Say("hello"), expect("answer").intent("greeting")),
                (Say("blorp zzz"), expect("fallback").says(REPHRASE)),
            ],
        ),
        case(
            "clarify, then '1' picks the first choice",
            vec![
                (
                    Say("how much does it cost and can I get a refund?"),
                    expect("clarify").choices(&["pricing", "refund"]).says("1. Pricing").says("2. Refund"),
                ),
                (Say("1"), expect("answer").intent("pricing").answer("pricing/default").reason_has("clarifying question")),
            ],
        ),
        case(
            "clarify, then 'second' picks the second choice",
            vec![
                (Say("how much does it cost and can I get a refund?"), expect("clarify").choices(&["pricing", "refund"])),
                (Say("the second"), expect("ticket").intent("refund").team("billing").says(HANDOFF_BILLING).opens_ticket()),
            ],
        ),
        case(
            "clarify, then the intent's name picks it",
            vec![
                (Say("how much does it cost and can I get a refund?"), expect("clarify")),
                (Say("Refund"), expect("ticket").intent("refund").team("billing").opens_ticket()),
            ],
        ),
    ]
}
