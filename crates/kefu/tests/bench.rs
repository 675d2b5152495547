//! `kefu bench bot` as the README runs it, on every case set in the repository: each loads
//! against its knowledge base (every expected question is one of its standard questions) and
//! the figures come out. The lexical engine alone, so the test is quick and exact; the floors
//! are a few points under today's figures, to catch a change that breaks matching, not to
//! measure it (the measured figures are in the README).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bench(args: &[&str]) -> (bool, String) {
    common::run(
        Command::new(env!("CARGO_BIN_EXE_kefu"))
            .current_dir(root())
            .args(["bench", "bot"])
            .args(args),
    )
}

/// `kefu bench bot --lexical` on the demo shop with a case file of `cases` (written to a
/// temporary file).
fn bench_demo_cases(cases: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.csv");
    std::fs::write(&path, cases).unwrap();
    let kb = root().join("demo/knowledge.csv");
    bench(&[
        "--lexical",
        "--kb",
        kb.to_str().unwrap(),
        "--cases",
        path.to_str().unwrap(),
    ])
}

/// The number after `label` in the report.
fn figure(out: &str, label: &str) -> f64 {
    let at = out.find(label).unwrap_or_else(|| panic!("no “{label}” in\n{out}")) + label.len();
    out[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(';')
        .parse()
        .unwrap()
}

#[test]
fn every_case_set_loads_and_is_measured() {
    for (kb, cases, counts, floor) in [
        (
            "demo/knowledge.csv",
            "bench/demo-cases-dev.csv",
            "(177 in scope, 36 out of scope)",
            0.66,
        ),
        (
            "demo/knowledge.csv",
            "bench/demo-cases-test.csv",
            "(118 in scope, 24 out of scope)",
            0.60,
        ),
        (
            "demo/knowledge.csv",
            "bench/demo-cases-holdout.csv",
            "(180 in scope, 45 out of scope)",
            0.62,
        ),
        (
            "bench/digital-shop/knowledge.csv",
            "bench/digital-shop/cases.csv",
            "(160 in scope, 40 out of scope)",
            0.68,
        ),
    ] {
        let (ok, out) = bench(&["--lexical", "--kb", kb, "--cases", cases]);
        assert!(ok, "{cases}: {out}");
        assert!(out.contains(counts), "{cases}: {out}");
        assert!(out.contains("engine          lexical only"), "{out}");
        let (top1, top3, mrr) = (figure(&out, "top-1 "), figure(&out, "top-3 "), figure(&out, "MRR "));
        assert!(top1 >= floor, "{cases}: top-1 {top1} under {floor}\n{out}");
        assert!(top1 <= mrr && mrr <= top3 && top3 <= 1.0, "{out}");
        let rejected = figure(&out, "out of scope not answered ");
        assert!((0.0..=1.0).contains(&rejected), "{out}");
        assert!(out.contains("matching        p50"), "{out}");
    }
}

#[test]
fn a_case_file_that_does_not_fit_is_refused_with_its_line() {
    let (ok, out) = bench_demo_cases("query,expected\n满多少免邮啊,满多少包邮?\n这个能退吗,这个问题不存在\n");
    assert!(!ok, "{out}");
    assert!(out.contains("line 3") && out.contains("这个问题不存在"), "{out}");

    let (ok, out) = bench_demo_cases("question,answer\n满多少免邮啊,满多少包邮?\n");
    assert!(!ok, "{out}");
    assert!(out.contains("`query,expected`"), "{out}");
}

/// Case files are written by people: a BOM, CRLF, a capitalised header, the expected question
/// with a full-width ？, without its question mark or in traditional characters all find the
/// standard question 满多少包邮?; a question that folds to none is still refused with its line.
#[test]
fn a_case_file_as_people_write_it_finds_its_questions() {
    let (ok, out) = bench_demo_cases(
        "\u{feff}Query, Expected\r\n满多少免邮啊,满多少包邮？\r\n包邮吗,满多少包邮\r\n滿多少包郵,滿多少包郵?\r\n你们几点下班,\r\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("(3 in scope, 1 out of scope)"), "{out}");

    let (ok, out) = bench_demo_cases("query,expected\n满多少免邮啊,满多少包邮？\n要发票,怎么开发票啦\n");
    assert!(!ok, "{out}");
    assert!(out.contains("line 3") && out.contains("怎么开发票啦"), "{out}");
}

/// `--adapter` measures with another adapter file: one that is not an adapter is refused with
/// its name, before any case is run.
#[test]
fn an_adapter_file_that_is_not_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-an-adapter.bin");
    std::fs::write(&path, b"E5LQ not an adapter").unwrap();
    let (ok, out) = bench(&[
        "--kb",
        "demo/knowledge.csv",
        "--cases",
        "bench/demo-cases-dev.csv",
        "--adapter",
        path.to_str().unwrap(),
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("not-an-adapter.bin is not an adapter"), "{out}");
    assert!(!out.contains("top-1"), "{out}");
}

/// The shops the encoder's adapter is trained on (bench/train/, tools/research/train_adapter.py)
/// are kefu knowledge bases and case files like any other: each loads, every expected question
/// is one of its standard questions, 32 entries with 5 buyer messages each and at least 50
/// out-of-scope questions.
#[test]
fn the_training_shops_load_as_case_sets() {
    let mut shops: Vec<_> = std::fs::read_dir(root().join("bench/train"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .collect();
    shops.sort();
    assert_eq!(shops.len(), 22, "{shops:?}");
    for shop in shops {
        let (kb, cases) = (shop.join("knowledge.csv"), shop.join("cases.csv"));
        let (ok, out) = bench(&[
            "--lexical",
            "--kb",
            kb.to_str().unwrap(),
            "--cases",
            cases.to_str().unwrap(),
        ]);
        assert!(ok, "{}: {out}", shop.display());
        assert!(out.contains("(32 entries,"), "{out}");
        let at = out.find("in scope, ").unwrap();
        let in_scope: usize = out[..at].rsplit('(').next().unwrap().trim().parse().unwrap();
        let oos: usize = out[at + "in scope, ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            in_scope == 160 && oos >= 50,
            "{}: {in_scope} in scope, {oos} out",
            shop.display()
        );
    }
}

/// `--dump` writes each case's best candidates with their signals and the entry's phrasing
/// nearest the question (what the research scripts pair the question with), on a small shop
/// with the sentence model.
#[test]
fn the_dump_names_each_candidate_with_its_nearest_phrasing() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, cases, dump) = (
        dir.path().join("kb.csv"),
        dir.path().join("cases.csv"),
        dir.path().join("dump.csv"),
    );
    std::fs::write(
        &kb,
        "category,question,similar,answer\n\
         物流,什么时候发货?,多久发货|几天能发出,亲，48小时内发货哦~\n\
         售后,退货运费谁出?,退货邮费谁承担|寄回运费,亲，质量问题我们承担~\n\
         活动,满多少包邮?,多少钱免运费|满几件包邮,亲，满99包邮~\n",
    )
    .unwrap();
    std::fs::write(
        &cases,
        "query,expected\n寄回去的邮费我出吗,退货运费谁出?\n你们卖手机壳吗,\n",
    )
    .unwrap();
    let (ok, out) = bench(&[
        "--kb",
        kb.to_str().unwrap(),
        "--cases",
        cases.to_str().unwrap(),
        "--dump",
        dump.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let mut r = csv::Reader::from_path(&dump).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    let (case, rank, question, right, phrasing) =
        (col("case"), col("rank"), col("question"), col("right"), col("phrasing"));
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(
        rows.iter().any(|x| &x[case] == "1"),
        "the out-of-scope case is dumped too"
    );
    let first = rows.iter().find(|x| &x[case] == "0" && &x[rank] == "1").unwrap();
    assert_eq!(&first[question], "退货运费谁出?");
    assert_eq!(&first[right], "1");
    assert!(
        ["退货运费谁出?", "退货邮费谁承担", "寄回运费"].contains(&&first[phrasing]),
        "{:?}",
        &first[phrasing]
    );
    for x in &rows {
        assert!(
            !x[phrasing].is_empty(),
            "every candidate has its nearest phrasing: {x:?}"
        );
    }
    // The answer model's confidence, a probability, and how often it was right per bin: the
    // bins count both cases.
    let confidence: f64 = first[col("confidence")].parse().unwrap();
    assert!(confidence > 0.0 && confidence < 1.0, "{confidence}");
    let line = out
        .lines()
        .find(|l| l.contains("calibration"))
        .unwrap_or_else(|| panic!("{out}"));
    let counted: usize = line
        .split('(')
        .skip(2)
        .map(|c| c.split(')').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(counted, 2, "{line}");
}
