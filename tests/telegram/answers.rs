//! What the customer sees under each reply on Telegram: buttons exactly when the turn's
//! `actions` offer them, a clarifying question's options as buttons (a press answers that
//! option), and answers' markdown as Telegram HTML that the Bot API accepts.

use super::*;

const REFUSAL: &str = "These buttons are for the person who asked.";
const EXPIRED: &str = "This button has expired. Just type your question.";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buttons_follow_the_actions_and_a_markdown_answer_arrives_as_html() {
    let bot = Bot::polling().await;
    let ann = customer(7101);
    support::answer_in_markdown(&bot.pipeline, "pricing");

    // A greeting is conversation, not self-help: no buttons.
    let since = bot.mark();
    let (_, hi) = bot.fake.say(DM, &ann, "hi");
    let greeting = bot.reply_to(since, DM, hi).await;
    assert!(
        greeting.text().starts_with("Hi there"),
        "{}",
        greeting.text()
    );
    assert!(greeting.buttons().is_empty(), "{:?}", greeting.buttons());
    assert!(
        greeting.body.get("reply_markup").is_none(),
        "{}",
        greeting.body
    );

    // The answer: both buttons, and its markdown as Telegram formats it.
    let since = bot.mark();
    let (_, q) = bot.fake.say(DM, &ann, "How much does Hearth cost?");
    let answer = bot.reply_to(since, DM, q).await;
    assert_eq!(labels(&answer), [HELPED_LABEL, HUMAN_LABEL]);
    assert_eq!(answer.body["parse_mode"], "HTML");
    assert_eq!(
        answer.raw_text(),
        "Our plans are on <a href=\"https://hearth.example/pricing\">the pricing page</a>.\n\
         • <b>Growth</b>: $39 per seat &amp; &lt;more&gt;\n\
         • Write to <a href=\"mailto:sales@hearth.example\">sales</a>\n\
         No trick @everyone &lt;@123&gt;"
    );
    // What the customer reads, as Telegram parsed it (the fake refuses HTML Telegram would).
    assert_eq!(
        answer.text(),
        "Our plans are on the pricing page.\n• Growth: $39 per seat & <more>\n• Write to sales\nNo trick @everyone <@123>"
    );
    let link = |text: &str, url: &str| {
        (
            "text_link".to_string(),
            text.to_string(),
            Some(url.to_string()),
        )
    };
    assert_eq!(
        answer.entities(),
        [
            link("the pricing page", "https://hearth.example/pricing"),
            ("bold".to_string(), "Growth".to_string(), None),
            link("sales", "mailto:sales@hearth.example"),
        ]
    );
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(
        stored[0].route.actions,
        Vec::<String>::new(),
        "the greeting"
    );
    assert_eq!(stored[1].route.actions, ["helped", "human"], "the answer");
    let d = bot.delivery(1, T).await;
    assert!(d.ok, "{d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_clarifying_question_offers_its_options_and_a_press_answers_that_option() {
    let bot = Bot::polling().await;
    let ann = customer(7102);
    let eve = customer(7998);
    let since = bot.mark();
    let (_, q) = bot
        .fake
        .say(DM, &ann, "how much does it cost and can I get a refund?");
    let question = bot.reply_to(since, DM, q).await;
    assert!(
        question.text().contains("1. Pricing"),
        "{}",
        question.text()
    );
    assert_eq!(
        question.buttons(),
        [
            ("Pricing".to_string(), "pb:choose:7102:pricing".to_string()),
            ("Refund".to_string(), "pb:choose:7102:refund".to_string()),
        ],
        "the options, and no feedback buttons"
    );

    // Someone else's press is refused; forged or unknown data changes nothing.
    let since = bot.mark();
    bot.fake.press(&eve, &question, "pb:choose:7102:refund");
    let refused = bot.call(since, "answerCallbackQuery").await;
    assert_eq!(refused.text(), REFUSAL);
    let since = bot.mark();
    bot.fake
        .press(&ann, &question, "pb:choose:7102:no-such-intent");
    let expired = bot.call(since, "answerCallbackQuery").await;
    assert_eq!(expired.text(), EXPIRED);
    let since = bot.mark();
    bot.fake.press(&ann, &question, "pb:choose:7102:../refund");
    let ignored = bot.call(since, "answerCallbackQuery").await;
    assert_eq!(ignored.text(), "", "not one of the bot's buttons");
    tokio::time::sleep(QUIET).await;
    assert!(bot.fake.calls_of(since, "sendMessage").is_empty());
    assert!(bot
        .fake
        .calls_of(since, "editMessageReplyMarkup")
        .is_empty());
    assert_eq!(
        bot.pipeline
            .store()
            .interactions(&InteractionFilter::default())
            .unwrap()
            .len(),
        1,
        "nothing reached the pipeline"
    );

    // Ann's press: the options go, and the pricing answer comes with its feedback buttons.
    let since = bot.mark();
    bot.fake.press(&ann, &question, "pb:choose:7102:pricing");
    let edit = bot.call(since, "editMessageReplyMarkup").await;
    assert_eq!(
        edit.body["message_id"].as_i64(),
        question.body["_result_message_id"].as_i64()
    );
    assert_eq!(edit.body["reply_markup"], json!({ "inline_keyboard": [] }));
    let answer = bot.sent_to(since, DM, T).await;
    assert!(answer.text().contains("four plans"), "{}", answer.text());
    assert_eq!(labels(&answer), [HELPED_LABEL, HUMAN_LABEL]);
    assert_eq!(
        answer.reply_to(),
        question.body["_result_message_id"].as_i64(),
        "in reply to the question"
    );
    let stored = bot
        .pipeline
        .store()
        .interactions(&InteractionFilter::default())
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[1].text, "Pricing",
        "the option's name, as the customer's message"
    );
    assert_eq!(stored[1].conversation, DM.to_string());
    assert_eq!(
        stored[1].intent.as_ref().map(|i| i.id.as_str()),
        Some("pricing")
    );
    assert_eq!(stored[1].route.kind, "answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answer_whose_html_telegram_refuses_goes_again_as_plain_text() {
    let bot = Bot::polling().await;
    let ann = customer(7103);
    support::answer_in_markdown(&bot.pipeline, "pricing");
    bot.fake.fail_next(
        "sendMessage",
        400,
        json!({
            "ok": false, "error_code": 400,
            "description": "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0",
        }),
    );
    let since = bot.mark();
    let (_, q) = bot.fake.say(DM, &ann, "How much does Hearth cost?");
    let answer = bot.reply_to(since, DM, q).await;
    assert!(answer.body.get("parse_mode").is_none(), "{}", answer.body);
    assert!(
        answer
            .text()
            .starts_with("Our plans are on the pricing page (https://hearth.example/pricing)."),
        "{}",
        answer.text()
    );
    assert_eq!(labels(&answer), [HELPED_LABEL, HUMAN_LABEL]);
    let d = bot.delivery(0, T).await;
    assert_eq!((d.ok, d.attempts), (true, 2), "{d:?}");
}
