//! The bot's admin side (SPEC §1.2, §1.4, §1.5): the shop's dictionary and synonyms, the test
//! console, and the learning loop — questions the bot could not answer, grouped, with a
//! suggestion for each group that the admin accepts in one call.

use crate::AppState;
use crate::auth::Caller;
use crate::bots::ShopBot;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Query};
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kefu_bot::{Candidate, Decision, Thresholds, learn};
use kefu_core::ValidationError;
use kefu_core::bot::BotLexicon;
use kefu_core::catalog::KbEntry;
use kefu_core::ids::{CategoryId, EntryId};
use kefu_core::kb::clean_question;
use kefu_store::Learn;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_lexicon, put_lexicon))
        .routes(routes!(console))
        .routes(routes!(suggestions))
        .routes(routes!(accept))
}

/// The shop's own words and synonym groups (the built-in e-commerce ones always apply).
#[utoipa::path(get, path = "/bot/lexicon", tag = "bot", responses((status = 200, body = BotLexicon)),
    security(("bearer" = []), ("cookie" = [])))]
async fn get_lexicon(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<BotLexicon>> {
    Ok(Json(state.store.bot_lexicon(caller.shop()).await?))
}

/// Replace the shop's words (product names, slang such as 拍下) and synonym groups (the
/// first word of a group is the one the others count as).
#[utoipa::path(put, path = "/bot/lexicon", tag = "bot", request_body = BotLexicon,
    responses((status = 403, body = ErrorBody), (status = 200, body = BotLexicon), (status = 422, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn put_lexicon(
    State(state): State<AppState>,
    caller: Caller,
    Json(mut lexicon): Json<BotLexicon>,
) -> ApiResult<Json<BotLexicon>> {
    caller.require_manager()?;
    lexicon.normalize_and_check()?;
    state.store.put_bot_lexicon(caller.shop(), &lexicon).await?;
    Ok(Json(lexicon))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleQuestion {
    question: String,
}

/// A candidate entry with every signal's score.
#[derive(Serialize, ToSchema)]
pub struct ConsoleCandidate {
    #[schema(value_type = String, format = Uuid)]
    entry_id: EntryId,
    question: String,
    category: String,
    #[serde(flatten)]
    scores: Candidate,
}

#[derive(Serialize, ToSchema)]
pub struct ConsoleResult {
    /// The question folded (traditional → simplified, widths, case, punctuation).
    normalized: String,
    /// Its words after segmentation, synonyms and filler.
    tokens: Vec<String>,
    /// Best first (at most 10).
    candidates: Vec<ConsoleCandidate>,
    /// The aspect check of the best candidate (with the semantic signal): what is left of the
    /// question and of the entry's nearest phrasing without their shared words, how near the
    /// rests are, and the confidence the answer threshold is held against.
    check: Option<kefu_bot::aspect::Check>,
    decision: Decision,
    thresholds: Thresholds,
    /// Whether the words ask for a person (转人工 …), which comes before matching.
    wants_human: bool,
    /// Whether the semantic signal took part (it joins shortly after a knowledge-base change,
    /// once the new phrasings are embedded).
    semantic: bool,
}

/// The test console (SPEC §1.4): how the bot reads a question and what it would do, without
/// logging anything.
#[utoipa::path(post, path = "/bot/console", tag = "bot", request_body = ConsoleQuestion,
    responses((status = 200, body = ConsoleResult), (status = 422, body = ErrorBody)), security(("bearer" = []), ("cookie" = [])))]
async fn console(
    State(state): State<AppState>,
    caller: Caller,
    Json(q): Json<ConsoleQuestion>,
) -> ApiResult<Json<ConsoleResult>> {
    caller.require_manager()?;
    let question = clean_question("question", &q.question)?;
    let bot = state.bots.get(&state.store, caller.shop()).await?;
    let (analysis, decision) = bot.ask(&question).await?;
    let candidates = analysis
        .candidates
        .iter()
        .take(10)
        .map(|c| {
            let e = bot.entry(c.key);
            ConsoleCandidate {
                entry_id: e.id,
                question: e.question.clone(),
                category: bot.category_names.get(&e.category_id).cloned().unwrap_or_default(),
                scores: c.clone(),
            }
        })
        .collect();
    Ok(Json(ConsoleResult {
        normalized: analysis.normalized,
        tokens: analysis.tokens,
        candidates,
        check: analysis.check,
        decision,
        thresholds: bot.bot.thresholds,
        wants_human: kefu_bot::wants_human(&question),
        semantic: bot.semantic,
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SuggestionParams {
    /// How many of the latest open questions to group (default 500, at most 2000).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LoggedQuestion {
    id: Uuid,
    question: String,
    asked_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proposal {
    /// The group asks what this entry answers: add the questions as its similar phrasings.
    AddSimilar {
        #[schema(value_type = String, format = Uuid)]
        entry_id: EntryId,
        entry_question: String,
        confidence: f32,
    },
    /// Nothing in the knowledge base answers it: write a new entry.
    NewEntry { question: String },
}

#[derive(Serialize, ToSchema)]
pub struct QuestionGroup {
    /// How many times it was asked.
    count: usize,
    /// How many of the buyers then picked the proposed entry from the suggestions.
    confirmed_by_buyers: usize,
    /// The questions, the most typical first.
    questions: Vec<LoggedQuestion>,
    proposal: Proposal,
}

/// The learning loop (SPEC §1.5): questions the bot could not answer outright, grouped by
/// meaning, largest group first, each with a proposal.
#[utoipa::path(get, path = "/bot/suggestions", tag = "bot", params(SuggestionParams),
    responses((status = 403, body = ErrorBody), (status = 200, body = Vec<QuestionGroup>)), security(("bearer" = []), ("cookie" = [])))]
async fn suggestions(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SuggestionParams>,
) -> ApiResult<Json<Vec<QuestionGroup>>> {
    caller.require_manager()?;
    let limit = p.limit.unwrap_or(500);
    if !(1..=2000).contains(&limit) {
        return Err(ValidationError::new("limit", "must be between 1 and 2000").into());
    }
    let open = state.store.open_bot_questions(caller.shop(), limit).await?;
    let bot = state.bots.get(&state.store, caller.shop()).await?;
    let groups = tokio::task::spawn_blocking(move || group(&bot, open))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("grouping failed: {e}")))?;
    Ok(Json(groups))
}

fn group(bot: &Arc<ShopBot>, open: Vec<kefu_core::bot::BotQuestion>) -> Vec<QuestionGroup> {
    let texts: Vec<String> = open.iter().map(|q| q.question.clone()).collect();
    learn::group(&bot.lexicon, &texts, learn::SAME_QUESTION)
        .into_iter()
        .map(|members| {
            let head = &open[members[0]];
            // What buyers picked from the suggestions outweighs the bot's own guess.
            let mut picked: std::collections::HashMap<EntryId, usize> = Default::default();
            for &i in &members {
                if let (true, Some(e)) = (open[i].confirmed, open[i].entry_id) {
                    *picked.entry(e).or_default() += 1;
                }
            }
            let confirmed = picked
                .into_iter()
                .filter_map(|(e, n)| bot.key_of(e).map(|k| (k, n)))
                .max_by_key(|&(k, n)| (n, std::cmp::Reverse(k)));
            let (analysis, _) = bot.bot.ask(&head.question);
            let best = analysis
                .candidates
                .first()
                .filter(|c| c.score >= bot.bot.thresholds.suggest)
                .map(|c| (c.key, c.score));
            let proposal = match confirmed.map(|(key, _)| (key, 1.0)).or(best) {
                Some((key, confidence)) => Proposal::AddSimilar {
                    entry_id: bot.entry(key).id,
                    entry_question: bot.entry(key).question.clone(),
                    confidence,
                },
                None => Proposal::NewEntry {
                    question: head.question.clone(),
                },
            };
            QuestionGroup {
                count: members.len(),
                confirmed_by_buyers: confirmed.map(|(_, n)| n).unwrap_or(0),
                questions: members
                    .iter()
                    .map(|&i| LoggedQuestion {
                        id: open[i].id,
                        question: open[i].question.clone(),
                        asked_at: open[i].asked_at,
                    })
                    .collect(),
                proposal,
            }
        })
        .collect()
}

#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Add the questions as similar phrasings of this entry.
    AddSimilar {
        #[schema(value_type = String, format = Uuid)]
        entry_id: EntryId,
    },
    /// Create an entry: the standard question (default: the first question), the answer;
    /// the other questions become its similar phrasings.
    NewEntry {
        #[schema(value_type = String, format = Uuid)]
        category_id: CategoryId,
        question: Option<String>,
        answer: String,
    },
    /// Not worth an entry: remove them from the list.
    Dismiss,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// Ids of logged questions (from `GET /bot/suggestions`).
    questions: Vec<Uuid>,
    action: Action,
}

/// Accept a proposal in one call: the questions are handled and the knowledge base learns.
#[utoipa::path(post, path = "/bot/suggestions/accept", tag = "bot", request_body = Accept,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = []), ("cookie" = [])))]
async fn accept(State(state): State<AppState>, caller: Caller, Json(req): Json<Accept>) -> ApiResult<StatusCode> {
    caller.require_manager()?;
    if req.questions.is_empty() || req.questions.len() > 500 {
        return Err(ValidationError::new("questions", "name between 1 and 500 questions").into());
    }
    let shop = caller.shop();
    let mut texts = Vec::new();
    for id in &req.questions {
        let q = state
            .store
            .bot_question(shop, *id)
            .await?
            .ok_or(ApiError::NotFound("logged question"))?;
        let t = clean_question("questions", &q.question)?;
        if !texts.contains(&t) {
            texts.push(t);
        }
    }
    let now = kefu_store::now();
    let learn = match req.action {
        Action::Dismiss => Learn::Dismiss,
        Action::AddSimilar { entry_id } => Learn::AddSimilar {
            entry: entry_id,
            phrasings: texts,
        },
        Action::NewEntry {
            category_id,
            question,
            answer,
        } => {
            let question = question.unwrap_or_else(|| texts[0].clone());
            let entry = KbEntry {
                id: EntryId::new(),
                shop_id: shop,
                category_id,
                similar: texts.into_iter().filter(|t| *t != question).collect(),
                question,
                answer,
                enabled: true,
                valid_from: None,
                valid_until: None,
                created_at: now,
                updated_at: now,
                stats: Default::default(),
            };
            Learn::NewEntry(Box::new(crate::api::kb::checked(&state, shop, entry).await?))
        }
    };
    state
        .store
        .resolve_bot_questions(shop, &req.questions, &learn, now)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
