//! Real-time chat (SPEC §2): what happens when a buyer or an agent says something. Each
//! operation stores first (the store numbers events and enforces the rules), then tells the
//! connected sockets through the [`hub::Hub`]. The sockets themselves are in [`socket`].

pub mod hub;
pub mod protocol;
pub mod relay;
pub mod socket;

use crate::AppState;
use crate::api::widget::{BotInput, bot_turn};
use crate::error::{ApiError, ApiResult};
use kefu_core::account::{Account, Role, SkillGroup};
use kefu_core::bot::BotSession;
use kefu_core::chat::{
    CloseReason, Content, Conversation, ConversationState, EventBody, HandoffReason, OrderCard, ProductCard, Sender,
    Transition,
};
use kefu_core::ids::{AccountId, ConversationId, ShopId};
use kefu_core::routing::{AgentStatus, Presence};
use kefu_store::{Appended, NewEvent};
use protocol::{AgentCard, ServerFrame};

/// The conversation, if it is the shop's.
pub async fn conversation(state: &AppState, shop: ShopId, id: ConversationId) -> ApiResult<Conversation> {
    state
        .store
        .conversation(shop, id)
        .await?
        .ok_or(ApiError::NotFound("conversation"))
}

/// Tells every socket concerned about a stored event: the buyer's, the conversation's agent,
/// and for a transfer the agent who handed it on.
pub fn publish(state: &AppState, a: &Appended) {
    if a.duplicate {
        return;
    }
    let mut agents: Vec<AccountId> = a.conversation.agent_id.into_iter().collect();
    if let EventBody::Transferred { from, .. } = &a.event.body {
        agents.push(*from);
    }
    state.hub.event(a.conversation.shop_id, a.event.clone(), &agents);
    let (shop, kind) = (a.conversation.shop_id, kefu_core::webhooks::EventType::MessageCreated);
    if state.outbox.nobody_listens(shop, kind) {
        return;
    }
    if let Some(data) = kefu_core::webhooks::message_data(&a.conversation, &a.event) {
        crate::outbox::emit_later(state, shop, kind, data);
    }
}

fn system_text(text: &str) -> Option<NewEvent> {
    (!text.trim().is_empty()).then(|| NewEvent {
        sender: Sender::System,
        client_id: None,
        body: EventBody::message(Content::Text { text: text.to_string() }),
        at: kefu_store::now(),
    })
}

/// The visitor's conversation, started (with the shop's greeting, or its away reply out of
/// hours: SPEC §1.7) on first contact.
pub async fn buyer_conversation(
    state: &AppState,
    shop: ShopId,
    visitor: &str,
    nick: Option<&str>,
    channel: &str,
    group: Option<SkillGroup>,
) -> ApiResult<Conversation> {
    if let Some(c) = state.store.visitor_conversation(shop, visitor).await? {
        return Ok(c);
    }
    let now = kefu_store::now();
    let nick = nick
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(32).collect())
        .unwrap_or_else(|| match visitor.strip_prefix("buyer:") {
            Some(buyer) => buyer.chars().take(32).collect(),
            None => {
                let tail: Vec<char> = visitor.chars().rev().take(6).collect();
                format!("访客{}", tail.into_iter().rev().collect::<String>())
            }
        });
    let mut c = Conversation::new(shop, visitor.to_string(), nick, channel.to_string(), now);
    c.skill_group = group;
    state.store.create_conversation(&c).await?;
    crate::outbox::emit(
        state,
        shop,
        kefu_core::webhooks::EventType::ConversationCreated,
        kefu_core::webhooks::conversation_data(&c),
    )
    .await;
    // A signed buyer is the shop's customer of that nick (SPEC §3.1): their first chat makes
    // them one, so they show in 咨询组 before they order.
    if let Some(buyer) = visitor.strip_prefix("buyer:") {
        state.store.ensure_customer(shop, buyer, now).await?;
    }
    let settings = state.store.settings(shop).await?;
    let text = if settings.is_open(now) {
        settings.auto_replies.greeting
    } else {
        settings.auto_replies.away
    };
    if let Some(greeting) = system_text(&text) {
        let a = state.store.append_event(shop, c.id, &greeting).await?;
        return Ok(a.conversation);
    }
    Ok(c)
}

/// Checks a message's content and fills product and order cards from the shop's catalog, so
/// the buyer sees title and price (and an order's state) as they were when it was sent. A
/// buyer's order card is not filled: whose order a number is cannot be told from an
/// anonymous chat, and a card must not show a stranger's order (the agent looks it up).
async fn prepared(state: &AppState, shop: ShopId, mut content: Content, by_buyer: bool) -> ApiResult<Content> {
    content.check()?;
    match &mut content {
        Content::Order { card, .. } if by_buyer => *card = None,
        Content::Product { sku, card } => {
            let p = crate::api::widget::product_by_sku(state, shop, sku)
                .await?
                .ok_or_else(|| kefu_core::ValidationError::new("sku", format!("the shop has no product {sku}")))?;
            *card = Some(ProductCard {
                title: p.title,
                price_fen: p.price.0,
                price: p.price.to_string(),
                stock: p.stock,
            });
        }
        Content::Order { order_no, card } => {
            let q = kefu_store::OrderQuery {
                text: Some(order_no.clone()),
                ..Default::default()
            };
            let o = state
                .store
                .orders(shop, &q)
                .await?
                .items
                .into_iter()
                .find(|o| o.order_no == *order_no)
                .ok_or_else(|| {
                    kefu_core::ValidationError::new("order_no", format!("the shop has no order {order_no}"))
                })?;
            let total = o.total().unwrap_or_default();
            let title = match o.items.len() {
                0 | 1 => o.items.first().map(|i| i.title.clone()).unwrap_or_default(),
                n => format!("{} 等{n}件", o.items[0].title),
            };
            *card = Some(OrderCard {
                state: o.state,
                title,
                items: o.items.len(),
                total_fen: total.0,
                total: total.to_string(),
                created_at: o.created_at,
            });
        }
        _ => {}
    }
    Ok(content)
}

/// Stores a buyer's message (reopening a closed chat first). The caller acknowledges it and
/// then calls [`after_buyer_message`], so the ack never waits for the bot.
pub async fn buyer_message(
    state: &AppState,
    shop: ShopId,
    conversation: ConversationId,
    client_id: String,
    content: Content,
) -> ApiResult<Appended> {
    let content = prepared(state, shop, content, true).await?;
    let event = NewEvent {
        sender: Sender::Buyer,
        client_id: Some(client_id),
        body: EventBody::message(content),
        at: kefu_store::now(),
    };
    let stored = match state.store.append_event(shop, conversation, &event).await {
        Ok(a) => {
            publish(state, &a);
            a
        }
        // Writing to a closed chat reopens it with the bot (SPEC §2.5).
        Err(kefu_store::StoreError::Refused(_)) => {
            let reopened = state
                .store
                .transition(shop, conversation, &Transition::Reopen, event.at)
                .await?;
            publish(state, &reopened);
            let a = state.store.append_event(shop, conversation, &event).await?;
            publish(state, &a);
            a
        }
        Err(e) => return Err(e.into()),
    };
    opt_out_if_asked(state, &stored).await?;
    Ok(stored)
}

/// 回复TD退订: a signed buyer's message asking for no more outreach opts them out (SPEC §3.3).
/// A string check first, so ordinary messages cost nothing more.
async fn opt_out_if_asked(state: &AppState, a: &Appended) -> ApiResult<()> {
    if a.duplicate || !a.conversation.visitor.starts_with("buyer:") {
        return Ok(());
    }
    if let EventBody::Message {
        content: Content::Text { text },
        ..
    } = &a.event.body
        && kefu_core::customers::asks_to_opt_out(text)
    {
        let shop = a.conversation.shop_id;
        if state
            .store
            .opt_out_visitor(shop, &a.conversation.visitor, state.clock.now())
            .await?
        {
            tracing::info!(shop = %shop, "a buyer opted out of outreach");
        }
    }
    Ok(())
}

/// The bot's turn after a buyer's message, while the chat is still the bot's.
pub async fn after_buyer_message(state: &AppState, a: &Appended, product: Option<&str>) -> ApiResult<()> {
    if a.duplicate || a.conversation.state != ConversationState::Bot {
        return Ok(());
    }
    if let EventBody::Message {
        content: Content::Text { text },
        ..
    } = &a.event.body
    {
        let text = crate::api::widget::check_question(text)?;
        bot_answers(state, &a.conversation, BotInput::Text(text), product).await?;
    }
    Ok(())
}

/// The bot answers the buyer's input in the conversation, and hands it over when it decides to.
/// `product` is the SKU of the product page the buyer's widget runs on, if any.
pub async fn bot_answers(state: &AppState, c: &Conversation, input: BotInput, product: Option<&str>) -> ApiResult<()> {
    let shop = c.shop_id;
    let now = kefu_store::now();
    // The bot session of a chat has the chat's id: numbered picks and failures in a row.
    let mut session = match state.store.bot_session(shop, c.id.0).await? {
        Some(s) => s,
        None => {
            let mut s = BotSession::new(shop, c.visitor.clone(), now);
            s.id = c.id.0;
            s
        }
    };
    // A chat reopened after a close starts counting afresh.
    if session.handed_off {
        session.handed_off = false;
        session.failures = 0;
    }
    // The chat's visitor is `buyer:<nick>` only when a signed buyer token said so.
    let buyer = c.visitor.strip_prefix("buyer:");
    let turn = bot_turn(state, shop, &mut session, input, buyer, product, now).await?;
    let reply = serde_json::to_value(&turn.reply).map_err(|e| ApiError::Internal(e.into()))?;
    let event = NewEvent {
        sender: Sender::Bot,
        client_id: None,
        body: EventBody::message(Content::Bot { reply }),
        at: now,
    };
    let a = state.store.append_event(shop, c.id, &event).await?;
    publish(state, &a);
    if let Some(reason) = turn.handoff {
        handoff(state, shop, c.id, reason).await?;
    }
    Ok(())
}

/// The skill group the bot's intent points to: the category of the entry the bot last
/// answered in this chat, through the shop's `bot.intent_groups`.
async fn intent(state: &AppState, shop: ShopId, conversation: ConversationId) -> ApiResult<Option<SkillGroup>> {
    let Some(c) = state.store.conversation(shop, conversation).await? else {
        return Ok(None);
    };
    if c.skill_group.is_some() {
        return Ok(None);
    }
    let recent = state
        .store
        .events_after(shop, conversation, (c.last_seq - 50).max(0), 50)
        .await?;
    let category = recent.iter().rev().find_map(|e| match &e.body {
        EventBody::Message {
            content: Content::Bot { reply },
            ..
        } => reply["entry"]["category"].as_str().map(str::to_string),
        _ => None,
    });
    let Some(category) = category else { return Ok(None) };
    Ok(state.store.settings(shop).await?.bot.intent_group(&category))
}

/// Hands the chat to the agents: into the queue, then to whoever can take it (SPEC §2.2).
/// Left waiting, the buyer hears the busy reply (everyone full) or the away reply (nobody
/// there, or out of hours) and may leave a message.
pub async fn handoff(
    state: &AppState,
    shop: ShopId,
    conversation: ConversationId,
    reason: HandoffReason,
) -> ApiResult<()> {
    let now = kefu_store::now();
    let group = intent(state, shop, conversation).await?;
    let queued = match state
        .store
        .transition(shop, conversation, &Transition::Handoff { reason, group }, now)
        .await
    {
        Ok(a) => a,
        // Already with the agents (a second click on 转人工): nothing to do.
        Err(kefu_store::StoreError::Refused(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    publish(state, &queued);
    route(state, shop).await?;
    let c = self::conversation(state, shop, conversation).await?;
    if c.state == ConversationState::Queued {
        let settings = state.store.settings(shop).await?;
        let agents = state.store.agent_loads(shop).await?;
        let someone = settings.is_open(now) && agents.iter().any(AgentStatus::on_duty);
        let text = if someone {
            settings.auto_replies.busy
        } else {
            settings.auto_replies.away
        };
        if let Some(e) = system_text(&text) {
            publish(state, &state.store.append_event(shop, conversation, &e).await?);
        }
    }
    Ok(())
}

/// Assigns what the queue holds to agents with room, tells everyone concerned, and tells the
/// buyers still waiting their place.
pub async fn route(state: &AppState, shop: ShopId) -> ApiResult<()> {
    let now = kefu_store::now();
    for a in state.store.route_queue(shop, now).await? {
        publish(state, &a);
        if let Some(agent) = a.conversation.agent_id {
            introduce(state, &a.conversation).await?;
            let own = state.store.agent_replies(shop, agent).await?;
            if let Some(greeting) = own.greeting.as_deref().and_then(system_text) {
                publish(
                    state,
                    &state.store.append_event(shop, a.conversation.id, &greeting).await?,
                );
            }
        }
    }
    let queue = state.store.queued_conversations(shop).await?;
    if !queue.is_empty() {
        let nobody = nobody_there(state, shop, now).await?;
        for (i, c) in queue.iter().enumerate() {
            state.hub.to_buyer(
                c.id,
                ServerFrame::Queue {
                    conversation_id: c.id,
                    position: i + 1,
                    leave_message: offers_leave_message(nobody, i + 1),
                },
            );
        }
    }
    Ok(())
}

/// Out of business hours, or no agent online or suspended: nobody will answer soon.
pub async fn nobody_there(state: &AppState, shop: ShopId, now: chrono::DateTime<chrono::Utc>) -> ApiResult<bool> {
    let settings = state.store.settings(shop).await?;
    let agents = state.store.agent_loads(shop).await?;
    Ok(!settings.is_open(now) || !agents.iter().any(AgentStatus::on_duty))
}

/// Whether a buyer waiting at `position` (1 = next) is offered 留言 instead of waiting
/// (SPEC §1.3, §2.2): when nobody is there, or with three or more ahead of them.
pub fn offers_leave_message(nobody: bool, position: usize) -> bool {
    nobody || position > 3
}

/// The agent serving a chat, as the buyer sees them.
pub async fn agent_card(state: &AppState, c: &Conversation) -> ApiResult<Option<AgentCard>> {
    let Some(agent) = c.agent_id.filter(|_| c.state == ConversationState::Assigned) else {
        return Ok(None);
    };
    let Some(account) = state.store.account(c.shop_id, agent).await? else {
        return Ok(None);
    };
    let replies = state.store.agent_replies(c.shop_id, agent).await?;
    Ok(Some(AgentCard {
        name: account.display_name,
        signature: replies.signature,
    }))
}

/// Tells the buyer who serves them now.
async fn introduce(state: &AppState, c: &Conversation) -> ApiResult<()> {
    if let Some(agent) = agent_card(state, c).await? {
        state.hub.to_buyer(
            c.id,
            ServerFrame::Agent {
                conversation_id: c.id,
                agent,
            },
        );
    }
    Ok(())
}

/// Place in the queue (1 = next), if waiting.
pub async fn queue_position(state: &AppState, shop: ShopId, conversation: ConversationId) -> ApiResult<Option<usize>> {
    let queue = state.store.queued_conversations(shop).await?;
    Ok(queue.iter().position(|c| c.id == conversation).map(|p| p + 1))
}

/// Whether `account` may act in this chat: its agent, or a supervisor or manager of the shop.
pub fn may_act(account: &Account, c: &Conversation) -> bool {
    c.agent_id == Some(account.id) || matches!(account.role, Role::Owner | Role::Admin | Role::Supervisor)
}

pub async fn agent_message(
    state: &AppState,
    agent: &Account,
    conversation: ConversationId,
    client_id: String,
    content: Content,
) -> ApiResult<Appended> {
    let content = prepared(state, agent.shop_id, content, false).await?;
    // The compliance guard (SPEC §2.9): refused here when the shop blocks; otherwise the
    // findings go with the message, for its agents to see and the statistics to count.
    let compliance = match &content {
        Content::Text { text } => {
            let settings = state.store.settings(agent.shop_id).await?;
            crate::api::compliance::guard(state, &settings, agent.shop_id, Some(conversation), text).await?
        }
        _ => Vec::new(),
    };
    let event = NewEvent {
        sender: Sender::Agent(agent.id),
        client_id: Some(client_id),
        body: EventBody::Message { content, compliance },
        at: kefu_store::now(),
    };
    let a = state.store.append_event(agent.shop_id, conversation, &event).await?;
    publish(state, &a);
    Ok(a)
}

/// The buyer's satisfaction rating of their chat (SPEC §5.6).
pub async fn rate(state: &AppState, shop: ShopId, id: ConversationId, score: u8, comment: &str) -> ApiResult<()> {
    let c = conversation(state, shop, id).await?;
    let rating = kefu_core::stats::rate(&c, score, comment, state.clock.now())?;
    state.store.rate_conversation(shop, &rating).await?;
    Ok(())
}

pub async fn close(state: &AppState, by: &Account, conversation: ConversationId, reason: CloseReason) -> ApiResult<()> {
    let shop = by.shop_id;
    let c = self::conversation(state, shop, conversation).await?;
    if !may_act(by, &c) {
        return Err(ApiError::Forbidden("this chat is not with you".into()));
    }
    let a = state
        .store
        .transition(shop, conversation, &Transition::Close { reason }, kefu_store::now())
        .await?;
    publish(state, &a);
    route(state, shop).await
}

pub async fn transfer(
    state: &AppState,
    by: &Account,
    conversation: ConversationId,
    to: AccountId,
    note: &str,
) -> ApiResult<()> {
    let shop = by.shop_id;
    let c = self::conversation(state, shop, conversation).await?;
    if !may_act(by, &c) {
        return Err(ApiError::Forbidden("this chat is not with you".into()));
    }
    if note.chars().count() > 200 {
        return Err(kefu_core::ValidationError::new("note", "is longer than 200 characters").into());
    }
    let a = state
        .store
        .transfer(shop, conversation, by.id, to, note.trim(), kefu_store::now())
        .await
        .map_err(|e| match e {
            kefu_store::StoreError::NotFound => ApiError::NotFound("teammate"),
            other => other.into(),
        })?;
    publish(state, &a);
    introduce(state, &a.conversation).await?;
    route(state, shop).await
}

pub async fn set_presence(state: &AppState, agent: &Account, presence: Presence) -> ApiResult<()> {
    state
        .store
        .set_presence(agent.shop_id, agent.id, presence, kefu_store::now())
        .await?;
    state.hub.to_agent(agent.id, ServerFrame::Presence { status: presence });
    if presence == Presence::Online {
        route(state, agent.shop_id).await?;
    }
    Ok(())
}

/// Closes chats nobody wrote in for the shop's idle time (SPEC §2.5); runs every half minute.
pub async fn close_idle(state: &AppState) -> ApiResult<usize> {
    let now = kefu_store::now();
    let mut closed = 0;
    let mut settings = std::collections::HashMap::new();
    let shortest = chrono::Duration::minutes(i64::from(kefu_core::settings::MIN_IDLE_CLOSE_MINUTES));
    for c in state.store.idle_conversations(now - shortest, 500).await? {
        let minutes = match settings.get(&c.shop_id) {
            Some(m) => *m,
            None => {
                let m = state.store.settings(c.shop_id).await?.idle_close_minutes;
                settings.insert(c.shop_id, m);
                m
            }
        };
        let idle = chrono::Duration::minutes(i64::from(minutes));
        if c.last_activity_at > now - idle {
            continue;
        }
        let reason = CloseReason::Idle;
        match state
            .store
            .transition(c.shop_id, c.id, &Transition::Close { reason }, now)
            .await
        {
            Ok(a) => {
                publish(state, &a);
                closed += 1;
                if c.state == ConversationState::Assigned {
                    route(state, c.shop_id).await?;
                }
            }
            Err(kefu_store::StoreError::Refused(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(closed)
}
