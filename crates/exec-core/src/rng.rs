//! Deterministic per-event randomness (DESIGN §7).
//!
//! Every random draw belongs to one event (one fill of one position) and gets its own ChaCha8
//! stream, seeded from a fixed, documented hash of the event's identity, so a draw never depends on
//! how many other draws happened before it, on thread scheduling or on the platform:
//!
//! ```text
//! h = splitmix64_mix(base_seed ^ 0x6F6D_6567_615F_7631)          // "omega_v1", domain separation
//! h = splitmix64_mix(h ^ run_key)                                // the config_id
//! h = splitmix64_mix(h ^ fnv1a64(symbol name bytes))
//! h = splitmix64_mix(h ^ (timestamp_us as u64))
//! h = splitmix64_mix(h ^ side)                                   // 0 = entry fill, 1 = exit fill
//! h = splitmix64_mix(h ^ event_index)                            // the position id
//! seed[0..32] = four successive SplitMix64 outputs from state h, little-endian
//! rng = ChaCha8Rng::from_seed(seed)
//! uniform = (rng.next_u64() >> 11) * 2^-53                       // top 53 bits, in [0, 1)
//! ```
//!
//! `splitmix64_mix` is the SplitMix64 finalizer (Steele et al.), `fnv1a64` the 64-bit FNV-1a hash.
//! Only `rand_core` traits are used: no `rand` distributions, whose outputs changed between versions.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::types::TimestampUs;

/// Side code of an entry fill in the seed hash.
pub const SIDE_ENTRY: u64 = 0;
/// Side code of an exit fill in the seed hash.
pub const SIDE_EXIT: u64 = 1;

const DOMAIN: u64 = 0x6F6D_6567_615F_7631;
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finalizer: a bijective avalanche mix of one word.
#[inline]
pub fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One SplitMix64 step: advances `state` and returns the next output.
#[inline]
pub fn splitmix64_next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(GOLDEN_GAMMA);
    splitmix64_mix(*state)
}

/// 64-bit FNV-1a of `bytes` (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The 64-bit seed of one event (see the module doc for the exact recipe).
#[inline]
pub fn event_seed(
    base_seed: u64,
    run_key: u64,
    symbol_hash: u64,
    ts: TimestampUs,
    side: u64,
    event_index: u64,
) -> u64 {
    let mut h = splitmix64_mix(base_seed ^ DOMAIN);
    h = splitmix64_mix(h ^ run_key);
    h = splitmix64_mix(h ^ symbol_hash);
    h = splitmix64_mix(h ^ ts as u64);
    h = splitmix64_mix(h ^ side);
    splitmix64_mix(h ^ event_index)
}

/// The ChaCha8 stream of one event.
#[derive(Clone, Debug)]
pub struct EventRng(ChaCha8Rng);

impl EventRng {
    /// Expands the 64-bit event seed into ChaCha's 32-byte key with SplitMix64.
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64_next(&mut state).to_le_bytes());
        }
        EventRng(ChaCha8Rng::from_seed(key))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform draw in [0, 1) from the top 53 bits of the next u64.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The first uniform draw of an event's stream.
#[inline]
pub fn event_uniform(seed: u64) -> f64 {
    EventRng::new(seed).uniform()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_and_splitmix_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        // SplitMix64 reference: state 1234567 gives these first outputs.
        let mut s = 1_234_567u64;
        assert_eq!(splitmix64_next(&mut s), 6_457_827_717_110_365_317);
        assert_eq!(splitmix64_next(&mut s), 3_203_168_211_198_807_973);
    }

    #[test]
    fn chacha8_known_answer_through_rand_core() {
        // The ChaCha8 stream with an all-zero key and nonce (first 64-bit word, little-endian
        // concatenation of the first two u32 words of the keystream 0x2fef003e, 0xd6405f89).
        let mut r = ChaCha8Rng::from_seed([0u8; 32]);
        assert_eq!(r.next_u64(), 0xd640_5f89_2fef_003e);
    }

    #[test]
    fn same_seed_same_draws() {
        let s = event_seed(
            42,
            7,
            fnv1a64(b"EURUSD"),
            1_700_000_000_000_000,
            SIDE_ENTRY,
            3,
        );
        let mut a = EventRng::new(s);
        let mut b = EventRng::new(s);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let u = event_uniform(s);
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn golden_values_are_pinned() {
        let sym = fnv1a64(b"EURUSD");
        assert_eq!(sym, GOLDEN_SYM);
        let s = event_seed(42, 7, sym, 1_700_000_000_000_000, SIDE_ENTRY, 3);
        assert_eq!(s, GOLDEN_SEED);
        let mut r = EventRng::new(s);
        assert_eq!(r.next_u64(), GOLDEN_U64_0);
        assert_eq!(r.next_u64(), GOLDEN_U64_1);
        assert_eq!(event_uniform(s).to_bits(), GOLDEN_UNIFORM_BITS);
        assert_eq!(
            event_uniform(event_seed(0, 0, 0, 0, 0, 0)).to_bits(),
            GOLDEN_UNIFORM_ZERO_BITS
        );
    }

    #[test]
    fn every_component_changes_the_draw() {
        let base = (42u64, 7u64, fnv1a64(b"EURUSD"), 1_000i64, SIDE_ENTRY, 3u64);
        let u0 = event_uniform(event_seed(base.0, base.1, base.2, base.3, base.4, base.5));
        let variants = [
            event_seed(43, base.1, base.2, base.3, base.4, base.5),
            event_seed(base.0, 8, base.2, base.3, base.4, base.5),
            event_seed(base.0, base.1, fnv1a64(b"GBPUSD"), base.3, base.4, base.5),
            event_seed(base.0, base.1, base.2, 1_001, base.4, base.5),
            event_seed(base.0, base.1, base.2, base.3, SIDE_EXIT, base.5),
            event_seed(base.0, base.1, base.2, base.3, base.4, 4),
        ];
        for v in variants {
            assert_ne!(event_uniform(v), u0);
        }
    }

    #[test]
    fn draws_look_uniform_and_independent() {
        // Many events: mean near 1/2, variance near 1/12, and consecutive events uncorrelated.
        let n = 20_000;
        let xs: Vec<f64> = (0..n)
            .map(|i| event_uniform(event_seed(1, 2, 3, i as i64, SIDE_ENTRY, i as u64)))
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let cov = xs
            .windows(2)
            .map(|w| (w[0] - mean) * (w[1] - mean))
            .sum::<f64>()
            / (n - 1) as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.005, "{var}");
        assert!((cov / var).abs() < 0.03, "{}", cov / var);
    }

    // Pinned once from this implementation; a change here means every seeded result changes.
    const GOLDEN_SYM: u64 = 0xdb33_6730_c1b6_0001;
    const GOLDEN_SEED: u64 = 0x64d3_3ee4_2788_d5f5;
    const GOLDEN_U64_0: u64 = 0xa855_fdac_2819_7a30;
    const GOLDEN_U64_1: u64 = 0x48f8_19ae_4882_eedc;
    const GOLDEN_UNIFORM_BITS: u64 = 0x3fe5_0abf_b585_032f;
    const GOLDEN_UNIFORM_ZERO_BITS: u64 = 0x3fa6_c512_2d13_30b0;
}
