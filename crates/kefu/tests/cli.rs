//! The `kefu` binary as an admin runs it: create a shop, import a knowledge base into it,
//! export it again; a bad file is refused with its line and changes nothing.

mod common;

use std::path::Path;
use std::process::Command;

fn kefu(data: &Path, args: &[&str]) -> (bool, String) {
    common::run(
        Command::new(env!("CARGO_BIN_EXE_kefu"))
            .args(args)
            .arg("--data-dir")
            .arg(data)
            .env("KEFU_OWNER_PASSWORD", "owner-password-1")
            .env("RUST_LOG", "warn"),
    )
}

#[test]
fn knowledge_base_import_and_export_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, out) = kefu(&data, &["shop", "create", "--slug", "baby", "--name", "宝宝小店"]);
    assert!(ok, "{out}");

    let file = dir.path().join("kb.csv");
    std::fs::write(
        &file,
        "category,question,similar,answer\n快递物流,满多少包邮?,包邮吗|运费怎么算,\"亲,满99包邮哦\"\n售后,怎么退货?,,在订单里申请退货\n",
    )
    .unwrap();
    let (ok, out) = kefu(&data, &["kb", "import", "--shop", "baby", file.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("2 entries created"), "{out}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "category,question,similar,answer\n快递物流,,x,y\n").unwrap();
    let (ok, out) = kefu(
        &data,
        &["kb", "import", "--shop", "baby", "--replace", bad.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(out.contains("line 2: the question is empty"), "{out}");

    for ext in ["xlsx", "csv"] {
        let exported = dir.path().join(format!("out.{ext}"));
        let (ok, out) = kefu(&data, &["kb", "export", "--shop", "baby", exported.to_str().unwrap()]);
        assert!(ok, "{out}");
        let (ok, out) = kefu(
            &data,
            &[
                "kb",
                "import",
                "--shop",
                "baby",
                "--replace",
                exported.to_str().unwrap(),
            ],
        );
        assert!(ok, "{out}");
        assert!(out.contains("0 entries created, 0 updated, 0 deleted"), "{ext}: {out}");
    }
    let (ok, out) = kefu(&data, &["kb", "export", "--shop", "nope", "x.csv"]);
    assert!(!ok);
    assert!(out.contains("there is no shop nope"), "{out}");
}
