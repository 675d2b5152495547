//! What the binary's black-box tests share.

use std::process::Command;

/// Runs the command to its end: whether it succeeded, and what it printed (stdout, then stderr).
pub fn run(command: &mut Command) -> (bool, String) {
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
