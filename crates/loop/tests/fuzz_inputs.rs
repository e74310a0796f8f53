//! The fuzz targets without libFuzzer: a small deterministic mutation fuzzer on stable Rust, run by
//! plain `cargo test` (and so by CI on any machine). It feeds the committed seeds of
//! `fuzz/seeds/<target>/` and mutations of them (byte-level, and structure-aware for JSON configs
//! and signals tables) to the same target bodies the cargo-fuzz binaries use
//! (`fuzz/src/checks.rs`, included below). Every input must end in a result or a coded error;
//! any panic (including one caught in a run as 5005) fails the test and prints the input.
//!
//! `OMEGA_FUZZ_ITERS` sets the number of mutated inputs per target (default 3000); the seed of
//! the mutation stream is fixed, `OMEGA_FUZZ_SEED` changes it. Coverage-guided fuzzing is
//! `bash scripts/fuzz.sh` (fuzz/README.md).

#[path = "../../../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::Value;

fn iters() -> usize {
    std::env::var("OMEGA_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn rng(salt: u64) -> ChaCha8Rng {
    let seed: u64 = std::env::var("OMEGA_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x0e9a);
    ChaCha8Rng::seed_from_u64(seed ^ salt)
}

fn below(r: &mut ChaCha8Rng, n: usize) -> usize {
    (r.next_u64() % n.max(1) as u64) as usize
}

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// Runs `f` on `input`; on a panic, reports the input (as a file under target/ and escaped).
fn run_case(target: &str, what: &str, input: &[u8], f: fn(&[u8])) {
    let r = std::panic::catch_unwind(|| f(input));
    if r.is_err() {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-findings");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{target}-{}.bin", what.replace(['/', ' '], "_")));
        std::fs::write(&file, input).unwrap();
        panic!(
            "fuzz target {target} failed on {what}; input saved to {} (replay it with \
             `cargo fuzz run {target} <file>` in fuzz/): {:?}",
            file.display(),
            String::from_utf8_lossy(&input[..input.len().min(400)])
        );
    }
}

const INTERESTING: &[u8] = b"\x00\xff\x7f\x80-9\"{}[],:.eE0";

/// One random byte-level mutation (libFuzzer's basic ones).
fn mutate_bytes(r: &mut ChaCha8Rng, data: &mut Vec<u8>, other: &[u8]) {
    let n = data.len();
    match below(r, 8) {
        0 if n > 0 => {
            let i = below(r, n);
            data[i] ^= 1 << below(r, 8);
        }
        1 if n > 0 => {
            let i = below(r, n);
            data[i] = INTERESTING[below(r, INTERESTING.len())];
        }
        2 => {
            let i = below(r, n + 1);
            let k = 1 + below(r, 8);
            for _ in 0..k {
                data.insert(i, (r.next_u32() & 0xff) as u8);
            }
        }
        3 if n > 0 => {
            let i = below(r, n);
            let k = 1 + below(r, (n - i).min(16));
            data.drain(i..i + k);
        }
        4 if n > 0 => {
            let i = below(r, n);
            let k = 1 + below(r, (n - i).min(16));
            let chunk: Vec<u8> = data[i..i + k].to_vec();
            let at = below(r, n + 1);
            data.splice(at..at, chunk);
        }
        5 if n > 1 => data.truncate(below(r, n)),
        6 if !other.is_empty() => {
            let cut = below(r, n + 1);
            let from = below(r, other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        _ if n >= 8 => {
            // Overwrite 8 bytes with an interesting little-endian number.
            let vals: [u64; 6] = [0, u64::MAX, 1 << 63, 0x7ff0_0000_0000_0000, 1, 1 << 31];
            let i = below(r, n - 7);
            data[i..i + 8].copy_from_slice(&vals[below(r, vals.len())].to_le_bytes());
        }
        _ => data.push((r.next_u32() & 0xff) as u8),
    }
}

// --- structure-aware mutation of JSON configs ---------------------------------------------------

const WORDS: &[&str] = &[
    "v2",
    "v1_parity",
    "next_open",
    "signal_close",
    "clamp",
    "reject",
    "per_lot",
    "per_million_notional",
    "percent_of_notional",
    "entry",
    "exit",
    "both",
    "long",
    "short",
    "sma_cross",
    "ema_cross",
    "donchian_breakout",
    "zscore_reversion",
    "rsi_reversion",
    "signals",
    "EURUSD",
    "USDJPY",
    "GBPUSD",
    "XAUUSD",
    "USD",
    "JPY",
    "main",
    "",
    "nan",
    "1e999",
];

fn interesting_number(r: &mut ChaCha8Rng) -> Value {
    let f: &[f64] = &[
        0.0,
        -0.0,
        -1.0,
        1.0,
        0.5,
        1e-320,
        1e308,
        -1e308,
        4294967295.0,
        4294967296.0,
        9007199254740993.0,
        1e6,
        1e6 + 1.0,
        1e-9,
        2.5,
        100.0,
        3.0,
    ];
    let v = f[below(r, f.len())];
    if v.fract() == 0.0 && v.abs() < 1e15 && below(r, 2) == 0 {
        Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// Picks a random node of `v` (pre-order) and mutates it.
fn mutate_json(r: &mut ChaCha8Rng, v: &mut Value) {
    let mut count = 0usize;
    fn walk(v: &Value, count: &mut usize) {
        *count += 1;
        match v {
            Value::Object(m) => m.values().for_each(|c| walk(c, count)),
            Value::Array(a) => a.iter().for_each(|c| walk(c, count)),
            _ => {}
        }
    }
    walk(v, &mut count);
    let target = below(r, count);
    fn find<'a>(v: &'a mut Value, target: usize, k: &mut usize) -> Option<&'a mut Value> {
        if *k == target {
            return Some(v);
        }
        *k += 1;
        match v {
            Value::Object(m) => m.values_mut().find_map(|c| find(c, target, k)),
            Value::Array(a) => a.iter_mut().find_map(|c| find(c, target, k)),
            _ => None,
        }
    }
    let mut k = 0;
    let Some(node) = find(v, target, &mut k) else {
        return;
    };
    match node {
        Value::Object(m) if !m.is_empty() && below(r, 3) == 0 => {
            let key = m.keys().nth(below(r, m.len())).cloned().unwrap();
            m.remove(&key);
        }
        Value::Object(m) if below(r, 4) == 0 => {
            let key = [
                "bogus",
                "fast",
                "sl_pips",
                "trailing",
                "variant",
                "pending_ttl_bars",
            ][below(r, 6)];
            m.insert(key.to_string(), interesting_number(r));
        }
        Value::Array(a) if !a.is_empty() && below(r, 2) == 0 => {
            a.remove(below(r, a.len()));
        }
        Value::Number(x) if below(r, 2) == 0 => {
            // A gentle change (keeps many configs valid, so runs get exercised too).
            let f = x.as_f64().unwrap_or(0.0);
            let g = [f + 1.0, f - 1.0, f * 2.0, f / 2.0, f.floor(), f * 10.0][below(r, 6)];
            *node = if x.is_u64() && g >= 0.0 && g.fract() == 0.0 {
                Value::from(g as u64)
            } else {
                serde_json::Number::from_f64(g).map_or(Value::Null, Value::Number)
            };
        }
        _ => {
            *node = match below(r, 6) {
                0..=2 => interesting_number(r),
                3 => Value::String(WORDS[below(r, WORDS.len())].to_string()),
                4 => Value::Null,
                _ => match node {
                    Value::Bool(b) => Value::Bool(!*b),
                    _ => Value::Array(vec![interesting_number(r), interesting_number(r)]),
                },
            };
        }
    }
}

#[test]
fn config_json_seeds_and_mutations() {
    let seeds = seeds("config_json");
    let parsed: Vec<Value> = seeds
        .iter()
        .filter_map(|(_, d)| serde_json::from_slice(d).ok())
        .collect();
    assert!(parsed.len() >= 10, "the config seeds are JSON");
    for (p, d) in &seeds {
        run_case(
            "config_json",
            &format!("seed {}", p.display()),
            d,
            checks::config_json,
        );
        // Seeds are valid configs: each must parse (else the seeds have rotted).
        let text = std::str::from_utf8(d).unwrap();
        if let Err(e) = omega_loop::parse_config(text) {
            panic!("seed {} no longer parses: {e}", p.display());
        }
    }
    let mut r = rng(1);
    let mut valid = 0usize;
    for i in 0..iters() {
        let mut v = parsed[below(&mut r, parsed.len())].clone();
        for _ in 0..1 + below(&mut r, 3) {
            mutate_json(&mut r, &mut v);
        }
        let mut bytes = serde_json::to_vec(&v).unwrap();
        if i % 5 == 0 {
            let other = &seeds[below(&mut r, seeds.len())].1;
            mutate_bytes(&mut r, &mut bytes, other);
        }
        valid += usize::from(
            std::str::from_utf8(&bytes).is_ok_and(|s| omega_loop::parse_config(s).is_ok()),
        );
        run_case(
            "config_json",
            &format!("mutation {i}"),
            &bytes,
            checks::config_json,
        );
    }
    // The structured mutations must keep a good share of inputs valid, or the runs are untested.
    assert!(
        valid * 10 >= iters(),
        "only {valid} of {} mutated configs were valid",
        iters()
    );
    eprintln!(
        "config_json: {valid} of {} mutated configs were valid and ran",
        iters()
    );
}

// --- signals tables ---------------------------------------------------------------------------

/// The batches of an IPC stream; none when arrow-ipc cannot read it (or panics: one regression
/// seed is a stream on which arrow-ipc 60.1's reader panics, see checks.rs).
fn read_ipc(data: &[u8]) -> Vec<RecordBatch> {
    std::panic::catch_unwind(|| {
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(data), None)
            .map(|r| r.filter_map(Result::ok).collect())
            .unwrap_or_default()
    })
    .unwrap_or_default()
}

fn write_ipc(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
    w.write(batch).unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

/// A structure-aware mutation of a signals batch: bad values, nulls, a dropped, duplicated or
/// retyped column.
fn mutate_batch(r: &mut ChaCha8Rng, b: &RecordBatch) -> RecordBatch {
    let n = b.num_rows();
    let schema = b.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut cols: Vec<ArrayRef> = b.columns().to_vec();
    if cols.is_empty() {
        return b.clone();
    }
    let c = below(r, cols.len());
    match below(r, 6) {
        0 => {
            fields.remove(c);
            cols.remove(c);
        }
        1 => {
            // Retype: as int64, as float64 or as strings.
            let (f, a): (Field, ArrayRef) = match below(r, 3) {
                0 => (
                    Field::new(fields[c].name(), DataType::Int64, true),
                    Arc::new(Int64Array::from_iter((0..n).map(|i| Some(i as i64)))),
                ),
                1 => (
                    Field::new(fields[c].name(), DataType::Float64, true),
                    Arc::new(Float64Array::from_iter((0..n).map(|i| Some(i as f64)))),
                ),
                _ => (
                    Field::new(fields[c].name(), DataType::Utf8, true),
                    Arc::new(StringArray::from_iter((0..n).map(|_| Some("x")))),
                ),
            };
            fields[c] = f;
            cols[c] = a;
        }
        _ if n > 0 => {
            // Replace one value (row `i`) by a bad or a null one, keeping the column's type.
            let i = below(r, n);
            let col = &cols[c];
            let new: ArrayRef = match col.data_type() {
                DataType::Float64 => {
                    let a = col.as_any().downcast_ref::<Float64Array>().unwrap();
                    let bad = [f64::NAN, f64::INFINITY, -1.0, 0.0, 1e308][below(r, 5)];
                    Arc::new(Float64Array::from_iter((0..n).map(|k| {
                        if k == i {
                            (below(r, 4) != 0).then_some(bad)
                        } else {
                            (!a.is_null(k)).then(|| a.value(k))
                        }
                    })))
                }
                DataType::Utf8 => {
                    let a = col.as_any().downcast_ref::<StringArray>().unwrap();
                    let bad = WORDS[below(r, WORDS.len())];
                    Arc::new(StringArray::from_iter((0..n).map(|k| {
                        if k == i {
                            (below(r, 5) != 0).then_some(bad)
                        } else {
                            (!a.is_null(k)).then(|| a.value(k))
                        }
                    })))
                }
                DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                    let a = col
                        .as_any()
                        .downcast_ref::<TimestampMicrosecondArray>()
                        .unwrap();
                    let shift = [0, -60_000_000, i64::MIN / 2, i64::MAX / 2][below(r, 4)];
                    Arc::new(
                        TimestampMicrosecondArray::from_iter((0..n).map(|k| {
                            Some(if k == i {
                                a.value(k).saturating_add(shift)
                            } else {
                                a.value(k)
                            })
                        }))
                        .with_timezone_opt(tz.clone()),
                    )
                }
                _ => col.clone(),
            };
            fields[c] = Field::new(fields[c].name(), new.data_type().clone(), true);
            cols[c] = new;
        }
        _ => {}
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap_or_else(|_| b.clone())
}

#[test]
fn signals_ipc_seeds_and_mutations() {
    let seeds = seeds("signals_ipc");
    let batches: Vec<RecordBatch> = seeds.iter().flat_map(|(_, d)| read_ipc(d)).collect();
    assert!(batches.len() >= 5, "the signals seeds are IPC streams");
    for (p, d) in &seeds {
        run_case(
            "signals_ipc",
            &format!("seed {}", p.display()),
            d,
            checks::signals_ipc,
        );
    }
    let mut r = rng(2);
    for i in 0..iters() {
        let input = if i % 3 == 0 {
            let (_, d) = &seeds[below(&mut r, seeds.len())];
            let mut d = d.clone();
            let other = &seeds[below(&mut r, seeds.len())].1;
            for _ in 0..1 + below(&mut r, 4) {
                mutate_bytes(&mut r, &mut d, other);
            }
            d
        } else {
            let mut b = batches[below(&mut r, batches.len())].clone();
            for _ in 0..1 + below(&mut r, 2) {
                b = mutate_batch(&mut r, &b);
            }
            write_ipc(&b)
        };
        run_case(
            "signals_ipc",
            &format!("mutation {i}"),
            &input,
            checks::signals_ipc,
        );
    }
}

#[test]
fn bars_seeds_and_mutations() {
    let seeds = seeds("bars");
    for (p, d) in &seeds {
        run_case("bars", &format!("seed {}", p.display()), d, checks::bars);
    }
    let mut r = rng(3);
    for i in 0..iters() {
        let (_, d) = &seeds[below(&mut r, seeds.len())];
        let mut d = d.clone();
        let other = &seeds[below(&mut r, seeds.len())].1;
        for _ in 0..1 + below(&mut r, 6) {
            mutate_bytes(&mut r, &mut d, other);
        }
        run_case("bars", &format!("mutation {i}"), &d, checks::bars);
    }
}

/// The checks must be able to fail: a config whose run panics (the runner's test hook is not
/// reachable from JSON, so an invalid canonical round trip stands in) and bad-but-accepted
/// bars are reported.
#[test]
fn the_checks_can_fail() {
    let e = omega_loop::LoopError::Panic {
        index: 0,
        message: "boom".into(),
    };
    let r = std::panic::catch_unwind(|| checks::assert_coded(&e, &[(5005, 5005)], "t"));
    assert!(r.is_err(), "a caught panic (5005) is a finding");
    let e = omega_loop::LoopError::config("x", "y");
    let r = std::panic::catch_unwind(|| checks::assert_coded(&e, &[(2001, 2008)], "t"));
    assert!(r.is_err(), "a code outside the step's range is a finding");
    checks::assert_coded(&e, &[(1000, 1999)], "t");
}
