//! Slippage models beyond the classic `fixed_pips + U(0, random_pips)` ([`SlippageModel`]).
//!
//! Every model gives a number of pips `s >= 0`; the simulator applies it adversely (buys `+s*pip`,
//! sells `−s*pip`, SEMANTICS §5). Random parts draw uniforms from the event's own ChaCha8 stream
//! ([`crate::rng`]): the k-th random component of a model tree (in tree order) gets the k-th draw,
//! so a plain [`SlippageModel`] gets the first draw, exactly as before the tree existed.

use crate::costs::formula::{CostInputs, Formula};
use crate::costs::{CostCallback, SlippageModel};
use crate::error::{ExecError, Result};
use crate::rng::EventRng;

/// What a [`VolatilitySlippage`] is proportional to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VolatilitySource {
    /// The latest ATR the caller set for the symbol (`set_market_context`).
    Atr,
    /// The spread (ask − bid) at the event.
    Spread,
}

impl VolatilitySource {
    pub fn as_str(self) -> &'static str {
        match self {
            VolatilitySource::Atr => "atr",
            VolatilitySource::Spread => "spread",
        }
    }
}

/// Slippage proportional to volatility: `s = (multiplier + u * random_multiplier) * X / pip`
/// pips, `X` = ATR or spread in price units, `u ~ U(0, 1)`, capped at `max_pips` when set.
/// An ATR that was never set counts as 0 (no slippage from this model).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VolatilitySlippage {
    pub source: VolatilitySource,
    pub multiplier: f64,
    pub random_multiplier: f64,
    pub max_pips: Option<f64>,
}

/// A slippage model tree (one symbol's, or a per-symbol map's entry).
#[derive(Clone, Debug, PartialEq)]
pub enum SlippageSpec {
    /// `fixed_pips + U(0, random_pips)`.
    Fixed(SlippageModel),
    Volatility(VolatilitySlippage),
    /// A formula giving pips (variables as [`CostInputs`]; `u` is the event's draw).
    Formula(Formula),
    /// A callback giving pips; it receives `u` (the event's draw) so it can stay deterministic.
    Callback(CostCallback),
    /// The sum of the components' pips.
    Sum(Vec<SlippageSpec>),
}

impl Default for SlippageSpec {
    fn default() -> Self {
        SlippageSpec::Fixed(SlippageModel::default())
    }
}

/// The event's random stream, created on the first draw only (no ChaCha work for models
/// without randomness).
pub struct LazyRng {
    seed: u64,
    rng: Option<EventRng>,
}

impl LazyRng {
    #[inline]
    pub fn new(seed: u64) -> Self {
        LazyRng { seed, rng: None }
    }

    /// The next uniform draw in [0, 1) of the event's stream.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        let seed = self.seed;
        self.rng
            .get_or_insert_with(|| EventRng::new(seed))
            .uniform()
    }
}

fn nonneg(field: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ExecError::invalid(
            field,
            format!("must be finite and >= 0, got {v}"),
        ))
    }
}

impl SlippageSpec {
    pub(crate) fn validate(&self, field: &str) -> Result<()> {
        match self {
            SlippageSpec::Fixed(m) => {
                nonneg(&format!("{field}.fixed_pips"), m.fixed_pips)?;
                nonneg(&format!("{field}.random_pips"), m.random_pips)
            }
            SlippageSpec::Volatility(v) => {
                nonneg(&format!("{field}.multiplier"), v.multiplier)?;
                nonneg(&format!("{field}.random_multiplier"), v.random_multiplier)?;
                if let Some(m) = v.max_pips {
                    nonneg(&format!("{field}.max_pips"), m)?;
                }
                Ok(())
            }
            SlippageSpec::Formula(_) | SlippageSpec::Callback(_) => Ok(()),
            SlippageSpec::Sum(parts) => parts
                .iter()
                .enumerate()
                .try_for_each(|(i, p)| p.validate(&format!("{field}[{i}]"))),
        }
    }

    /// Whether evaluating the model needs the order's size (formulas using `lots` or `notional`,
    /// callbacks): entry slippage then sizes at the price before slippage first.
    pub fn needs_size(&self) -> bool {
        match self {
            SlippageSpec::Fixed(_) | SlippageSpec::Volatility(_) => false,
            SlippageSpec::Formula(f) => f.uses("lots") || f.uses("notional"),
            SlippageSpec::Callback(_) => true,
            SlippageSpec::Sum(p) => p.iter().any(SlippageSpec::needs_size),
        }
    }

    /// Whether the model reads the ATR (the caller then has to provide it).
    pub fn needs_atr(&self) -> bool {
        match self {
            SlippageSpec::Fixed(_) => false,
            SlippageSpec::Volatility(v) => v.source == VolatilitySource::Atr,
            SlippageSpec::Formula(f) => f.uses("atr"),
            SlippageSpec::Callback(_) => true,
            SlippageSpec::Sum(p) => p.iter().any(SlippageSpec::needs_atr),
        }
    }

    /// Whether the model is the classic fixed/random one (the simulator's fast path).
    pub fn as_fixed(&self) -> Option<&SlippageModel> {
        match self {
            SlippageSpec::Fixed(m) => Some(m),
            _ => None,
        }
    }

    /// Slippage in pips (>= 0) for `inputs` (whose `u` is overwritten with this model's draw).
    pub fn pips(&self, inputs: &mut CostInputs, rng: &mut LazyRng) -> Result<f64> {
        let s = match self {
            SlippageSpec::Fixed(m) => {
                if m.is_random() {
                    m.pips(rng.uniform())
                } else {
                    m.fixed_pips
                }
            }
            SlippageSpec::Volatility(v) => {
                let x = match v.source {
                    VolatilitySource::Atr => inputs.atr,
                    VolatilitySource::Spread => inputs.spread,
                };
                let k = if v.random_multiplier > 0.0 {
                    v.multiplier + rng.uniform() * v.random_multiplier
                } else {
                    v.multiplier
                };
                let s = if x.is_finite() && inputs.pip > 0.0 {
                    k * x / inputs.pip
                } else {
                    0.0
                };
                match v.max_pips {
                    Some(m) => s.min(m),
                    None => s,
                }
            }
            SlippageSpec::Formula(f) => {
                inputs.u = if f.uses("u") { rng.uniform() } else { 0.0 };
                let s = f.eval_inputs(inputs);
                if !s.is_finite() {
                    return Err(ExecError::invalid(
                        "costs.slippage (formula)",
                        format!(
                            "formula {:?} gave {s} pips for {}",
                            f.source(),
                            describe(inputs)
                        ),
                    ));
                }
                s
            }
            SlippageSpec::Callback(c) => {
                inputs.u = rng.uniform();
                c.call(inputs, "costs.slippage")?
            }
            SlippageSpec::Sum(parts) => {
                let mut total = 0.0;
                for p in parts {
                    total += p.pips(inputs, rng)?;
                }
                total
            }
        };
        // Slippage is always adverse: a model giving a negative number gives none.
        Ok(s.max(0.0))
    }
}

/// The inputs in a short human-readable form (for error messages).
pub(crate) fn describe(i: &CostInputs) -> String {
    format!(
        "lots={}, price={}, notional={}, side={}, is_entry={}, ts={}",
        i.lots, i.price, i.notional, i.side, i.is_entry, i.ts
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::event_uniform;
    use std::sync::Arc;

    fn inputs() -> CostInputs {
        CostInputs {
            lots: 1.0,
            price: 1.1,
            notional: 110_000.0,
            contract_size: 100_000.0,
            pip: 0.0001,
            side: 1.0,
            direction: 1.0,
            is_entry: 1.0,
            atr: 0.0015,
            spread: 0.0002,
            ..CostInputs::default()
        }
    }

    #[test]
    fn fixed_uses_the_first_draw_like_the_classic_model() {
        let seed = 12345;
        let u = event_uniform(seed);
        let m = SlippageModel {
            fixed_pips: 0.2,
            random_pips: 0.5,
        };
        let s = SlippageSpec::Fixed(m)
            .pips(&mut inputs(), &mut LazyRng::new(seed))
            .unwrap();
        assert_eq!(s, m.pips(u));
        let none = SlippageSpec::Fixed(SlippageModel {
            fixed_pips: 0.3,
            random_pips: 0.0,
        });
        let mut rng = LazyRng::new(seed);
        assert_eq!(none.pips(&mut inputs(), &mut rng).unwrap(), 0.3);
        assert!(rng.rng.is_none(), "no draw without randomness");
    }

    #[test]
    fn volatility_atr_and_spread() {
        // 0.1 * ATR(0.0015) / pip(0.0001) = 1.5 pips
        let atr = SlippageSpec::Volatility(VolatilitySlippage {
            source: VolatilitySource::Atr,
            multiplier: 0.1,
            random_multiplier: 0.0,
            max_pips: None,
        });
        let s = atr.pips(&mut inputs(), &mut LazyRng::new(1)).unwrap();
        assert!((s - 1.5).abs() < 1e-12, "{s}");
        // 0.5 * spread(0.0002) / pip = 1 pip, capped at 0.8
        let spread = SlippageSpec::Volatility(VolatilitySlippage {
            source: VolatilitySource::Spread,
            multiplier: 0.5,
            random_multiplier: 0.0,
            max_pips: Some(0.8),
        });
        assert_eq!(
            spread.pips(&mut inputs(), &mut LazyRng::new(1)).unwrap(),
            0.8
        );
        // random part: (0.1 + u * 0.2) * 15
        let seed = 99;
        let u = event_uniform(seed);
        let r = SlippageSpec::Volatility(VolatilitySlippage {
            source: VolatilitySource::Atr,
            multiplier: 0.1,
            random_multiplier: 0.2,
            max_pips: None,
        });
        let s = r.pips(&mut inputs(), &mut LazyRng::new(seed)).unwrap();
        assert!((s - (0.1 + u * 0.2) * 0.0015 / 0.0001).abs() < 1e-12);
        // no ATR yet (0) -> no slippage
        let mut i = inputs();
        i.atr = 0.0;
        assert_eq!(atr.pips(&mut i, &mut LazyRng::new(1)).unwrap(), 0.0);
        assert!(atr.needs_atr() && !spread.needs_atr() && !atr.needs_size());
    }

    #[test]
    fn sum_draws_successive_uniforms_in_tree_order() {
        let seed = 7;
        let mut stream = EventRng::new(seed);
        let (u1, u2) = (stream.uniform(), stream.uniform());
        let a = SlippageModel {
            fixed_pips: 0.1,
            random_pips: 1.0,
        };
        let b = SlippageModel {
            fixed_pips: 0.0,
            random_pips: 2.0,
        };
        let sum = SlippageSpec::Sum(vec![SlippageSpec::Fixed(a), SlippageSpec::Fixed(b)]);
        let s = sum.pips(&mut inputs(), &mut LazyRng::new(seed)).unwrap();
        assert_eq!(s, (0.1 + u1 * 1.0) + (u2 * 2.0));
    }

    #[test]
    fn formula_and_callback_equal_the_fixed_model() {
        let seed = 4242;
        let fixed = SlippageSpec::Fixed(SlippageModel {
            fixed_pips: 0.2,
            random_pips: 0.5,
        });
        let formula = SlippageSpec::Formula(Formula::parse("0.2 + u * 0.5").unwrap());
        let cb =
            SlippageSpec::Callback(CostCallback::new(
                "py",
                |i: &CostInputs| Ok(0.2 + i.u * 0.5),
            ));
        let want = fixed.pips(&mut inputs(), &mut LazyRng::new(seed)).unwrap();
        assert_eq!(
            formula
                .pips(&mut inputs(), &mut LazyRng::new(seed))
                .unwrap(),
            want
        );
        assert_eq!(
            cb.pips(&mut inputs(), &mut LazyRng::new(seed)).unwrap(),
            want
        );
        assert!(cb.needs_size() && !formula.needs_size());
        let by_size = SlippageSpec::Formula(Formula::parse("lots > 5 ? 1 : 0").unwrap());
        assert!(by_size.needs_size());
    }

    #[test]
    fn negative_is_clamped_non_finite_and_callback_errors_are_errors() {
        let neg = SlippageSpec::Formula(Formula::parse("-3").unwrap());
        assert_eq!(neg.pips(&mut inputs(), &mut LazyRng::new(1)).unwrap(), 0.0);
        let nan = SlippageSpec::Formula(Formula::parse("lots / 0 - lots / 0").unwrap());
        let e = nan.pips(&mut inputs(), &mut LazyRng::new(1)).unwrap_err();
        assert_eq!(e.code().code, 1001);
        assert!(e.to_string().contains("gave NaN pips"), "{e}");
        let failing = SlippageSpec::Callback(CostCallback {
            name: "boom".into(),
            func: Arc::new(|_: &CostInputs| Err("ZeroDivisionError: division by zero".into())),
        });
        let e = failing
            .pips(&mut inputs(), &mut LazyRng::new(1))
            .unwrap_err();
        assert_eq!(e.code().code, 4001);
        assert!(e.to_string().contains("ZeroDivisionError"), "{e}");
    }

    #[test]
    fn validation_names_fields() {
        let bad = SlippageSpec::Sum(vec![
            SlippageSpec::default(),
            SlippageSpec::Volatility(VolatilitySlippage {
                source: VolatilitySource::Atr,
                multiplier: -1.0,
                random_multiplier: 0.0,
                max_pips: None,
            }),
        ]);
        let e = bad.validate("costs.slippage").unwrap_err();
        assert!(
            e.to_string().contains("costs.slippage[1].multiplier"),
            "{e}"
        );
    }
}
