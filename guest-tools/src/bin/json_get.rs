//! `json_get PATH...`: reads one JSON document from stdin and prints, one
//! line each, the value at each PATH (keys joined with dots, e.g.
//! `metrics.queued`; in an array, a key is an index: `contents.0.text`):
//! a string as it is, anything else as JSON (`null`
//! included). Exit 1, with one line on stderr, when the input is not JSON
//! or a PATH is not in it (nothing printed); 2 without a PATH. The guest
//! cases read `scx_relay ctl status` with it (busybox has no jq).
use std::{io::Read, process::ExitCode};

use serde_json::Value;

/// The text `json_get` prints for `path` in `doc`, or why there is none.
fn get(doc: &Value, path: &str) -> Result<String, String> {
    let value = path
        .split('.')
        .try_fold(doc, |v, key| match v {
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => v.get(key),
        })
        .ok_or_else(|| format!("no {path} in the input"))?;
    Ok(match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Every path's text, in order, or the first failure.
fn get_all(input: &str, paths: &[String]) -> Result<Vec<String>, String> {
    let doc: Value = serde_json::from_str(input.trim()).map_err(|e| format!("the input is not JSON ({e})"))?;
    paths.iter().map(|p| get(&doc, p)).collect()
}

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!("usage: json_get PATH... (a JSON document on stdin; PATH: keys joined with dots)");
        return ExitCode::from(2);
    }
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("json_get: reading stdin: {e}");
        return ExitCode::from(1);
    }
    match get_all(&input, &paths) {
        Ok(values) => {
            for v in values {
                println!("{v}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("json_get: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const STATUS: &str =
        r#"{"policy":"routing (hogs: fifo, default: deadline)","metrics":{"queued":12,"loop_allocs":-1,"stalled":0}}"#;

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Nested keys, strings unquoted, numbers as they are, in order.
    #[test]
    fn reads_paths() {
        let got = get_all(STATUS, &paths(&["metrics.queued", "policy", "metrics.loop_allocs"])).unwrap();
        assert_eq!(got, ["12", "routing (hogs: fifo, default: deadline)", "-1"]);
        assert_eq!(get_all(&format!("{STATUS}\n"), &paths(&["metrics.stalled"])).unwrap(), ["0"]);
        assert_eq!(get_all(STATUS, &paths(&["metrics"])).unwrap()[0], r#"{"loop_allocs":-1,"queued":12,"stalled":0}"#);
        assert_eq!(get_all(r#"{"metrics":null}"#, &paths(&["metrics"])).unwrap(), ["null"]);
    }

    /// In an array a key is an index (an MCP answer's `result.contents.0.text`).
    #[test]
    fn indexes_arrays() {
        let answer = r#"{"result":{"contents":[{"uri":"a","text":"{\"stats\":{}}"},{"uri":"b"}]}}"#;
        assert_eq!(
            get_all(answer, &paths(&["result.contents.0.text", "result.contents.1.uri"])).unwrap(),
            [r#"{"stats":{}}"#, "b"]
        );
        assert!(get_all(answer, &paths(&["result.contents.2"])).is_err());
        assert!(get_all(answer, &paths(&["result.contents.first"])).is_err());
    }

    /// A missing key (or one under `null`), and input that is not JSON
    /// (an older scheduler's `running fifo`), are failures that say so.
    #[test]
    fn failures_say_what() {
        assert_eq!(get_all(STATUS, &paths(&["metrics.nope"])).unwrap_err(), "no metrics.nope in the input");
        assert_eq!(
            get_all(r#"{"metrics":null}"#, &paths(&["metrics.queued"])).unwrap_err(),
            "no metrics.queued in the input"
        );
        assert_eq!(get_all(STATUS, &paths(&["policy.x"])).unwrap_err(), "no policy.x in the input");
        assert!(get_all("scx_relay: running fifo", &paths(&["policy"]))
            .unwrap_err()
            .starts_with("the input is not JSON"));
        assert!(get_all("", &paths(&["policy"])).is_err());
    }
}
