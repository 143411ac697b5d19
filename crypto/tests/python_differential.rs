//! Differential test against Synapse's own Python libraries: `canonicaljson` 2.0.0 and `signedjson` 1.1.4.
//!
//! Generates deterministic pseudo-random JSON objects (non-ASCII and astral text, every C0 control
//! character, DEL, U+2028/U+2029, quotes and backslashes, deep nesting, empty containers, integers at and
//! beyond ±(2^53−1) within i64/u64, and non-integral floats as room v1–v5 events can carry) and checks,
//! in one Python process for all of them, that:
//! - Hearth's canonical JSON equals `canonicaljson.encode_canonical_json` byte for byte;
//! - Hearth's signature equals `signedjson.sign.sign_json`'s (ed25519 is deterministic) and each side
//!   verifies the other's;
//! - Hearth's parser reads Python's canonical bytes back to the same value.
//!
//! Run with `HEARTH_TEST_PYTHON=/path/to/venv/bin/python`. Without it the test is skipped loudly, unless
//! `CI` or `HEARTH_REQUIRE_PEERS` is set, in which case it fails.
//!
//! Integral floats within ±(2^53−1) are deliberately not generated: Hearth prints them as integers (the
//! spec's `1e10` → `10000000000` example) while Python prints `10000000000.0`; see `canonical_json`.

use hearth_crypto::canonical_json::{
    MAX_SAFE_INTEGER, parse_lenient, parse_strict, to_canonical_bytes, validate_strict,
};
use hearth_crypto::{SigningKey, sign_json, verify_json};
use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const CASES: u64 = 1500;
const SEED: &str = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1";

/// SplitMix64: tiny, deterministic, good enough to spread test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const INTERESTING_CHARS: &[char] = &[
    '"',
    '\\',
    '/',
    '\u{7f}',
    '\u{80}',
    '\u{a0}',
    '\u{ad}',
    'é',
    'ß',
    '日',
    '本',
    '語',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{fffd}',
    '\u{ffff}',
    '\u{ff61}',
    '\u{1f600}',
    '\u{1f468}',
    '\u{200d}',
    '\u{1d11e}',
    '\u{10000}',
    '\u{10ffff}',
    '\u{e000}',
    '\u{d7ff}',
];

fn random_char(rng: &mut Rng) -> char {
    match rng.below(10) {
        0..=3 => char::from(u8::try_from(0x20 + rng.below(0x5f)).unwrap_or(b'a')),
        4 => char::from(u8::try_from(rng.below(0x20)).unwrap_or(0)),
        5..=6 => {
            INTERESTING_CHARS
                [usize::try_from(rng.below(INTERESTING_CHARS.len() as u64)).unwrap_or(0)]
        }
        7 => char::from_u32(u32::try_from(0x80 + rng.below(0xD800 - 0x80)).unwrap_or(0x80))
            .unwrap_or('x'),
        8 => char::from_u32(u32::try_from(0xE000 + rng.below(0x2000)).unwrap_or(0xE000))
            .unwrap_or('x'),
        _ => char::from_u32(u32::try_from(0x10000 + rng.below(0x100000)).unwrap_or(0x10000))
            .unwrap_or('x'),
    }
}

fn random_string(rng: &mut Rng) -> String {
    let len = match rng.below(10) {
        0 => 0,
        1..=7 => rng.below(12),
        _ => rng.below(80),
    };
    (0..len).map(|_| random_char(rng)).collect()
}

fn random_integer(rng: &mut Rng) -> Value {
    let safe = MAX_SAFE_INTEGER;
    match rng.below(12) {
        0 => json!(0),
        1 => json!(safe),
        2 => json!(-safe),
        3 => json!(i64::MAX),
        4 => json!(i64::MIN),
        5 => json!(u64::MAX),
        6 => json!(safe + 1 + i64::try_from(rng.below(1 << 40)).unwrap_or(0)),
        7 => json!(u64::MAX - rng.below(1 << 62)),
        8 => json!(-(safe + 1) - i64::try_from(rng.below(1 << 60)).unwrap_or(0)),
        9 => json!(i64::try_from(rng.below(2000)).unwrap_or(0) - 1000),
        _ => {
            let magnitude =
                i64::try_from(rng.below(u64::try_from(safe).unwrap_or(1) + 1)).unwrap_or(0);
            json!(if rng.chance(50) {
                magnitude
            } else {
                -magnitude
            })
        }
    }
}

fn random_float(rng: &mut Rng) -> Value {
    loop {
        let f = match rng.below(4) {
            0 => f64::from_bits(rng.next()),
            1 => (rng.next() as f64) / 1024.0 + 0.5,
            2 => 10f64.powi(i32::try_from(rng.below(60)).unwrap_or(0) - 30) * 1.5,
            _ => 1e16 * (1 + rng.below(1_000_000)) as f64,
        };
        let integral_in_safe_range = f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64;
        if let Some(n) = serde_json::Number::from_f64(f).filter(|_| !integral_in_safe_range) {
            return Value::Number(n);
        }
    }
}

fn random_value(rng: &mut Rng, depth: u32, with_floats: bool) -> Value {
    let container_weight = if depth >= 6 { 0 } else { 30 };
    let roll = rng.below(100);
    if roll < container_weight / 2 {
        let len = rng.below(6);
        Value::Array(
            (0..len)
                .map(|_| random_value(rng, depth + 1, with_floats))
                .collect(),
        )
    } else if roll < container_weight {
        random_object(rng, depth + 1, with_floats)
    } else {
        match rng.below(if with_floats { 9 } else { 8 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.chance(50)),
            2..=4 => random_integer(rng),
            5..=7 => Value::String(random_string(rng)),
            _ => random_float(rng),
        }
    }
}

fn random_object(rng: &mut Rng, depth: u32, with_floats: bool) -> Value {
    let len = rng.below(7);
    let mut map = Map::new();
    for _ in 0..len {
        map.insert(random_string(rng), random_value(rng, depth, with_floats));
    }
    Value::Object(map)
}

/// Arrays/objects nested `depth` levels deep, alternating kinds.
fn deep_value(rng: &mut Rng, depth: u32) -> Value {
    let mut value = Value::String(random_string(rng));
    for level in 0..depth {
        value = if level % 2 == 0 {
            json!([value])
        } else {
            let mut map = Map::new();
            map.insert(random_string(rng), value);
            Value::Object(map)
        };
    }
    value
}

fn generate_case(rng: &mut Rng, id: u64) -> Value {
    let with_floats = id % 5 == 4;
    let mut object = match random_object(rng, 0, with_floats) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    if id.is_multiple_of(20) {
        let depth = 20 + u32::try_from(rng.below(100)).unwrap_or(0);
        object.insert("deep".to_owned(), deep_value(rng, depth));
    }
    if id.is_multiple_of(7) {
        object.insert(
            "control".to_owned(),
            Value::String(
                (0u8..0x20)
                    .map(char::from)
                    .chain(['\u{7f}', '\u{2028}'])
                    .collect(),
            ),
        );
    }
    if id.is_multiple_of(9) {
        object.insert(
            "unsigned".to_owned(),
            json!({"age": 5, "x": random_string(rng)}),
        );
    }
    if id.is_multiple_of(11) {
        object.insert(
            "signatures".to_owned(),
            json!({"other.example": {"ed25519:x": "c2lnbmF0dXJl"}}),
        );
    }
    if with_floats {
        let floats: Vec<Value> = (0..20).map(|_| random_float(rng)).collect();
        object.insert("floats".to_owned(), Value::Array(floats));
    }
    if id.is_multiple_of(13) {
        object.insert(String::new(), json!({"": [], "e": {}}));
    }
    Value::Object(object)
}

fn count_floats(value: &Value) -> usize {
    match value {
        Value::Number(n) => usize::from(n.is_f64()),
        Value::Array(items) => items.iter().map(count_floats).sum(),
        Value::Object(map) => map.values().map(count_floats).sum(),
        _ => 0,
    }
}

fn python_interpreter() -> Option<String> {
    if let Some(python) = std::env::var("HEARTH_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    {
        return Some(python);
    }
    if std::env::var_os("CI").is_some() || std::env::var_os("HEARTH_REQUIRE_PEERS").is_some() {
        panic!(
            "HEARTH_TEST_PYTHON is not set but CI/HEARTH_REQUIRE_PEERS requires the Python differential test: \
             create a venv with canonicaljson==2.0.0 and signedjson==1.1.4 and point HEARTH_TEST_PYTHON at its python"
        );
    }
    // Written straight to the stderr handle so libtest's output capture cannot hide it.
    let _ = std::io::stderr().write_all(
        b"\n\n*** SKIPPING python_differential: HEARTH_TEST_PYTHON is not set. ***\n\
          *** Set it to a python with canonicaljson==2.0.0 and signedjson==1.1.4 to run it. ***\n\n",
    );
    None
}

#[test]
fn matches_synapse_canonicaljson_and_signedjson_byte_for_byte() {
    let Some(python) = python_interpreter() else {
        return;
    };
    let key = SigningKey::from_seed_base64("1", SEED).expect("spec seed is valid");
    let verify_key = key.verify_key();

    let mut rng = Rng(0x4865_6172_7468_2121);
    let mut cases = Vec::new();
    let mut input = Vec::new();
    for id in 0..CASES {
        let value = generate_case(&mut rng, id);
        let canonical = to_canonical_bytes(&value).expect("generated values canonicalise");
        let mut signed = value.clone();
        sign_json(&mut signed, "domain", &key).expect("signing a generated object succeeds");
        let line = json!({"id": id, "value": value, "rust_signed": signed});
        input.extend_from_slice(line.to_string().as_bytes());
        input.push(b'\n');
        cases.push((value, canonical, signed));
    }

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/differential.py");
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {python}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).expect("write cases to python");
    });
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut lines = stdout.lines();

    let header: Value =
        serde_json::from_str(&lines.next().expect("version line").expect("read")).expect("json");
    assert_eq!(
        header["versions"]["canonicaljson"], "2.0.0",
        "pinned canonicaljson"
    );
    assert_eq!(
        header["versions"]["signedjson"], "1.1.4",
        "pinned signedjson"
    );

    let mut compared = 0;
    let mut floats_seen = 0;
    for line in lines {
        let result: Value =
            serde_json::from_str(&line.expect("read python output")).expect("python writes JSON");
        let id = result["id"].as_u64().expect("id");
        let (value, canonical, signed) = &cases[usize::try_from(id).expect("id fits")];
        let context = || {
            format!(
                "case {id}: {}",
                serde_json::to_string(value).unwrap_or_default()
            )
        };

        let python_canonical =
            hearth_crypto::base64::decode(result["canonical_b64"].as_str().expect("canonical"))
                .expect("python canonical is base64");
        assert_eq!(
            String::from_utf8_lossy(canonical),
            String::from_utf8_lossy(&python_canonical),
            "{}: canonical JSON differs",
            context()
        );
        assert_eq!(
            *canonical,
            python_canonical,
            "{}: canonical bytes differ",
            context()
        );

        assert!(
            result["error"].is_null(),
            "{}: python error {}",
            context(),
            result["error"]
        );
        let python_signature = result["signature"].as_str().expect("signature");
        assert_eq!(
            Some(python_signature),
            signed["signatures"]["domain"]["ed25519:1"].as_str(),
            "{}: signatures differ",
            context()
        );
        assert_eq!(
            result["rust_signature_ok"],
            true,
            "{}: python rejected Hearth's signature",
            context()
        );

        let mut python_signed = signed.clone();
        python_signed["signatures"]["domain"]["ed25519:1"] = json!(python_signature);
        verify_json(&python_signed, "domain", "ed25519:1", &verify_key)
            .unwrap_or_else(|e| panic!("{}: Hearth rejected Python's signature: {e}", context()));

        let reparsed =
            parse_lenient(&python_canonical).expect("Hearth parses Python's canonical JSON");
        assert_eq!(&reparsed, value, "{}: lenient re-parse differs", context());
        let strict = parse_strict(&python_canonical);
        assert_eq!(
            strict.is_ok(),
            validate_strict(value).is_ok(),
            "{}: strict parser and validate_strict disagree",
            context()
        );
        if let Ok(strict) = strict {
            assert_eq!(&strict, value, "{}: strict re-parse differs", context());
        }
        floats_seen += count_floats(value);
        compared += 1;
    }
    writer.join().expect("writer thread");
    let status = child.wait().expect("python exits");
    assert!(status.success(), "python helper failed: {status}");
    assert_eq!(compared, CASES, "python answered every case");
    assert!(
        floats_seen > 5000,
        "float cases were exercised ({floats_seen})"
    );
    eprintln!(
        "python_differential: {compared} objects matched canonicaljson 2.0.0 and signedjson 1.1.4"
    );
}
