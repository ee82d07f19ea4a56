//! `scx_relay ctl` on this host: every failure is one line on stderr and a
//! non-zero exit (1 for a failed request, 2 for bad usage); the scheduler's
//! answer is one line on stdout. A stand-in server plays the scheduler.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{Read, Write},
    os::unix::net::UnixListener,
    path::PathBuf,
    process::{Command, Output},
};

fn ctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scx_relay")).arg("ctl").args(args).output().expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("scx_relay-ctl-test-{}-{name}", std::process::id()))
}

/// Asserts a one-line failure with `code` whose line contains `words`.
fn assert_fails(out: &Output, code: i32, words: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("scx_relay: ") && err.contains(words), "stderr: {err}");
    assert!(out.stdout.is_empty() && !err.contains("panicked"));
}

/// No scheduler running: no socket file. One line naming the path, exit 1.
#[test]
fn no_scheduler_running() {
    let path = temp("none.sock");
    let out = ctl(&["--socket", path.to_str().unwrap(), "policy", "fifo"]);
    assert_fails(&out, 1, "no scheduler is running");
    assert!(stderr(&out).contains(path.to_str().unwrap()));
    if !std::path::Path::new("/run/scx_relay.sock").exists() {
        assert_fails(&ctl(&["status"]), 1, "no control socket at /run/scx_relay.sock");
    }
}

/// A socket file nobody listens on (a scheduler that died): exit 1, says so.
#[test]
fn stale_socket() {
    let path = temp("stale.sock");
    let _ = std::fs::remove_file(&path);
    drop(UnixListener::bind(&path).unwrap());
    assert_fails(&ctl(&["--socket", path.to_str().unwrap(), "status"]), 1, "stale socket");
    std::fs::remove_file(&path).unwrap();
}

/// A malformed configuration is refused before connecting, with the file,
/// line and field; an unreadable one too.
#[test]
fn malformed_config_is_refused_locally() {
    let file = temp("bad.toml");
    std::fs::write(&file, "[[route]]\npolicy = \"fifo\"\ncomm = \"x\"\nshare = -3\n").unwrap();
    let out = ctl(&["--socket", "/nonexistent.sock", "config", file.to_str().unwrap()]);
    assert_fails(&out, 1, "line 4, field share");
    assert!(stderr(&out).contains(file.to_str().unwrap()));
    std::fs::remove_file(&file).unwrap();
    assert_fails(&ctl(&["config", "/nonexistent/routing.toml"]), 1, "cannot read /nonexistent/routing.toml");
}

/// Bad usage is one line, exit 2.
#[test]
fn bad_usage() {
    assert_fails(&ctl(&[]), 2, "");
    assert_fails(&ctl(&["policy"]), 2, "NAME");
    assert_fails(&ctl(&["policy", "fifo", "extra"]), 2, "extra");
    assert_fails(&ctl(&["frobnicate"]), 2, "frobnicate");
}

/// A control server on `path` that answers one connection per reply, in
/// order, and returns the requests it read.
fn fake_server(path: &std::path::Path, replies: Vec<String>) -> std::thread::JoinHandle<Vec<String>> {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let mut requests = Vec::new();
        for reply in replies {
            let (mut s, _) = listener.accept().unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            requests.push(text);
            s.write_all(format!("{reply}\n").as_bytes()).unwrap();
        }
        requests
    })
}

/// Against a stand-in scheduler: the request goes over as one line (a
/// configuration with its text), the answer comes back as one line: `ok`
/// on stdout with exit 0, `error` on stderr with exit 1.
#[test]
fn talks_the_protocol() {
    let path = temp("fake.sock");
    let _ = std::fs::remove_file(&path);
    let server = fake_server(
        &path,
        ["ok: policy deadline -> eevdf, 3 tasks handed over", "error: unknown policy 'cfs'", "ok: x"]
            .map(str::to_owned)
            .to_vec(),
    );
    let sock = path.to_str().unwrap();
    let ok = ctl(&["--socket", sock, "policy", "eevdf"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "scx_relay: policy deadline -> eevdf, 3 tasks handed over\n");
    assert_fails(&ctl(&["--socket", sock, "policy", "cfs"]), 1, "unknown policy 'cfs'");
    let file = temp("good.toml");
    std::fs::write(&file, "[[route]]\npolicy = \"fifo\"\ncomm = \"x*\"\n").unwrap();
    assert_eq!(ctl(&["--socket", sock, "config", file.to_str().unwrap()]).status.code(), Some(0));
    let requests = server.join().unwrap();
    assert_eq!(requests[0], "policy eevdf\n");
    assert_eq!(requests[2], "config\n[[route]]\npolicy = \"fifo\"\ncomm = \"x*\"\n");
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(&path).unwrap();
}

/// `status`: the scheduler's JSON comes out on stdout as it came, one line
/// with nothing before it (scripts parse it); an error is still one line on
/// stderr.
#[test]
fn status_prints_the_json() {
    let path = temp("status.sock");
    let _ = std::fs::remove_file(&path);
    let json = r#"{"policy":"fifo","metrics":{"queued":3,"loop_allocs":-1}}"#;
    let server = fake_server(&path, vec![format!("ok: {json}"), "error: boom".to_owned()]);
    let sock = path.to_str().unwrap();
    let out = ctl(&["--socket", sock, "status"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{json}\n"));
    assert_fails(&ctl(&["--socket", sock, "status"]), 1, "boom");
    assert_eq!(server.join().unwrap(), ["status\n", "status\n"]);
    std::fs::remove_file(&path).unwrap();
}
