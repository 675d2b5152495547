//! Words: jieba segmentation with the shop's own dictionary, synonyms folded to one canonical
//! word, and filler (亲, 啊, 呀, 吗 …) dropped — so 满多少免邮啊 and 满多少包邮 become the same tokens.

use jieba_rs::Jieba;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Built-in e-commerce synonym groups; the first word of each group is the canonical one.
pub const BUILTIN_SYNONYMS: &[&[&str]] = &[
    &["运费", "邮费", "快递费", "邮资", "运费钱"],
    &["包邮", "免邮", "免运费", "包运费", "不要运费", "包油"],
    &["退款", "退钱", "退费", "钱退", "退回钱"],
    &["快递", "物流", "快递公司", "kd"],
    &["发货", "发出", "寄出", "出货", "发件"],
    &["顺丰", "sf", "顺风"],
    &["优惠券", "券", "优惠卷", "红包"],
    &["发票", "开票", "票据"],
    &["尺码", "尺寸", "码数", "号码", "码"],
    &["多久", "多长时间", "几天", "多少天"],
    &["什么时候", "啥时候", "何时", "几时", "哪天"],
    &["怎么", "怎样", "如何", "咋", "肿么", "怎么样", "咋样", "怎么办"],
    &["什么", "啥", "神马", "啥子"],
    &["没有", "木有", "没"],
    &["可以", "能", "能不能", "可不可以", "行不行", "行吗"],
    &["便宜", "优惠", "打折", "折扣", "降价"],
    &["破损", "损坏", "坏了", "摔坏", "压坏"],
    &["换货", "调换", "更换"],
    &["修改", "改", "更改", "改成"],
    &["付款", "支付", "付钱", "买单"],
    &["宝宝", "孩子", "小孩", "婴儿", "娃"],
    &["纸尿裤", "尿不湿", "尿片"],
    &["正品", "真货", "正货", "假货"],
    &["赠品", "礼品", "送的东西", "小礼物"],
    &["收到", "到货", "签收", "到了"],
    &["地址", "收货地址"],
    // Festival names and the typos buyers make most (台头 for 抬头, 积份 for 积分).
    &["双十一", "双11", "光棍节"],
    &["双十二", "双12"],
    &["抬头", "台头"],
    &["积分", "积份"],
];

/// Words that carry no meaning for matching.
const FILLER: &[&str] = &[
    "亲",
    "亲亲",
    "啊",
    "呀",
    "吗",
    "嘛",
    "呢",
    "吧",
    "哦",
    "哈",
    "啦",
    "的",
    "了",
    "么",
    "哇",
    "喔",
    "噢",
    "呗",
    "哈哈",
    "嗯",
    "额",
    "请问",
    "你好",
    "您好",
    "在吗",
    "在不在",
    "一下",
    "那个",
    "就是",
    "我",
    "我们",
    "你",
    "你们",
    "您",
    "是",
    "个",
    "下",
    "哎",
    "诶",
    "呐",
    "滴",
    "咯",
    "麻烦",
    "谢谢",
    "老板",
    "店家",
    "掌柜",
    " ",
];

/// Question and function words: they shape a question but say little about its topic, so they
/// count for a quarter of their weight (怎么 alone must not match 今天天气怎么样 to 运费怎么算).
const LIGHT: &[&str] = &[
    "怎么",
    "什么",
    "什么时候",
    "可以",
    "多久",
    "没有",
    "有",
    "要",
    "会",
    "多少",
    "哪",
    "哪里",
    "哪个",
    "为什么",
    "还",
    "都",
    "这个",
    "这",
    "那",
    "吗",
    "不",
    "能",
    "想",
    "问",
    "问下",
    "一",
    "几",
];

/// Whether a word is filler (亲, 啊, 请问 …): it says nothing about what a text is about.
pub(crate) fn is_filler(word: &str) -> bool {
    FILLER.contains(&word)
}

/// The weight factor of a light word.
pub const LIGHT_FACTOR: f32 = 0.25;

/// The process's one jieba with the built-in dictionary (loading it takes ~0.4 s): shop
/// lexicons start from a clone, and search segments with it as it is.
pub(crate) fn base_jieba() -> &'static Jieba {
    static BASE: OnceLock<Jieba> = OnceLock::new();
    BASE.get_or_init(Jieba::new)
}

/// A shop's segmentation and synonyms.
#[derive(Clone)]
pub struct Lexicon {
    jieba: Jieba,
    canonical: HashMap<String, String>,
    filler: HashSet<&'static str>,
    light: HashSet<&'static str>,
}

impl Lexicon {
    /// The built-in lexicon plus a shop's dictionary words (product names, slang) and synonym
    /// groups (first word canonical). Shop groups are applied after the built-in ones, so a shop
    /// may regroup a built-in word.
    pub fn new(shop_words: &[String], shop_synonyms: &[Vec<String>]) -> Lexicon {
        let mut jieba = base_jieba().clone();
        let mut canonical = HashMap::new();
        let groups = BUILTIN_SYNONYMS
            .iter()
            .map(|g| g.iter().map(|w| w.to_string()).collect::<Vec<_>>())
            .chain(shop_synonyms.iter().cloned());
        for group in groups {
            let group: Vec<String> = group
                .iter()
                .map(|w| crate::text::compact(&crate::text::normalize(w)))
                .collect();
            let Some(head) = group.first().filter(|h| !h.is_empty()) else {
                continue;
            };
            for w in &group {
                if w.chars().count() > 1 {
                    jieba.add_word(w, Some(50_000), None);
                }
                canonical.insert(w.clone(), head.clone());
            }
        }
        for w in shop_words {
            let w = crate::text::compact(&crate::text::normalize(w));
            if w.chars().count() > 1 {
                jieba.add_word(&w, Some(50_000), None);
            }
        }
        Lexicon {
            jieba,
            canonical,
            filler: FILLER.iter().copied().collect(),
            light: LIGHT.iter().copied().collect(),
        }
    }

    /// How much a (canonical) word counts, relative to its rarity.
    pub fn weight(&self, word: &str) -> f32 {
        if self.light.contains(word) { LIGHT_FACTOR } else { 1.0 }
    }

    /// Tokens of a folded text: segmented, synonyms made canonical, filler dropped, in order.
    pub fn tokens(&self, normalized: &str) -> Vec<String> {
        self.cut(normalized).into_iter().map(|w| self.canonical(w)).collect()
    }

    /// The segmented words of a folded text, trimmed, filler dropped.
    fn cut<'a>(&self, normalized: &'a str) -> Vec<&'a str> {
        self.jieba
            .cut(normalized, true)
            .into_iter()
            .map(|t| t.word.trim())
            .filter(|w| !w.is_empty() && !self.filler.contains(w))
            .collect()
    }

    fn canonical(&self, word: &str) -> String {
        self.canonical.get(word).cloned().unwrap_or_else(|| word.to_string())
    }

    /// Words of a folded text as written, each with its canonical form: filler and
    /// punctuation dropped, in order (the aspect check keeps what the buyer wrote).
    pub fn words(&self, normalized: &str) -> Vec<(String, String)> {
        self.cut(normalized)
            .into_iter()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .map(|w| (w.to_string(), self.canonical(w)))
            .collect()
    }
}

impl Default for Lexicon {
    fn default() -> Self {
        Lexicon::new(&[], &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize;

    #[test]
    fn synonyms_and_filler_fold_away() {
        let lx = Lexicon::default();
        assert_eq!(
            lx.tokens(&normalize("满多少免邮啊亲")),
            lx.tokens(&normalize("满多少包邮"))
        );
        assert!(lx.tokens(&normalize("快递费谁出")).contains(&"运费".to_string()));
        assert!(
            !lx.tokens(&normalize("请问可以退钱吗"))
                .iter()
                .any(|t| t == "吗" || t == "请问")
        );
        // Festival names and common typos land on the word the knowledge base uses.
        for (said, meant) in [
            ("光棍节有满减吗", "双十一"),
            ("双11打折吗", "双十一"),
            ("发票台头写错了", "抬头"),
            ("我的积份呢", "积分"),
        ] {
            let tokens = lx.tokens(&normalize(said));
            assert!(tokens.contains(&meant.to_string()), "{said}: {tokens:?}");
        }
    }

    #[test]
    fn shop_words_segment_as_units() {
        let plain = Lexicon::default();
        let shop = Lexicon::new(&["小棉袄连体衣".into()], &[vec!["拉拉裤".into(), "安睡裤".into()]]);
        assert!(
            shop.tokens(&normalize("小棉袄连体衣有货吗"))
                .contains(&"小棉袄连体衣".to_string())
        );
        assert!(
            !plain
                .tokens(&normalize("小棉袄连体衣有货吗"))
                .contains(&"小棉袄连体衣".to_string())
        );
        assert_eq!(shop.tokens(&normalize("安睡裤")), vec!["拉拉裤".to_string()]);
    }
}
