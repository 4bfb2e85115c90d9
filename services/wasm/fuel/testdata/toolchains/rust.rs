// A WASI command for the differential tests of services/wasm/fuel: it
// reads a mode word and its argument from stdin ("words 3", "stats 40",
// "primes 500", "panic", "exit 3") and prints a deterministic report.
// Built by build.sh; see README.md.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Read};
use std::process;

// A xorshift generator: deterministic input without WASI random_get.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

const WORDS: [&str; 8] = ["mesh", "coop", "ledger", "vote", "job", "fuel", "peer", "trust"];

// Word counts with a HashMap (printed in sorted order), closures and
// iterator chains over a Vec<String>.
fn words(n: u64) -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n);
    let text: Vec<String> = (0..n * 50)
        .map(|_| WORDS[(rng.next() % WORDS.len() as u64) as usize].to_string())
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in &text {
        *counts.entry(w.as_str()).or_default() += 1;
    }
    let mut keys: Vec<_> = counts.iter().collect();
    keys.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut out = String::new();
    for (w, c) in keys {
        writeln!(out, "{w:>8} {c}").unwrap();
    }
    let longest = text.iter().map(String::len).max().unwrap_or(0);
    let joined: String = text.iter().take(5).map(|s| s.to_uppercase()).collect::<Vec<_>>().join("-");
    writeln!(out, "longest {longest} head {joined}").unwrap();
    out
}

// Wide integer and float arithmetic, float-to-int conversions (saturating
// in Rust, so trunc_sat where the target allows it) and a BTreeMap.
fn stats(n: u64) -> String {
    let mut rng = Rng(n.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    let xs: Vec<f64> = (0..n * 10).map(|_| (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 200.0 - 100.0).collect();
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
    let mut buckets: BTreeMap<i32, u32> = BTreeMap::new();
    for &x in &xs {
        *buckets.entry((x / 25.0).floor() as i32).or_insert(0) += 1;
    }
    let mut acc: i128 = 1;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, &x) in xs.iter().enumerate() {
        acc = acc.wrapping_mul(x as i128 | 1).wrapping_add(i as i128) % 1_000_000_000_000_000_000_007;
        h = (h ^ (x.to_bits() >> 3)).wrapping_mul(0x100_0000_01b3);
        let f = x as f32;
        h ^= (f * 1e6) as i64 as u64 ^ ((x.abs().sqrt() * 1e9) as u32 as u64) << 7 ^ (f as i8 as u8 as u64);
        h = h.wrapping_add(sign_extend(h) ^ sign_extend(h >> 8) as u32 as u64);
    }
    let big = (f64::MAX as u64, -1e300 as i64, f64::NAN as u32, 3.9e9f32 as i32);
    let mut out = format!("mean {mean:.6} var {var:.6} acc {acc} hash {h:016x} sat {big:?}\n");
    for (b, c) in &buckets {
        writeln!(out, "bucket {:>4} {c}", b * 25).unwrap();
    }
    out
}

// Narrowing then widening a value in a register: i64.extend8_s,
// extend16_s and extend32_s with the sign-ext feature, shifts without it.
#[inline(never)]
fn sign_extend(h: u64) -> u64 {
    (h as i8 as u64) ^ (h as i16 as u64).rotate_left(8) ^ (h as i32 as u64).rotate_left(16)
}

// Recursion: the primes below n by trial division, counted recursively,
// and Ackermann for a deeper stack.
fn is_prime(n: u64, d: u64) -> bool {
    if d * d > n {
        return true;
    }
    n % d != 0 && is_prime(n, d + 1)
}

fn ackermann(m: u64, n: u64) -> u64 {
    match (m, n) {
        (0, n) => n + 1,
        (m, 0) => ackermann(m - 1, 1),
        (m, n) => ackermann(m - 1, ackermann(m, n - 1)),
    }
}

fn primes(n: u64) -> String {
    let ps: Vec<u64> = (2..n).filter(|&k| is_prime(k, 2)).collect();
    let sum: u128 = ps.iter().map(|&p| p as u128 * p as u128).sum();
    format!(
        "{} primes below {n}, last {:?}, sum of squares {sum}, ackermann(2, {}) = {}\n",
        ps.len(),
        ps.last(),
        n % 64,
        ackermann(2, n % 64)
    )
}

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).expect("stdin");
    let mut parts = input.split_whitespace();
    let mode = parts.next().unwrap_or("words");
    let arg: u64 = match parts.next().map(str::parse).transpose() {
        Ok(v) => v.unwrap_or(10),
        Err(e) => {
            eprintln!("bad argument: {e}");
            process::exit(2);
        }
    };
    let out = match mode {
        "words" => words(arg),
        "stats" => stats(arg),
        "primes" => primes(arg),
        "exit" => {
            println!("exiting with {arg}");
            process::exit(arg as i32)
        }
        // A panic aborts on wasm32-wasi: std calls abort(), which traps.
        "panic" => panic!("asked to panic with {arg}"),
        _ => {
            eprintln!("unknown mode {mode:?}");
            process::exit(2)
        }
    };
    print!("{out}");
}
