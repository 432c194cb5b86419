//! `ffpe-validate`'s user-facing text: no `--help` refers to the project's history
//! ("issue N"), and a user error is one message with a non-zero exit code, never a
//! backtrace, even with `RUST_BACKTRACE=1`.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ffpe-validate"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

#[test]
fn help_texts_speak_of_the_product_not_its_history() {
    for cmd in [
        None,
        Some("train"),
        Some("llc"),
        Some("reproduce"),
        Some("merge"),
        Some("moons"),
        Some("hessian"),
    ] {
        let mut args: Vec<&str> = cmd.into_iter().collect();
        args.push("--help");
        let out = run(&args);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        let mentions_issue = text
            .split("issue")
            .skip(1)
            .any(|rest| rest.trim_start().starts_with(|c: char| c.is_ascii_digit()));
        assert!(
            !mentions_issue,
            "{args:?} mentions an issue number:\n{text}"
        );
    }
}

#[test]
fn user_errors_are_one_message_without_backtrace() {
    let out = run(&[
        "reproduce",
        "--preset",
        "huge",
        "--out",
        "/tmp/unused-ffpe-report",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("huge"), "{err}");
    assert!(
        !err.contains("Stack backtrace") && !err.contains("stack backtrace"),
        "{err}"
    );
    assert!(err.lines().count() <= 3, "{err}");
}
