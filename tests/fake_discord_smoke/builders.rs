//! Serenity's builders round-trip through the fake's REST API.

use serenity::all::{
    ButtonStyle, Channel, ChannelType, Command, CommandOptionType, CreateActionRow, CreateButton,
    CreateCommand, CreateCommandOption, CreateMessage, CreateSelectMenu, CreateSelectMenuKind,
    CreateSelectMenuOption, CreateThread, GuildId, HttpBuilder, Message, Permissions,
};

use crate::fake_discord::{FakeDiscord, APP_ID, CHANNEL_ID, GUILD_ID};
use crate::no_proxy;

/// The bodies serenity's own builders produce survive the fake's echo (the components the
/// bot sends come back in the clicked message).
#[tokio::test]
async fn serenity_builders_round_trip_through_the_fake() {
    no_proxy();
    let fake = FakeDiscord::start().await;
    let http = HttpBuilder::new("fake-token")
        .proxy(fake.base_url())
        .ratelimiter_disabled(true)
        .application_id(APP_ID.into())
        .build();
    let rows = vec![
        CreateActionRow::Buttons(vec![
            CreateButton::new("ok")
                .label("OK")
                .style(ButtonStyle::Success),
            CreateButton::new_link("https://example.com").label("Docs"),
        ]),
        CreateActionRow::SelectMenu(CreateSelectMenu::new(
            "pick",
            CreateSelectMenuKind::String {
                options: vec![
                    CreateSelectMenuOption::new("A", "a"),
                    CreateSelectMenuOption::new("B", "b").description("bee"),
                ],
            },
        )),
    ];
    let sent = serenity::all::ChannelId::new(CHANNEL_ID)
        .send_message(
            &http,
            CreateMessage::new().content("choose").components(rows),
        )
        .await
        .expect("send_message through the fake");
    assert_eq!(sent.content, "choose");
    assert_eq!(sent.components.len(), 2);
    let thread = sent
        .channel_id
        .create_thread_from_message(&http, sent.id, CreateThread::new("ticket"))
        .await
        .expect("thread");
    assert_eq!(
        thread.id.get(),
        sent.id.get(),
        "a thread from a message has the message's id"
    );
    assert_eq!(thread.kind, ChannelType::PublicThread);
    let again = sent
        .channel_id
        .create_thread_from_message(&http, sent.id, CreateThread::new("x"))
        .await;
    assert!(
        again.is_err(),
        "second thread on the same message is refused"
    );
    let private = serenity::all::ChannelId::new(CHANNEL_ID)
        .create_thread(
            &http,
            CreateThread::new("private").kind(ChannelType::PrivateThread),
        )
        .await
        .expect("private thread");
    assert_eq!(private.kind, ChannelType::PrivateThread);
    let dm = serenity::all::UserId::new(1002)
        .create_dm_channel(&http)
        .await
        .expect("dm");
    assert_eq!(dm.recipient.id.get(), 1002);
    let got = http.get_channel(dm.id).await.expect("get dm channel");
    assert!(matches!(got, Channel::Private(_)));
    // The clicked message carries what serenity sent.
    let samples_ok = fake.stored_message(sent.id.get()).expect("stored");
    let m: Message = serde_json::from_value(samples_ok).expect("stored message fits Message");
    assert_eq!(m.components.len(), 2);
    // Command registration echoes what serenity's builders send.
    let commands = vec![
        CreateCommand::new("help").description("Ask").add_option(
            CreateCommandOption::new(CommandOptionType::String, "question", "Your question")
                .required(true),
        ),
        CreateCommand::new("relabel")
            .description("Fix a ticket")
            .default_member_permissions(Permissions::MANAGE_MESSAGES)
            .add_option(
                CreateCommandOption::new(CommandOptionType::Integer, "ticket", "Ticket number")
                    .min_int_value(1)
                    .required(true),
            )
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "intent", "Intent")
                    .add_string_choice("Billing", "billing")
                    .add_string_choice("Bug", "bug"),
            ),
    ];
    let global = Command::set_global_commands(&http, commands.clone())
        .await
        .expect("global");
    assert_eq!(global.len(), 2);
    assert_eq!(global[1].options[1].choices.len(), 2);
    let guild = GuildId::new(GUILD_ID)
        .set_commands(&http, commands)
        .await
        .expect("guild");
    assert_eq!(guild[0].guild_id.map(|g| g.get()), Some(GUILD_ID));
    assert!(fake.requests().iter().any(|r| r.is(
        "PUT",
        &format!("/applications/{APP_ID}/guilds/{GUILD_ID}/commands")
    )));
    // A failing route surfaces as an error with Discord's JSON error fields.
    fake.fail_next("POST", "/channels/", 429, 1);
    let err = serenity::all::ChannelId::new(CHANNEL_ID)
        .say(&http, "x")
        .await
        .expect_err("429");
    let text = format!("{err:?}");
    assert!(
        text.contains("429") && text.contains("rate limited"),
        "{text}"
    );
    let reqs = fake.requests();
    assert_eq!(reqs.last().map(|r| r.status), Some(429));
    assert!(
        reqs.iter().all(|r| r.status != 404),
        "unexpected 404s: {reqs:#?}"
    );
}
