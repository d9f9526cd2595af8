//! What the customer sees under each reply on Slack: buttons exactly when the turn's `actions`
//! offer them, a clarifying question's options as block-action buttons (a press answers that
//! option), and answers' markdown as Slack mrkdwn.

use serde_json::json;

use crate::bot::{message, press_payload, Bot, CH};
use crate::support;

const REFUSAL: &str = "These buttons are for the person who asked.";
const EXPIRED: &str = "This button has expired. Just type your question.";

fn block_kinds(call: &crate::fake_slack::Call) -> Vec<String> {
    call.body["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| b["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_follow_the_actions_and_a_markdown_answer_arrives_as_mrkdwn() {
    let bot = Bot::start().await;
    support::answer_in_markdown(&bot.pipeline, "pricing");

    // A greeting is conversation, not self-help: no buttons.
    let hello = "1700000101.000100";
    let since = bot.mark();
    bot.event("EvMd01", message("U0ANN", "hi", hello)).await;
    let greeting = bot.reply_in(since, hello).await;
    assert!(greeting.text().starts_with("Hi there"), "{}", greeting.raw);
    assert_eq!(block_kinds(&greeting), ["section"], "{}", greeting.raw);

    // The answer: both buttons, its markdown as mrkdwn, the rest escaped.
    let asked = "1700000102.000100";
    let since = bot.mark();
    bot.event(
        "EvMd02",
        message("U0ANN", "How much does Hearth cost?", asked),
    )
    .await;
    let answer = bot.reply_in(since, asked).await;
    assert_eq!(block_kinds(&answer), ["section", "actions"]);
    assert_eq!(answer.button_labels(), ["That helped", "Talk to a human"]);
    let mrkdwn = "Our plans are on <https://hearth.example/pricing|the pricing page>.\n\
                  • *Growth*: $39 per seat &amp; &lt;more&gt;\n\
                  • Write to <mailto:sales@hearth.example|sales>\n\
                  No trick @everyone &lt;@123&gt;";
    assert_eq!(answer.body["blocks"][0]["text"]["text"], mrkdwn);
    assert_eq!(answer.body["blocks"][0]["text"]["type"], "mrkdwn");
    assert_eq!(answer.text(), mrkdwn, "the notification text too");
    assert_eq!(answer.body["link_names"], false);
    let stored = bot.interactions();
    assert_eq!(
        stored[0].route.actions,
        Vec::<String>::new(),
        "the greeting"
    );
    assert_eq!(stored[1].route.actions, ["helped", "human"], "the answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clarifying_question_offers_its_options_and_a_press_answers_that_option() {
    let bot = Bot::start().await;
    let ts = "1700000103.000100";
    let since = bot.mark();
    bot.event(
        "EvCl01",
        message("U0ANN", "how much does it cost and can I get a refund?", ts),
    )
    .await;
    let question = bot.reply_in(since, ts).await;
    assert!(question.text().contains("1. Pricing"), "{}", question.raw);
    assert_eq!(block_kinds(&question), ["section", "actions"]);
    assert_eq!(question.body["blocks"][1]["block_id"], "pb_choices");
    assert_eq!(question.button_labels(), ["Pricing", "Refund"]);
    let values: Vec<&str> = question.body["blocks"][1]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            format!("U0ANN|{CH}/{ts}|pricing"),
            format!("U0ANN|{CH}/{ts}|refund")
        ]
    );

    // Someone else's press is refused; an option the catalog does not have has expired.
    let since = bot.mark();
    let url = bot.fake.response_url("c1");
    bot.press(&press_payload(&question, "Refund", "U0MALLORY", &url))
        .await;
    assert_eq!(bot.response(since, "c1").await.text(), REFUSAL);
    let since = bot.mark();
    let url = bot.fake.response_url("c2");
    let mut forged = press_payload(&question, "Refund", "U0ANN", &url);
    forged["actions"][0]["value"] = json!(format!("U0ANN|{CH}/{ts}|no-such-intent"));
    bot.press(&forged).await;
    assert_eq!(bot.response(since, "c2").await.text(), EXPIRED);
    assert_eq!(bot.interactions().len(), 1, "nothing reached the pipeline");

    // Ann's press: the options go, and the pricing answer comes in the thread with its
    // feedback buttons.
    let since = bot.mark();
    let url = bot.fake.response_url("c3");
    bot.press(&press_payload(&question, "Pricing", "U0ANN", &url))
        .await;
    let update = bot.response(since, "c3").await;
    assert_eq!(update.body["replace_original"], true, "{}", update.raw);
    assert!(
        update.buttons().is_empty(),
        "the options go: {}",
        update.raw
    );
    let updated = update.body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(updated.ends_with("_→ Pricing_"), "{updated}");
    let answer = bot.reply_in(since, ts).await;
    assert!(answer.text().contains("four plans"), "{}", answer.raw);
    assert_eq!(answer.button_labels(), ["That helped", "Talk to a human"]);
    let stored = bot.interactions();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[1].text, "Pricing",
        "the option, as the asker's message"
    );
    assert_eq!(stored[1].conversation, format!("{CH}/{ts}"));
    assert_eq!(
        stored[1].intent.as_ref().map(|i| i.id.as_str()),
        Some("pricing")
    );
    assert_eq!(stored[1].route.kind, "answer");
    let delivery = bot.delivery(1).await;
    assert!(delivery.ok, "{delivery:?}");
}
