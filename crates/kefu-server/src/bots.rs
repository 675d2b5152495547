//! One bot per shop, built from the store and kept in memory. Every change the bot must see
//! (knowledge base, dictionary, settings) bumps the shop's bot version in the store, in the
//! same transaction; each question reads that version (one indexed row) and rebuilds a stale
//! bot — so every node of a cluster answers from the current knowledge base without any
//! messaging between nodes. A bot is also rebuilt when an entry's validity period starts or
//! ends, so an expired promotion is never answered.

use crate::error::ApiError;
use chrono::{DateTime, Utc};
use kefu_bot::{Bot, Entry, Lexicon, Thresholds};
use kefu_core::bot::BotLexicon;
use kefu_core::catalog::KbEntry;
use kefu_core::ids::{CategoryId, EntryId, ShopId};
use kefu_core::settings::ShopSettings;
use kefu_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A shop's bot with what it was built from.
pub struct ShopBot {
    pub version: i64,
    pub bot: Bot,
    /// The entries live when the bot was built; an entry's key in `bot` is its position here.
    pub entries: Vec<KbEntry>,
    pub category_names: HashMap<CategoryId, String>,
    pub settings: ShopSettings,
    pub lexicon: Lexicon,
    /// When an entry's validity period next starts or ends.
    pub stale_at: Option<DateTime<Utc>>,
}

impl ShopBot {
    pub fn entry(&self, key: usize) -> &KbEntry {
        &self.entries[key]
    }

    pub fn key_of(&self, id: EntryId) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    fn fresh(&self, version: i64, now: DateTime<Utc>) -> bool {
        self.version == version && self.stale_at.is_none_or(|t| now < t)
    }
}

/// The shop's thresholds: the bot's calibrated defaults, overridden where the shop set them.
pub fn thresholds(settings: &ShopSettings) -> Thresholds {
    let mut t = Thresholds::default();
    if let Some(a) = settings.bot.answer_threshold {
        t.answer = a;
    }
    if let Some(s) = settings.bot.suggest_threshold {
        t.suggest = s;
    }
    t.suggest = t.suggest.min(t.answer);
    t.max_suggestions = usize::from(settings.bot.max_suggestions);
    t
}

#[derive(Default)]
pub struct Bots {
    cache: Mutex<HashMap<ShopId, Arc<ShopBot>>>,
}

impl Bots {
    /// The shop's current bot, rebuilt if the knowledge base changed since it was built.
    pub async fn get(&self, store: &dyn Store, shop: ShopId) -> Result<Arc<ShopBot>, ApiError> {
        let now = kefu_store::now();
        let version = store.bot_version(shop).await?;
        if let Some(bot) = self.cached(shop)
            && bot.fresh(version, now)
        {
            return Ok(bot);
        }
        // Read the version before the data: a change landing in between only causes one
        // more rebuild later, never a stale bot.
        let settings = store.settings(shop).await?;
        let lexicon = store.bot_lexicon(shop).await?;
        let all = store.kb_entries(shop, None).await?;
        let category_names = store
            .kb_categories(shop)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let built = tokio::task::spawn_blocking(move || build(version, settings, &lexicon, all, category_names, now))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("building the bot: {e}")))?;
        let built = Arc::new(built);
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shop, built.clone());
        Ok(built)
    }

    fn cached(&self, shop: ShopId) -> Option<Arc<ShopBot>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&shop).cloned()
    }
}

fn build(
    version: i64,
    settings: ShopSettings,
    lexicon: &BotLexicon,
    all: Vec<KbEntry>,
    category_names: HashMap<CategoryId, String>,
    now: DateTime<Utc>,
) -> ShopBot {
    let stale_at = all
        .iter()
        .filter(|e| e.enabled)
        .flat_map(|e| [e.valid_from, e.valid_until])
        .flatten()
        .filter(|t| *t > now)
        .min();
    let entries: Vec<KbEntry> = all.into_iter().filter(|e| e.is_live(now)).collect();
    let lexicon = Lexicon::new(&lexicon.words, &lexicon.synonyms);
    let bot = Bot::new(
        lexicon.clone(),
        entries
            .iter()
            .enumerate()
            .map(|(key, e)| Entry {
                key,
                question: e.question.clone(),
                similar: e.similar.clone(),
            })
            .collect(),
        thresholds(&settings),
    );
    ShopBot {
        version,
        bot,
        entries,
        category_names,
        settings,
        lexicon,
        stale_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn entry(question: &str, from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> KbEntry {
        let now = kefu_store::now();
        KbEntry {
            id: EntryId::new(),
            shop_id: ShopId::new(),
            category_id: CategoryId::new(),
            question: question.into(),
            similar: vec![],
            answer: "答".into(),
            enabled: true,
            valid_from: from,
            valid_until: until,
            created_at: now,
            updated_at: now,
            stats: Default::default(),
        }
    }

    #[test]
    fn the_bot_is_stale_when_a_validity_period_starts_or_ends() {
        let now = kefu_store::now();
        let soon = now + Duration::hours(1);
        let later = now + Duration::days(3);
        let entries = vec![
            entry("双十一有活动吗", Some(soon), Some(later)),
            entry("618有活动吗", None, Some(now - Duration::days(1))),
            entry("满多少包邮", None, None),
        ];
        let bot = build(
            7,
            ShopSettings::default(),
            &BotLexicon::default(),
            entries,
            HashMap::new(),
            now,
        );
        assert_eq!(bot.entries.len(), 1, "only the live entry is answered");
        assert_eq!(bot.entries[0].question, "满多少包邮");
        assert_eq!(bot.stale_at, Some(soon));
        assert!(bot.fresh(7, now));
        assert!(!bot.fresh(7, soon), "rebuilt when the promotion starts");
        assert!(!bot.fresh(8, now), "rebuilt when the knowledge base changed");
    }

    #[test]
    fn shop_thresholds_override_the_defaults() {
        let mut s = ShopSettings::default();
        assert_eq!(thresholds(&s), Thresholds::default());
        s.bot.answer_threshold = Some(0.1);
        s.bot.max_suggestions = 5;
        let t = thresholds(&s);
        assert_eq!((t.answer, t.max_suggestions), (0.1, 5));
        assert!(t.suggest <= t.answer);
    }
}
