//! What the buyer's widget calls, without a login (SPEC §1.2–1.3, §1.7): the greeting, the
//! bot, "was this helpful", and leaving a message. The shop is named in the path by its
//! slug; the bot session id the first answer returns is what ties a buyer's questions
//! together (numbered replies, failures in a row, feedback).

use crate::AppState;
use crate::api::auth::client_ip;
use crate::bots::ShopBot;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use kefu_bot::{Decision, pick_suggestion, wants_human};
use kefu_core::ValidationError;
use kefu_core::bot::{BotQuestion, BotSession, LeaveMessage, MessageStatus, Outcome, check_leave_message};
use kefu_core::catalog::Product;
use kefu_core::chat::HandoffReason;
use kefu_core::ids::{EntryId, ShopId};
use kefu_core::kb::{AnswerPart, answer_parts};
use kefu_core::order::Tracking;
use kefu_core::order_answers::{self, BuyerOrder, BuyerOrders, DataAnswer};
use kefu_core::routing::AgentStatus;
use kefu_core::shop::{Shop, ShopSlug};
use kefu_store::ProductQuery;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::cors::{Any, CorsLayer};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

/// The widget runs on the shop's own pages, another origin than kefu's: browsers may call
/// these endpoints from anywhere. They carry no cookies or credentials, so allowing every
/// origin exposes nothing a buyer could not already ask.
pub fn router() -> OpenApiRouter<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(std::time::Duration::from_secs(3600));
    OpenApiRouter::new()
        .routes(routes!(hello))
        .routes(routes!(faq))
        .routes(routes!(ask))
        .routes(routes!(feedback))
        .routes(routes!(leave_message))
        .routes(routes!(transcript))
        .layer(cors)
}

pub const MAX_QUESTION_CHARS: usize = 500;

pub(crate) async fn shop_of(state: &AppState, slug: &str) -> ApiResult<Shop> {
    let slug = ShopSlug::parse(slug).map_err(|_| ApiError::NotFound("shop"))?;
    state.store.shop_by_slug(&slug).await?.ok_or(ApiError::NotFound("shop"))
}

#[derive(Serialize, ToSchema)]
pub struct Hello {
    shop_name: String,
    /// Within business hours.
    open: bool,
    /// The greeting when open, the away reply otherwise (SPEC §1.7).
    text: String,
    /// Whether the buyer may have the chat's transcript mailed (this server sends mail).
    transcripts: bool,
}

/// What the widget shows first: the shop's greeting, or its away reply out of hours.
#[utoipa::path(get, path = "/widget/{shop}/hello", tag = "widget", params(("shop" = String, Path, description = "the shop's slug")),
    responses((status = 200, body = Hello), (status = 404, body = ErrorBody)))]
async fn hello(State(state): State<AppState>, Path(slug): Path<String>) -> ApiResult<Json<Hello>> {
    let shop = shop_of(&state, &slug).await?;
    let settings = state.store.settings(shop.id).await?;
    let open = settings.is_open(kefu_store::now());
    Ok(Json(Hello {
        shop_name: shop.name,
        open,
        text: if open {
            settings.auto_replies.greeting
        } else {
            settings.auto_replies.away
        },
        transcripts: state.outbox.mail_enabled(),
    }))
}

/// One question of the shop's public FAQ.
#[derive(Serialize, ToSchema)]
pub struct FaqEntry {
    #[schema(value_type = String, format = Uuid)]
    id: kefu_core::ids::EntryId,
    question: String,
    /// The answer's text, links, images and product cards, as the bot gives them.
    parts: Vec<ReplyPart>,
}

#[derive(Serialize, ToSchema)]
pub struct FaqCategory {
    name: String,
    entries: Vec<FaqEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct Faq {
    shop_name: String,
    categories: Vec<FaqCategory>,
}

/// The shop's self-service help page (SPEC §7.1): every live, enabled knowledge-base entry by
/// category, in the shop's order — what the bot would answer, for buyers to read themselves.
#[utoipa::path(get, path = "/widget/{shop}/faq", tag = "widget", params(("shop" = String, Path, description = "the shop's slug")),
    responses((status = 200, body = Faq), (status = 404, body = ErrorBody)))]
async fn faq(State(state): State<AppState>, Path(slug): Path<String>) -> ApiResult<Json<Faq>> {
    let shop = shop_of(&state, &slug).await?;
    let now = kefu_store::now();
    let entries = state.store.kb_entries(shop.id, None).await?;
    let mut categories = Vec::new();
    for c in state.store.kb_categories(shop.id).await? {
        let mut list = Vec::new();
        for e in entries.iter().filter(|e| e.category_id == c.id && e.is_live(now)) {
            list.push(FaqEntry {
                id: e.id,
                question: e.question.clone(),
                parts: render(&state, shop.id, &e.answer).await?,
            });
        }
        if !list.is_empty() {
            categories.push(FaqCategory {
                name: c.name,
                entries: list,
            });
        }
    }
    Ok(Json(Faq {
        shop_name: shop.name,
        categories,
    }))
}

/// One of: `text` (what the buyer typed), `pick` (a suggestion they clicked) or
/// `human: true` (the 转人工 button).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    /// From the previous reply; absent on the first question.
    session_id: Option<Uuid>,
    /// The widget's visitor id or the shop's buyer id, kept with the session.
    visitor: Option<String>,
    text: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pick: Option<EntryId>,
    #[serde(default)]
    human: bool,
    /// The SKU of the product page the buyer asks from: the bot prefers that product's FAQ.
    sku: Option<String>,
}

#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// The answer of one entry.
    Answer,
    /// 您是不是想问: numbered suggestions.
    Suggest,
    /// Nothing fits; the client offers 转人工.
    Fallback,
    /// The buyer asked for a person.
    Handoff,
}

/// A piece of an answer as the widget renders it; product cards come filled in.
#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplyPart {
    Text {
        text: String,
    },
    Link {
        url: String,
    },
    Image {
        url: String,
    },
    Product {
        sku: String,
        title: String,
        /// In fen.
        price_fen: i64,
        /// As shown, e.g. ¥89.00.
        price: String,
        stock: i64,
    },
}

#[derive(Serialize, ToSchema)]
pub struct Suggestion {
    /// What the buyer may reply to pick it: 1, 2, 3 …
    n: usize,
    #[schema(value_type = String, format = Uuid)]
    entry_id: EntryId,
    question: String,
}

#[derive(Serialize, ToSchema)]
pub struct AnsweredEntry {
    #[schema(value_type = String, format = Uuid)]
    id: EntryId,
    question: String,
    category: String,
}

#[derive(Serialize, ToSchema)]
pub struct Handoff {
    pub reason: HandoffReason,
    /// Whether an agent can take the chat now: within business hours, someone online in
    /// routing with room for another chat.
    agents_available: bool,
    /// When no agent can take it: offer the leave-a-message form.
    leave_message: bool,
    text: String,
}

#[derive(Serialize, ToSchema)]
pub struct BotReply {
    session_id: Uuid,
    /// Send it back with "was this helpful" (answers only).
    question_id: Uuid,
    kind: ReplyKind,
    /// The answer, the suggestion prompt, the fallback text or the hand-off text.
    text: String,
    /// For an answer: which entry.
    entry: Option<AnsweredEntry>,
    /// For an answer: its text, links, images and product cards in order.
    parts: Vec<ReplyPart>,
    suggestions: Vec<Suggestion>,
    /// Set when the chat now goes to a person.
    handoff: Option<Handoff>,
    /// The bot's confidence in its best match, 0–1.
    confidence: f32,
    /// When the bot answered from the buyer's own orders (parcel, status, address, invoice,
    /// shipping fee, returns): the order it spoke of.
    #[serde(skip_serializing_if = "Option::is_none")]
    about_order: Option<String>,
    /// When the bot answered from the FAQ of the product the buyer came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    product_faq: Option<AnsweredProductFaq>,
}

#[derive(Serialize, ToSchema)]
pub struct AnsweredProductFaq {
    id: kefu_core::ids::ProductFaqId,
    question: String,
    sku: String,
}

/// Ask the bot (SPEC §1.2–1.3): it answers, suggests numbered questions, or falls back;
/// it hands the chat to a person when asked or after the shop's number of failures in a row.
#[utoipa::path(post, path = "/widget/{shop}/ask", tag = "widget", params(("shop" = String, Path, description = "the shop's slug")),
    request_body = Ask,
    responses((status = 200, body = BotReply), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn ask(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Json(req): Json<Ask>,
) -> ApiResult<Json<BotReply>> {
    let shop = shop_of(&state, &slug).await?;
    let inputs = usize::from(req.text.is_some()) + usize::from(req.pick.is_some()) + usize::from(req.human);
    if inputs != 1 {
        return Err(ValidationError::new("text", "send exactly one of text, pick or human").into());
    }
    let input = match (req.text, req.pick) {
        (Some(t), _) => BotInput::Text(check_question(&t)?),
        (None, Some(id)) => BotInput::Pick(id),
        (None, None) => BotInput::Human,
    };
    let visitor = req.visitor.as_deref().map(str::trim).unwrap_or("").to_string();
    if visitor.chars().count() > 64 {
        return Err(ValidationError::new("visitor", "is longer than 64 characters").into());
    }
    if visitor.starts_with("buyer:") {
        return Err(ValidationError::new(
            "visitor",
            "names a signed buyer; sign in through the chat's buyer token",
        )
        .into());
    }
    let now = kefu_store::now();
    let mut session = match req.session_id {
        Some(id) => state
            .store
            .bot_session(shop.id, id)
            .await?
            .ok_or(ApiError::NotFound("bot session"))?,
        None => BotSession::new(shop.id, visitor, now),
    };
    let product = req.sku.as_deref().map(str::trim).filter(|s| !s.is_empty());
    // Anonymous: a buyer is only known through the chat's signed token.
    Ok(Json(
        bot_turn(&state, shop.id, &mut session, input, None, product, now)
            .await?
            .reply,
    ))
}

/// What a buyer question must be: not blank, not longer than [`MAX_QUESTION_CHARS`].
pub fn check_question(text: &str) -> Result<String, ValidationError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(ValidationError::new("text", "must not be empty"));
    }
    if t.chars().count() > MAX_QUESTION_CHARS {
        return Err(ValidationError::new(
            "text",
            format!("is longer than {MAX_QUESTION_CHARS} characters"),
        ));
    }
    Ok(t.to_string())
}

/// What the buyer gave the bot.
pub enum BotInput {
    /// Typed words (a number may pick a suggestion, words may ask for a person).
    Text(String),
    /// A suggestion clicked.
    Pick(EntryId),
    /// The 转人工 button.
    Human,
}

/// The bot's reply to one input, and whether the chat now goes to a person.
pub struct BotTurn {
    pub reply: BotReply,
    pub handoff: Option<HandoffReason>,
}

/// One turn of the bot (SPEC §1.2–1.3), shared by the widget's HTTP call and the chat: it
/// answers, suggests numbered questions, or falls back, and decides the hand-off when asked or
/// after the shop's number of failures in a row. Saves the session and logs the question.
pub async fn bot_turn(
    state: &AppState,
    shop: ShopId,
    session: &mut BotSession,
    input: BotInput,
    buyer: Option<&str>,
    product: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<BotTurn> {
    let bot = state.bots.get(&state.store, shop).await?;

    // What the buyer means, before any matching.
    let offered: Vec<usize> = session.offered.iter().filter_map(|id| bot.key_of(*id)).collect();
    let step = match input {
        BotInput::Human => Step::Human("[转人工]".to_string()),
        BotInput::Pick(id) => {
            let key = bot.key_of(id).ok_or(ApiError::NotFound("knowledge-base entry"))?;
            Step::Picked(bot.entry(key).question.clone(), key)
        }
        BotInput::Text(text) => {
            if wants_human(&text) {
                Step::Human(text)
            } else if let Some(pos) = pick_suggestion(&text, offered.len()) {
                Step::Picked(text, offered[pos])
            } else if let Some(answer) = data_answer(state, shop, buyer, &text, &bot.settings, now).await? {
                Step::Data(text, answer)
            } else if let Some((faq, confidence)) = product_answer(state, shop, &bot, product, &text).await? {
                Step::Product(text, Box::new(faq), confidence)
            } else {
                let (analysis, decision) = bot.ask(&text).await?;
                let confidence = analysis.candidates.first().map(|c| c.score).unwrap_or(0.0);
                Step::Asked(text, decision, confidence)
            }
        }
    };

    let (question, outcome, kind, entry_key, confidence) = match &step {
        Step::Human(q) => (q.clone(), Outcome::Handoff, ReplyKind::Handoff, None, 0.0),
        Step::Picked(q, key) => (q.clone(), Outcome::Answered, ReplyKind::Answer, Some(*key), 1.0),
        Step::Asked(q, Decision::Answer { key, confidence }, _) => {
            (q.clone(), Outcome::Answered, ReplyKind::Answer, Some(*key), *confidence)
        }
        Step::Asked(q, Decision::Suggest { keys }, c) => (
            q.clone(),
            Outcome::Suggested,
            ReplyKind::Suggest,
            keys.first().copied(),
            *c,
        ),
        Step::Asked(q, Decision::Fallback, c) => (q.clone(), Outcome::Unknown, ReplyKind::Fallback, None, *c),
        Step::Data(q, a) if a.handoff => (q.clone(), Outcome::Handoff, ReplyKind::Handoff, None, 1.0),
        Step::Data(q, _) => (q.clone(), Outcome::Answered, ReplyKind::Answer, None, 1.0),
        Step::Product(q, _, c) => (q.clone(), Outcome::Answered, ReplyKind::Answer, None, *c),
    };
    let suggestions: Vec<Suggestion> = match &step {
        Step::Asked(_, Decision::Suggest { keys }, _) => keys
            .iter()
            .enumerate()
            .map(|(i, &k)| Suggestion {
                n: i + 1,
                entry_id: bot.entry(k).id,
                question: bot.entry(k).question.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    // A pick among the suggestions on screen tells the learning loop what the question meant.
    if let Step::Picked(_, key) = &step
        && session.offered.contains(&bot.entry(*key).id)
    {
        state
            .store
            .confirm_suggestion(shop, session.id, bot.entry(*key).id)
            .await?;
    }
    session.offered = suggestions.iter().map(|s| s.entry_id).collect();
    let hand_off = !session.handed_off && session.record(outcome, bot.settings.bot.failures_before_handoff);
    let handoff = if hand_off || outcome == Outcome::Handoff {
        session.handed_off = true;
        session.failures = 0;
        let reason = if outcome == Outcome::Handoff {
            HandoffReason::Asked
        } else {
            HandoffReason::Failures
        };
        Some(handoff_for(state, shop, &bot, reason, now).await?)
    } else {
        None
    };
    session.updated_at = now;
    state.store.save_bot_session(session).await?;

    let logged = BotQuestion {
        id: Uuid::now_v7(),
        shop_id: shop,
        session_id: session.id,
        question,
        outcome,
        entry_id: entry_key.map(|k| bot.entry(k).id),
        confidence,
        helpful: None,
        confirmed: false,
        resolved: false,
        asked_at: now,
    };
    state.store.log_bot_question(&logged).await?;

    let data = match &step {
        Step::Data(_, a) => Some(a.clone()),
        _ => None,
    };
    let product_faq = match &step {
        Step::Product(_, f, _) => Some(f.as_ref()),
        _ => None,
    };
    let (text, entry, parts) = match (kind, entry_key) {
        // From the FAQ of the product the buyer came from (SPEC §2.10).
        _ if product_faq.is_some() => {
            let f = product_faq.expect("checked");
            (f.answer.clone(), None, render(state, shop, &f.answer).await?)
        }
        // From the buyer's own orders (SPEC §1.6); a hand-off says what an agent will do.
        _ if data.is_some() => {
            let a = data.as_ref().expect("checked");
            let text = match &handoff {
                Some(h) if a.handoff => format!("{}\n{}", a.text, h.text),
                _ => a.text.clone(),
            };
            (text.clone(), None, vec![ReplyPart::Text { text }])
        }
        (ReplyKind::Answer, Some(key)) => {
            let e = bot.entry(key);
            let parts = render(state, shop, &e.answer).await?;
            let entry = AnsweredEntry {
                id: e.id,
                question: e.question.clone(),
                category: bot.category_names.get(&e.category_id).cloned().unwrap_or_default(),
            };
            (e.answer.clone(), Some(entry), parts)
        }
        (ReplyKind::Suggest, _) => (bot.settings.bot.suggest_text.clone(), None, Vec::new()),
        (ReplyKind::Handoff, _) => (
            handoff.as_ref().map(|h| h.text.clone()).unwrap_or_default(),
            None,
            Vec::new(),
        ),
        _ => (bot.settings.bot.fallback_text.clone(), None, Vec::new()),
    };
    let handoff_reason = handoff.as_ref().map(|h| h.reason);
    let reply = BotReply {
        session_id: session.id,
        question_id: logged.id,
        kind,
        text,
        entry,
        parts,
        suggestions,
        handoff,
        confidence,
        about_order: data.as_ref().and_then(|a| a.order_no.clone()),
        product_faq: product_faq.map(|f| AnsweredProductFaq {
            id: f.id,
            question: f.question.clone(),
            sku: product.unwrap_or_default().to_string(),
        }),
    };
    Ok(BotTurn {
        reply,
        handoff: handoff_reason,
    })
}

enum Step {
    Human(String),
    Picked(String, usize),
    Asked(String, Decision, f32),
    Data(String, DataAnswer),
    Product(String, Box<kefu_core::product_knowledge::ProductFaq>, f32),
}

/// SPEC §2.10: a buyer asking from a product's page is answered from that product's FAQ when
/// one of its questions is a confident match — the shop's knowledge base speaks of products
/// in general, the product's FAQ of this one. Anything less confident goes to the shop's bot.
async fn product_answer(
    state: &AppState,
    shop: ShopId,
    bot: &Arc<ShopBot>,
    sku: Option<&str>,
    text: &str,
) -> ApiResult<Option<(kefu_core::product_knowledge::ProductFaq, f32)>> {
    let Some(sku) = sku else {
        return Ok(None);
    };
    let Some(p) = product_by_sku(state, shop, sku).await? else {
        return Ok(None);
    };
    let Some(k) = state.store.product_knowledge(shop, p.id).await? else {
        return Ok(None);
    };
    if k.faq.is_empty() {
        return Ok(None);
    }
    let question = text.to_string();
    let (shop_bot, faq) = (bot.clone(), k.faq.clone());
    let shop_entries = bot.entries.len();
    // The product's best question, if confident and clearly ahead of its others; the shop's
    // entries may score higher without taking the answer from the product's page.
    let best = tokio::task::spawn_blocking(move || {
        let product_bot = shop_bot.product_bot(p.id, &faq);
        let t = product_bot.thresholds;
        // The candidates only: the aspect check runs below, for the product's own best question.
        let vector = product_bot
            .semantic()
            .map(|s| s.question_vector(&kefu_bot::text::normalize(&question)));
        let analysis = product_bot.index.analyze_with(&question, vector.as_deref());
        let mut own = analysis.candidates.iter().filter(|c| c.key >= shop_entries);
        let (best, next) = (own.next()?, own.next());
        if next.is_some_and(|n| best.score - n.score < t.margin) {
            return None;
        }
        let confidence = product_bot.confidence_of(&analysis, best, next, &question);
        (confidence >= t.answer).then_some((best.key - shop_entries, confidence))
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("the bot failed: {e}")))?;
    Ok(best.and_then(|(i, confidence)| k.faq.into_iter().nth(i).map(|f| (f, confidence))))
}

/// Orders the bot looks at for a data answer, newest first.
const DATA_ORDERS: i64 = 5;

/// SPEC §1.6: a signed buyer asking about their parcel, order, address, invoice, shipping fee
/// or returns is answered from their own orders. `buyer` is the nick a verified buyer token
/// named — never what an anonymous client says. A buyer with no orders gets the FAQ.
async fn data_answer(
    state: &AppState,
    shop: ShopId,
    buyer: Option<&str>,
    text: &str,
    settings: &kefu_core::settings::ShopSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Option<DataAnswer>> {
    let (Some(nick), Some(intent)) = (buyer, order_answers::detect(text)) else {
        return Ok(None);
    };
    let Some(customer) = state.store.customer_by_nick(shop, nick).await? else {
        return Ok(None);
    };
    let q = kefu_store::OrderQuery {
        customer_id: Some(customer.id),
        page: kefu_store::Page {
            limit: DATA_ORDERS,
            offset: 0,
        },
        ..Default::default()
    };
    let details = state.store.order_details(shop, &q).await?.items;
    if details.is_empty() {
        return Ok(None);
    }
    let mut tracking = Vec::with_capacity(details.len());
    for d in &details {
        tracking.push(match &d.shipment {
            Some(s) => Some(Tracking::new(s.clone(), state.store.logistics(shop, d.order.id).await?)),
            None => None,
        });
    }
    let orders: Vec<BuyerOrder> = details
        .iter()
        .zip(&tracking)
        .map(|(detail, t)| BuyerOrder {
            detail,
            tracking: t.as_ref(),
        })
        .collect();
    let data = BuyerOrders {
        orders: &orders,
        settings,
        now,
    };
    Ok(Some(order_answers::answer(intent, &data, &settings.time_zone)))
}

async fn handoff_for(
    state: &AppState,
    shop: ShopId,
    bot: &Arc<ShopBot>,
    reason: HandoffReason,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Handoff> {
    let agents = state.store.agent_loads(shop).await?;
    let open = bot.settings.is_open(now);
    let available = open && agents.iter().any(|a| a.routing().can_take(None));
    let online = open && agents.iter().any(AgentStatus::on_duty);
    Ok(Handoff {
        reason,
        agents_available: available,
        leave_message: !available,
        // SPEC §1.7: the busy reply while everyone online is full, the away reply when
        // nobody is there.
        text: if available {
            bot.settings.bot.handoff_text.clone()
        } else if online {
            bot.settings.auto_replies.busy.clone()
        } else {
            bot.settings.auto_replies.away.clone()
        },
    })
}

/// An answer's parts with product cards filled from the catalog; a card whose product is
/// gone is left out rather than shown broken.
async fn render(state: &AppState, shop: ShopId, answer: &str) -> ApiResult<Vec<ReplyPart>> {
    let mut out = Vec::new();
    for part in answer_parts(answer) {
        out.push(match part {
            AnswerPart::Text { text } => ReplyPart::Text { text },
            AnswerPart::Link { url } => ReplyPart::Link { url },
            AnswerPart::Image { url } => ReplyPart::Image { url },
            AnswerPart::Product { sku } => match product_by_sku(state, shop, &sku).await? {
                Some(p) => ReplyPart::Product {
                    sku: p.sku,
                    title: p.title,
                    price_fen: p.price.0,
                    price: p.price.to_string(),
                    stock: p.stock,
                },
                None => {
                    tracing::warn!(%sku, "an answer shows a product the shop no longer has");
                    continue;
                }
            },
        });
    }
    Ok(out)
}

pub async fn product_by_sku(state: &AppState, shop: ShopId, sku: &str) -> ApiResult<Option<Product>> {
    let q = ProductQuery {
        text: Some(sku.to_string()),
        ..Default::default()
    };
    Ok(state
        .store
        .products(shop, &q)
        .await?
        .items
        .into_iter()
        .find(|p| p.sku == sku))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    session_id: Uuid,
    question_id: Uuid,
    helpful: bool,
}

/// "这个回答有帮助吗": once per answer, from the session that got it (SPEC §1.5).
#[utoipa::path(post, path = "/widget/{shop}/feedback", tag = "widget", params(("shop" = String, Path, description = "the shop's slug")),
    request_body = Feedback,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn feedback(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Json(req): Json<Feedback>,
) -> ApiResult<StatusCode> {
    let shop = shop_of(&state, &slug).await?;
    let q = state
        .store
        .bot_question(shop.id, req.question_id)
        .await?
        .filter(|q| q.session_id == req.session_id)
        .ok_or(ApiError::NotFound("answer"))?;
    state.store.set_bot_feedback(shop.id, q.id, req.helpful).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLeaveMessage {
    session_id: Option<Uuid>,
    #[serde(default)]
    name: String,
    /// Phone, WeChat id or e-mail.
    contact: String,
    text: String,
}

#[derive(Serialize, ToSchema)]
pub struct LeftMessage {
    id: Uuid,
    /// What to tell the buyer.
    text: String,
}

/// Leave a message for the shop's agents (留言) when nobody can take the chat.
#[utoipa::path(post, path = "/widget/{shop}/messages", tag = "widget", params(("shop" = String, Path, description = "the shop's slug")),
    request_body = NewLeaveMessage,
    responses((status = 201, body = LeftMessage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn leave_message(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Json(req): Json<NewLeaveMessage>,
) -> ApiResult<(StatusCode, Json<LeftMessage>)> {
    state.widget_limits.message(client_ip(&state, &headers, peer))?;
    let shop = shop_of(&state, &slug).await?;
    let (name, contact, text) = check_leave_message(&req.name, &req.contact, &req.text)?;
    if let Some(id) = req.session_id {
        state
            .store
            .bot_session(shop.id, id)
            .await?
            .ok_or(ApiError::NotFound("bot session"))?;
    }
    let message = LeaveMessage {
        id: Uuid::now_v7(),
        shop_id: shop.id,
        session_id: req.session_id,
        name,
        contact,
        text,
        status: MessageStatus::Open,
        note: String::new(),
        handled_by: None,
        created_at: kefu_store::now(),
        handled_at: None,
    };
    state.store.create_leave_message(&message).await?;
    notify_shop(&state, &shop, &message).await?;
    // Left from a chat waiting in the queue (the session of a chat is the chat): the buyer
    // chose not to wait, so the chat leaves the queue.
    if let Some(id) = req.session_id {
        let id = kefu_core::ids::ConversationId(id);
        if let Some(c) = state.store.conversation(shop.id, id).await?
            && c.state == kefu_core::chat::ConversationState::Queued
        {
            let close = kefu_core::chat::Transition::Close {
                reason: kefu_core::chat::CloseReason::LeftMessage,
            };
            match state.store.transition(shop.id, id, &close, kefu_store::now()).await {
                Ok(a) => {
                    crate::chat::publish(&state, &a);
                    crate::chat::route(&state, shop.id).await?;
                }
                Err(kefu_store::StoreError::Refused(_)) => {} // assigned meanwhile
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(LeftMessage {
            id: message.id,
            text: "留言成功!客服上线后会第一时间联系您。".into(),
        }),
    ))
}

/// Mails the shop's notification address about a left message, when it has one and this
/// server sends mail. Queued after the message is stored (see `crate::outbox`).
async fn notify_shop(state: &AppState, shop: &Shop, message: &LeaveMessage) -> ApiResult<()> {
    let settings = state.store.settings(shop.id).await?;
    let to = settings.notification_email.trim();
    if to.is_empty() || !state.outbox.mail_enabled() {
        return Ok(());
    }
    let mail = kefu_core::mail::leave_message_mail(&shop.name, message, &settings.time_zone);
    crate::outbox::queue_mail(
        state,
        &kefu_store::NewMail {
            id: Uuid::now_v7(),
            shop_id: shop.id,
            kind: kefu_core::mail::MailKind::LeaveMessage,
            conversation_id: None,
            to: to.to_string(),
            subject: mail.subject,
            text: mail.text,
            html: mail.html,
            created_at: state.clock.now(),
        },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptRequest {
    /// The widget's visitor id, as for the chat socket; or `token`.
    visitor: Option<String>,
    /// A buyer token the shop signed.
    token: Option<String>,
    /// Where to send the transcript.
    email: String,
}

#[derive(Serialize, ToSchema)]
pub struct TranscriptQueued {
    /// What to tell the buyer.
    text: String,
}

/// Mails the buyer the transcript of their chat (发送聊天记录到邮箱): every message so far,
/// as plain text and simple HTML. A chat may send at most a few an hour; 409 when this
/// server sends no mail.
#[utoipa::path(post, path = "/widget/{shop}/transcript", tag = "widget", params(("shop" = String, Path, description = "the shop's slug")),
    request_body = TranscriptRequest,
    responses((status = 202, body = TranscriptQueued), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn transcript(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Json(req): Json<TranscriptRequest>,
) -> ApiResult<(StatusCode, Json<TranscriptQueued>)> {
    state.widget_limits.message(client_ip(&state, &headers, peer))?;
    let shop = shop_of(&state, &slug).await?;
    let email = kefu_core::mail::check_address("email", &req.email)?;
    let (visitor, _) =
        crate::api::chat::buyer_identity(&state, shop.id, req.visitor.as_deref(), req.token.as_deref(), None).await?;
    if !state.outbox.mail_enabled() {
        return Err(ApiError::Conflict("本店暂未开通邮件发送".into()));
    }
    let c = state
        .store
        .visitor_conversation(shop.id, &visitor)
        .await?
        .ok_or(ApiError::NotFound("conversation"))?;
    let now = state.clock.now();
    let sent = state
        .store
        .transcripts_since(shop.id, c.id, now - chrono::Duration::hours(1))
        .await?;
    kefu_core::mail::may_send_transcript(sent).map_err(|message| ApiError::TooManyRequests {
        retry_after_secs: 3600,
        message,
    })?;
    let events = state.store.events_after(shop.id, c.id, 0, 5000).await?;
    let agents = state.store.accounts(shop.id).await?;
    let agent_name = |e: &kefu_core::chat::Event| match e.sender {
        kefu_core::chat::Sender::Agent(id) => agents
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.display_name.clone())
            .unwrap_or_else(|| "客服".into()),
        _ => String::new(),
    };
    let settings = state.store.settings(shop.id).await?;
    let mail = kefu_core::mail::transcript_mail(&shop.name, &events, &settings.time_zone, &agent_name);
    crate::outbox::queue_mail(
        &state,
        &kefu_store::NewMail {
            id: Uuid::now_v7(),
            shop_id: shop.id,
            kind: kefu_core::mail::MailKind::Transcript,
            conversation_id: Some(c.id),
            to: email.clone(),
            subject: mail.subject,
            text: mail.text,
            html: mail.html,
            created_at: now,
        },
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TranscriptQueued {
            text: format!("聊天记录将发送至 {email}，请注意查收。"),
        }),
    ))
}
