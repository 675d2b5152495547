//! One bot per shop, built from the store and kept in memory. Every change the bot must see
//! (knowledge base, dictionary, settings) bumps the shop's bot version in the store, in the
//! same transaction; each question reads that version (one indexed row) and rebuilds a stale
//! bot — so every node of a cluster answers from the current knowledge base without any
//! messaging between nodes. A bot is also rebuilt when an entry's validity period starts or
//! ends, so an expired promotion is never answered.
//!
//! With the semantic signal on, a rebuild first makes the lexical bot (milliseconds) and
//! answers with it, while the semantic one is built on a blocking thread: embedding a large
//! knowledge base's phrasings the first time takes minutes (~20 ms each), and no buyer should
//! wait for it. Each shop keeps its `Semantic`, so later rebuilds embed only new phrasings,
//! and the vectors are stored (`Store::put_bot_vectors`), so that a restart or another node
//! embeds nothing it already has.

use crate::error::ApiError;
use chrono::{DateTime, Utc};
use kefu_bot::Semantic;
use kefu_bot::{Bot, Entry, Lexicon, Thresholds};
use kefu_core::bot::BotLexicon;
use kefu_core::catalog::KbEntry;
use kefu_core::ids::{CategoryId, EntryId, ProductId, ShopId};
use kefu_core::kb::answer_text;
use kefu_core::product_knowledge::ProductFaq;
use kefu_core::settings::ShopSettings;
use kefu_store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// How many products' bots a shop keeps at once.
const MAX_PRODUCT_BOTS: usize = 64;

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
    /// Whether the semantic signal is part of this bot.
    pub semantic: bool,
    /// The shop's sentence vectors when `semantic`: product bots share them, so a product's
    /// FAQ is matched by meaning as the shop's entries are, and only its own phrasings are new.
    vectors: Option<Arc<Semantic>>,
    /// Small lexical bots over single products' FAQ, built when first asked, by product and
    /// a fingerprint of its questions; a rebuilt shop bot (new words, new thresholds) starts
    /// without them.
    pub product_bots: Mutex<HashMap<ProductId, (u64, Arc<Bot>)>>,
}

impl ShopBot {
    pub fn entry(&self, key: usize) -> &KbEntry {
        &self.entries[key]
    }

    pub fn key_of(&self, id: EntryId) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    /// Asks on a blocking thread: a question the model has not seen costs a ~20 ms forward
    /// pass, too long for the async runtime.
    pub async fn ask(self: &Arc<Self>, question: &str) -> Result<(kefu_bot::Analysis, kefu_bot::Decision), ApiError> {
        let bot = self.clone();
        let question = question.to_string();
        tokio::task::spawn_blocking(move || bot.bot.ask(&question))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("the bot failed: {e}")))
    }

    /// The bot over the shop's entries and one product's FAQ (SPEC §2.10): the shop's
    /// entries first (keys `0..entries.len()`), then the product's questions (key
    /// `entries.len() + i` for `faq[i]`). The shop's entries are there so that words weigh
    /// what they weigh in the shop — over a product's handful of questions alone, a shared
    /// 会不会 outweighs 缩水 — and a question the shop answers better is left to the shop.
    /// Built when first asked and kept by a fingerprint of the questions; with the semantic
    /// signal when the shop's bot has it (the first build embeds the product's phrasings, ~20
    /// ms each, so call it off the async runtime).
    pub fn product_bot(&self, product: ProductId, faq: &[ProductFaq]) -> Arc<Bot> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for f in faq {
            (f.id, f.updated_at, &f.question, &f.similar, &f.answer).hash(&mut h);
        }
        let print = h.finish();
        let mut bots = self.product_bots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((p, bot)) = bots.get(&product)
            && *p == print
        {
            return bot.clone();
        }
        let shop = self.entries.iter().map(|e| (&e.question, &e.similar, &e.answer));
        let own = faq.iter().map(|f| (&f.question, &f.similar, &f.answer));
        let entries = shop
            .chain(own)
            .enumerate()
            .map(|(key, (question, similar, answer))| Entry {
                key,
                question: question.clone(),
                similar: similar.clone(),
                answer: answer_text(answer),
            })
            .collect();
        let bot = Arc::new(match &self.vectors {
            Some(v) => Bot::with_semantic(
                self.lexicon.clone(),
                entries,
                thresholds(&self.settings, true),
                v.clone(),
            ),
            None => Bot::new(self.lexicon.clone(), entries, thresholds(&self.settings, false)),
        });
        // Each holds an index of the whole knowledge base: keep the products asked about lately.
        if bots.len() >= MAX_PRODUCT_BOTS {
            bots.clear();
        }
        bots.insert(product, (print, bot.clone()));
        bot
    }

    fn fresh(&self, version: i64, now: DateTime<Utc>) -> bool {
        self.version == version && self.stale_at.is_none_or(|t| now < t)
    }
}

/// The shop's thresholds: the bot's calibrated defaults (they differ with and without the
/// semantic signal), overridden where the shop set them.
pub fn thresholds(settings: &ShopSettings, semantic: bool) -> Thresholds {
    let mut t = if semantic {
        Thresholds::SEMANTIC
    } else {
        Thresholds::default()
    };
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

/// What a bot is built from.
#[derive(Clone)]
struct Source {
    version: i64,
    settings: ShopSettings,
    lexicon: BotLexicon,
    entries: Vec<KbEntry>,
    category_names: HashMap<CategoryId, String>,
    now: DateTime<Utc>,
}

#[derive(Default)]
pub struct Bots {
    /// Whether bots get the semantic signal (the bundled sentence model).
    semantic: bool,
    cache: Mutex<HashMap<ShopId, Arc<ShopBot>>>,
    semantics: Mutex<HashMap<ShopId, Arc<Semantic>>>,
    /// Semantic builds under way, by shop and version.
    building: Mutex<HashSet<(ShopId, i64)>>,
    /// Texts whose vectors the store holds, per shop (loaded with the first semantic build).
    stored: tokio::sync::Mutex<HashMap<ShopId, HashSet<String>>>,
    /// One rebuild at a time per shop: a burst of buyers after a knowledge-base change must
    /// not build the same bot once each (measured: 2,000 hand-overs at once ran a server out
    /// of 24 GB).
    rebuilding: Mutex<HashMap<ShopId, Arc<tokio::sync::Mutex<()>>>>,
}

/// Names the model in stored vectors: the digest of its file and of kefu's adapter, so that a
/// new model (or the same one adapted otherwise) never reads vectors made by another.
pub fn model_id() -> &'static str {
    static ID: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use sha2::Digest;
        let digest = sha2::Sha256::new()
            .chain_update(kefu_embed::E5_SMALL_ZH)
            .chain_update(kefu_embed::KEFU_ADAPTER)
            .finalize();
        format!("e5-small-zh-q4+kefu:{}", &hex::encode(digest)[..16])
    });
    &ID
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Bots {
    pub fn new(semantic: bool) -> Bots {
        Bots {
            semantic,
            ..Default::default()
        }
    }

    /// The shop's current bot, rebuilt if the knowledge base changed since it was built.
    pub async fn get(self: &Arc<Self>, store: &Arc<dyn Store>, shop: ShopId) -> Result<Arc<ShopBot>, ApiError> {
        let now = kefu_store::now();
        let version = store.bot_version(shop).await?;
        let cached = lock(&self.cache).get(&shop).cloned();
        if let Some(bot) = cached
            && bot.fresh(version, now)
        {
            if self.semantic && !bot.semantic {
                self.build_semantic_soon(shop, version, store, now).await?;
            }
            return Ok(bot);
        }
        let gate = lock(&self.rebuilding).entry(shop).or_default().clone();
        let _rebuilding = gate.lock().await;
        if let Some(bot) = lock(&self.cache).get(&shop).cloned()
            && bot.fresh(version, now)
        {
            return Ok(bot);
        }
        // Read the version before the data: a change landing in between only causes one
        // more rebuild later, never a stale bot.
        let source = load(store.as_ref(), shop, version, now).await?;
        let lexical = source.clone();
        let built = tokio::task::spawn_blocking(move || build(lexical, None))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("building the bot: {e}")))?;
        let built = Arc::new(built);
        self.install(shop, built.clone());
        if self.semantic {
            self.spawn_semantic(store.clone(), shop, source);
        }
        Ok(built)
    }

    /// Whether the shop's current bot has the semantic signal (for the console and tests).
    pub fn has_semantic(&self, shop: ShopId) -> bool {
        lock(&self.cache).get(&shop).is_some_and(|b| b.semantic)
    }

    async fn build_semantic_soon(
        self: &Arc<Self>,
        shop: ShopId,
        version: i64,
        store: &Arc<dyn Store>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        if lock(&self.building).contains(&(shop, version)) {
            return Ok(());
        }
        let source = load(store.as_ref(), shop, version, now).await?;
        self.spawn_semantic(store.clone(), shop, source);
        Ok(())
    }

    fn spawn_semantic(self: &Arc<Self>, store: Arc<dyn Store>, shop: ShopId, source: Source) {
        let key = (shop, source.version);
        if !lock(&self.building).insert(key) {
            return;
        }
        let semantic = lock(&self.semantics)
            .entry(shop)
            .or_insert_with(|| Arc::new(Semantic::bundled()))
            .clone();
        let bots = self.clone();
        tokio::spawn(async move {
            if let Err(e) = bots.build_semantic(store, shop, source, semantic).await {
                tracing::warn!(%shop, error = %e, "building the semantic bot");
            }
            lock(&bots.building).remove(&key);
        });
    }

    async fn build_semantic(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        shop: ShopId,
        source: Source,
        semantic: Arc<Semantic>,
    ) -> Result<(), ApiError> {
        // Semantic builds run one at a time (they are CPU-bound anyway), which also keeps the
        // stored sets consistent.
        let mut stored_all = self.stored.lock().await;
        if let std::collections::hash_map::Entry::Vacant(slot) = stored_all.entry(shop) {
            let vectors = store.bot_vectors(shop, model_id()).await?;
            slot.insert(vectors.iter().map(|(t, _)| t.clone()).collect());
            semantic.remember(vectors.into_iter().map(|(t, v)| (t, v.into())));
        }
        let started = std::time::Instant::now();
        let s = semantic.clone();
        let built = tokio::task::spawn_blocking(move || build(source, Some(s)))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("building the bot: {e}")))?;
        let built = Arc::new(built);
        tracing::info!(%shop, version = built.version, entries = built.entries.len(), ms = started.elapsed().as_millis() as u64, "semantic bot ready");
        // Only if nothing newer was installed meanwhile.
        let current = lock(&self.cache).get(&shop).map(|b| b.version);
        if current.is_none_or(|v| v <= built.version) {
            self.install(shop, built);
        }
        // Store what is new; forget what the knowledge base no longer holds.
        let stored = stored_all.entry(shop).or_default();
        let now_held = semantic.phrasings();
        let held: HashSet<&str> = now_held.iter().map(|(t, _)| t.as_str()).collect();
        let add: Vec<(String, Vec<f32>)> = now_held
            .iter()
            .filter(|(t, _)| !stored.contains(t))
            .map(|(t, v)| (t.clone(), v.to_vec()))
            .collect();
        let remove: Vec<String> = stored.iter().filter(|t| !held.contains(t.as_str())).cloned().collect();
        if !add.is_empty() || !remove.is_empty() {
            store.put_bot_vectors(shop, model_id(), &add, &remove).await?;
            stored.extend(add.into_iter().map(|(t, _)| t));
            stored.retain(|t| held.contains(t.as_str()));
        }
        Ok(())
    }

    fn install(&self, shop: ShopId, bot: Arc<ShopBot>) {
        lock(&self.cache).insert(shop, bot);
    }
}

async fn load(store: &dyn Store, shop: ShopId, version: i64, now: DateTime<Utc>) -> Result<Source, ApiError> {
    Ok(Source {
        version,
        settings: store.settings(shop).await?,
        lexicon: store.bot_lexicon(shop).await?,
        entries: store.kb_entries(shop, None).await?,
        category_names: store
            .kb_categories(shop)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect(),
        now,
    })
}

fn build(source: Source, semantic: Option<Arc<Semantic>>) -> ShopBot {
    let Source {
        version,
        settings,
        lexicon,
        entries: all,
        category_names,
        now,
    } = source;
    let stale_at = all
        .iter()
        .filter(|e| e.enabled)
        .flat_map(|e| [e.valid_from, e.valid_until])
        .flatten()
        .filter(|t| *t > now)
        .min();
    let entries: Vec<KbEntry> = all.into_iter().filter(|e| e.is_live(now)).collect();
    let lexicon = Lexicon::new(&lexicon.words, &lexicon.synonyms);
    let bot_entries = entries
        .iter()
        .enumerate()
        .map(|(key, e)| Entry {
            key,
            question: e.question.clone(),
            similar: e.similar.clone(),
            answer: answer_text(&e.answer),
        })
        .collect();
    let has_semantic = semantic.is_some();
    let thresholds = thresholds(&settings, has_semantic);
    let bot = match &semantic {
        Some(s) => Bot::with_semantic(lexicon.clone(), bot_entries, thresholds, s.clone()),
        None => Bot::new(lexicon.clone(), bot_entries, thresholds),
    };
    ShopBot {
        version,
        bot,
        entries,
        category_names,
        settings,
        lexicon,
        stale_at,
        semantic: has_semantic,
        vectors: semantic,
        product_bots: Mutex::new(HashMap::new()),
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
        let source = Source {
            version: 7,
            settings: ShopSettings::default(),
            lexicon: BotLexicon::default(),
            entries,
            category_names: HashMap::new(),
            now,
        };
        let bot = build(source, None);
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
        assert_eq!(thresholds(&s, false), Thresholds::default());
        assert_eq!(thresholds(&s, true), Thresholds::SEMANTIC);
        s.bot.answer_threshold = Some(0.1);
        s.bot.max_suggestions = 5;
        let t = thresholds(&s, true);
        assert_eq!((t.answer, t.max_suggestions), (0.1, 5));
        assert!(t.suggest <= t.answer);
    }
}
