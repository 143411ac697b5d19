//! The hot loop of `scripts/bench`'s send workload, in Rust: the Python generator spends ≈0.4 ms of CPU
//! per message, more than the server target it is meant to measure, and it shares the machine's two cores
//! with the server. This program only sends and observes; `scripts/bench.d/client_load.py` still creates the
//! users and the room, reads the server's CPU time around the run, and builds the table.
//!
//! ```text
//! cargo run --release --example send_load -- --base-url http://127.0.0.1:8008 --room '!r:x' \
//!     --tokens T1,T2,… --observer-token T0 --observer-since s1_… --messages 5000 [--timeout-secs 600]
//! ```
//!
//! It prints one JSON object: `elapsed_s` (first send to last answer), `latencies_ms` (every send),
//! `delivery_ms` (send → first /sync arrival, per message the observer saw), `cpu_s` (this process).
//! Every loop is bounded: by the message count and by `--timeout-secs` for the whole run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Parsed command line.
struct Args {
    base_url: String,
    room: String,
    tokens: Vec<String>,
    observer_token: String,
    observer_since: String,
    messages: usize,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut values: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag:?}"))?;
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        values.insert(name.to_owned(), value);
    }
    let timeout_secs: u64 = match values.remove("timeout-secs") {
        Some(v) => v.parse().map_err(|e| format!("--timeout-secs: {e}"))?,
        None => 600,
    };
    let mut take = |name: &str| {
        values
            .remove(name)
            .ok_or_else(|| format!("missing --{name}"))
    };
    let tokens: Vec<String> = take("tokens")?
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        return Err("--tokens names no access token".into());
    }
    let messages = take("messages")?
        .parse()
        .map_err(|e| format!("--messages: {e}"))?;
    Ok(Args {
        base_url: take("base-url")?,
        room: take("room")?,
        observer_token: take("observer-token")?,
        observer_since: take("observer-since")?,
        tokens,
        messages,
        timeout: Duration::from_secs(timeout_secs),
    })
}

/// Send times by message body, and first arrival times seen by the observer.
#[derive(Default)]
struct Timings {
    sent_at: HashMap<String, Instant>,
    arrived_at: HashMap<String, Instant>,
}

/// Percent-encodes a path segment (room IDs contain `!` and `:`).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len() * 3);
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// One sender: `count` messages, one after another, each timed.
async fn sender(
    http: reqwest::Client,
    url_prefix: String,
    token: String,
    index: usize,
    count: usize,
    timings: Arc<Mutex<Timings>>,
) -> Result<Vec<f64>, String> {
    let mut latencies = Vec::with_capacity(count);
    for n in 0..count {
        let body = format!("bench {index}-{n}");
        let url = format!("{url_prefix}/l{index}-{n}");
        let started = Instant::now();
        if let Ok(mut t) = timings.lock() {
            t.sent_at.insert(body.clone(), started);
        }
        let response = http
            .put(&url)
            .bearer_auth(&token)
            .json(&json!({"msgtype": "m.text", "body": body}))
            .send()
            .await
            .map_err(|e| format!("send {body}: {e}"))?;
        let status = response.status();
        let answer = response.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!(
                "send {body}: {status} {}",
                String::from_utf8_lossy(&answer)
            ));
        }
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(latencies)
}

/// Long-polls /sync until `expected` bench messages arrived or the deadline passed.
async fn observer(
    http: reqwest::Client,
    base_url: String,
    token: String,
    mut since: String,
    expected: usize,
    deadline: Instant,
    timings: Arc<Mutex<Timings>>,
) -> Result<(), String> {
    let filter = r#"{"room":{"timeline":{"limit":1000}}}"#;
    let url = format!("{base_url}/_matrix/client/v3/sync");
    loop {
        let seen = timings.lock().map(|t| t.arrived_at.len()).unwrap_or(0);
        if seen >= expected || Instant::now() >= deadline {
            return Ok(());
        }
        let response = http
            .get(&url)
            .bearer_auth(&token)
            .query(&[
                ("since", since.as_str()),
                ("timeout", "10000"),
                ("filter", filter),
            ])
            .send()
            .await
            .map_err(|e| format!("sync: {e}"))?;
        let status = response.status();
        let answer: Value = response.json().await.map_err(|e| format!("sync: {e}"))?;
        let now = Instant::now();
        if !status.is_success() {
            return Err(format!("sync: {status} {answer}"));
        }
        if let Some(next) = answer["next_batch"].as_str() {
            since = next.to_owned();
        }
        let Some(rooms) = answer["rooms"]["join"].as_object() else {
            continue;
        };
        let Ok(mut t) = timings.lock() else {
            return Err("timings lock poisoned".into());
        };
        for room in rooms.values() {
            for event in room["timeline"]["events"].as_array().into_iter().flatten() {
                if let Some(body) = event["content"]["body"].as_str()
                    && body.starts_with("bench ")
                {
                    t.arrived_at.entry(body.to_owned()).or_insert(now);
                }
            }
        }
    }
}

/// CPU seconds (user + system) this process used so far.
fn own_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th of those.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        // Linux reports in USER_HZ, which is 100 on every platform Hearth is built for.
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

async fn run(args: Args) -> Result<Value, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(args.tokens.len() + 2)
        .build()
        .map_err(|e| e.to_string())?;
    let timings = Arc::new(Mutex::new(Timings::default()));
    let per_client = args.messages / args.tokens.len();
    let expected = per_client * args.tokens.len();
    let deadline = Instant::now() + args.timeout;
    let observe = tokio::spawn(observer(
        http.clone(),
        args.base_url.clone(),
        args.observer_token.clone(),
        args.observer_since.clone(),
        expected,
        deadline,
        timings.clone(),
    ));
    let url_prefix = format!(
        "{}/_matrix/client/v3/rooms/{}/send/m.room.message",
        args.base_url,
        encode(&args.room)
    );
    let started = Instant::now();
    let senders: Vec<_> = args
        .tokens
        .iter()
        .enumerate()
        .map(|(index, token)| {
            tokio::spawn(sender(
                http.clone(),
                url_prefix.clone(),
                token.clone(),
                index,
                per_client,
                timings.clone(),
            ))
        })
        .collect();
    let mut latencies = Vec::with_capacity(expected);
    for task in senders {
        let result = tokio::time::timeout_at(deadline.into(), task)
            .await
            .map_err(|_| "the senders did not finish within --timeout-secs".to_string())?
            .map_err(|e| e.to_string())?;
        latencies.extend(result?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The observer stops by itself once everything arrived or at the deadline.
    let observed = tokio::time::timeout_at((deadline + Duration::from_secs(15)).into(), observe)
        .await
        .map_err(|_| "the /sync observer did not stop".to_string())?
        .map_err(|e| e.to_string())?;
    observed?;
    let t = timings.lock().map_err(|_| "timings lock poisoned")?;
    let delivery: Vec<f64> = t
        .arrived_at
        .iter()
        .filter_map(|(body, arrived)| {
            let sent = t.sent_at.get(body)?;
            Some(arrived.saturating_duration_since(*sent).as_secs_f64() * 1000.0)
        })
        .collect();
    Ok(json!({
        "elapsed_s": elapsed,
        "sent": latencies.len(),
        "latencies_ms": latencies,
        "delivery_ms": delivery,
        "cpu_s": own_cpu_seconds(),
    }))
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("send_load: {message}");
            std::process::exit(2);
        }
    };
    // One thread: the generator must leave the second core to the server it measures.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("send_load: {e}");
            std::process::exit(1);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(report) => println!("{report}"),
        Err(message) => {
            eprintln!("send_load: {message}");
            std::process::exit(1);
        }
    }
}
