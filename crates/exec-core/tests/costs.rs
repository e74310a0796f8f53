//! Cost model trees driven through the simulator's public API: swaps booked per rollover across
//! weekends and the triple day (into the balance, the position and the closed record), volatility
//! and spread slippage from the market context, formula and callback models giving exactly the
//! trades of their built-in equivalents, per-symbol maps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use omega_exec_core::costs::{
    CallbackFee, CostCallback, CostInputs, CostModels, FeeSpec, FeeTerms, Formula, FormulaFee,
    PerSymbol, SlippageSpec, SwapModel, SwapUnit, VolatilitySlippage, VolatilitySource, Weekday,
};
use omega_exec_core::*;

const PIP: f64 = 0.0001;
const SPREAD: f64 = 0.0002;
const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
/// 2024-01-01 00:00 UTC, a Monday.
const MON: i64 = 1_704_067_200_000_000;

fn eurusd() -> SymbolSpec {
    SymbolSpec {
        symbol: "EURUSD".into(),
        pip_size: PIP,
        tick_size: None,
        tick_value: None,
        contract_size: 100_000.0,
        volume_min: 0.01,
        volume_step: 0.01,
        volume_max: 100.0,
        base_currency: "EUR".into(),
        quote_currency: "USD".into(),
        min_sl_distance_pips: None,
    }
}

fn usdjpy() -> SymbolSpec {
    SymbolSpec {
        symbol: "USDJPY".into(),
        pip_size: 0.01,
        contract_size: 100_000.0,
        base_currency: "USD".into(),
        quote_currency: "JPY".into(),
        ..eurusd()
    }
}

fn flat(ts: i64) -> (Candle, Candle) {
    let bid = Candle {
        ts,
        open: 1.1000,
        high: 1.1005,
        low: 1.0995,
        close: 1.1000,
    };
    let ask = Candle {
        ts,
        open: bid.open + SPREAD,
        high: bid.high + SPREAD,
        low: bid.low + SPREAD,
        close: bid.close + SPREAD,
    };
    (bid, ask)
}

fn eval(s: &mut ExecutionSimulator, ts: i64) {
    let (b, a) = flat(ts);
    s.evaluate_bar(0, &b, Some(&a)).unwrap();
}

/// A market order at the bar's close with SL/TP 20/40 pips away: 0.5 lot at risk 100.
fn open(s: &mut ExecutionSimulator, ts: i64, d: Direction) -> PositionId {
    let (b, a) = flat(ts);
    let (sl, tp) = match d {
        Direction::Long => (1.1002 - 0.0020, 1.1002 + 0.0040),
        Direction::Short => (1.1000 + 0.0020, 1.1000 - 0.0040),
    };
    let sig = Signal {
        ts,
        symbol: 0,
        direction: d,
        order_type: OrderType::Market,
        entry_price: None,
        stop_loss: sl,
        take_profit: tp,
        meta: 0,
    };
    match s
        .process_signal(
            &sig,
            &BarQuote {
                bid: b,
                ask: Some(a),
            },
        )
        .unwrap()
    {
        SignalOutcome::Opened(id) => id,
        o => panic!("not opened: {o:?}"),
    }
}

fn close(s: &mut ExecutionSimulator, id: PositionId, ts: i64) -> ClosedPosition {
    let (b, a) = flat(ts);
    s.close_position(id, ts, b.close, a.close, ExitReason::Timeout)
        .unwrap();
    let mut out = Vec::new();
    s.drain_closed_into(&mut out);
    out.pop().unwrap()
}

fn swap_sim(model: SwapModel, config: SimulatorConfig) -> ExecutionSimulator {
    ExecutionSimulator::with_costs(
        config,
        vec![eurusd()],
        CostModels {
            swap: Some(PerSymbol::uniform(model)),
            ..CostModels::default()
        },
    )
    .unwrap()
}

#[test]
fn swap_is_booked_per_rollover_across_the_weekend_and_the_triple_day() {
    // long -2 pips, short +0.5 pips per lot per night; rollover 22:00 UTC, triple Wednesday.
    let mut s = swap_sim(SwapModel::new(-2.0, 0.5), SimulatorConfig::default());
    let initial = s.balance();
    let t0 = MON + 10 * HOUR;
    eval(&mut s, t0);
    let id = open(&mut s, t0, Direction::Long);
    let p = s.active_positions()[0].clone();
    assert_eq!(p.lots, 0.5);
    // one night: -2 pips * 0.0001 * 100,000 USD per price unit per lot * 0.5 lot = -10
    let night = -2.0 * PIP * 100_000.0 * 0.5;
    assert!((night + 10.0).abs() < 1e-9);
    // Monday 21:00: no rollover yet
    eval(&mut s, MON + 21 * HOUR);
    assert_eq!(s.balance(), initial);
    // Monday 22:00 bar: Monday's rollover (at exactly the bar's time) is booked
    eval(&mut s, MON + 22 * HOUR);
    assert!((s.balance() - (initial + night)).abs() < 1e-9);
    // Thursday 10:00: Mon + Tue + Wed x3 = 5 nights
    for d in 1..=3 {
        eval(&mut s, MON + d * DAY + 10 * HOUR);
    }
    assert!((s.balance() - (initial + 5.0 * night)).abs() < 1e-9);
    assert!((s.active_positions()[0].swap - 5.0 * night).abs() < 1e-9);
    // equity follows the balance: the unrealized PnL is unchanged by swaps
    assert!((s.stats().swap_total - 5.0 * night).abs() < 1e-9);
    // Friday 10:00, then Monday 10:00 after the weekend gap: Thu + Fri (Sat, Sun: none)
    eval(&mut s, MON + 4 * DAY + 10 * HOUR);
    eval(&mut s, MON + 7 * DAY + 10 * HOUR);
    assert!((s.balance() - (initial + 7.0 * night)).abs() < 1e-9);
    let c = close(&mut s, id, MON + 7 * DAY + 10 * HOUR);
    assert!((c.swap - 7.0 * night).abs() < 1e-9, "{}", c.swap);
    assert!((c.swap + 70.0).abs() < 1e-9);
    assert!((c.net_pnl - (c.gross_pnl - c.entry_fee - c.exit_fee + c.swap)).abs() < 1e-12);
    assert!((s.balance() - (initial + c.gross_pnl - 70.0)).abs() < 1e-9);
    assert!((s.stats().swap_total + 70.0).abs() < 1e-9);
    assert_eq!(s.stats().fees_total, 0.0);
}

#[test]
fn short_swap_is_credited_and_same_bar_trades_pay_none() {
    let mut s = swap_sim(SwapModel::new(-2.0, 0.5), SimulatorConfig::default());
    let t0 = MON + 2 * DAY + 20 * HOUR; // Wednesday 20:00
    eval(&mut s, t0);
    let id = open(&mut s, t0, Direction::Short);
    // held through Wednesday 22:00 (triple): +0.5 * 0.0001 * 100,000 * 0.5 * 3 = +7.5
    eval(&mut s, MON + 3 * DAY + 2 * HOUR);
    let c = close(&mut s, id, MON + 3 * DAY + 2 * HOUR);
    assert!((c.swap - 7.5).abs() < 1e-9, "{}", c.swap);
    // entered at 23:00 and closed before the next rollover: nothing
    let t1 = MON + 3 * DAY + 3 * HOUR;
    eval(&mut s, t1);
    let id = open(&mut s, t1, Direction::Long);
    eval(&mut s, MON + 3 * DAY + 21 * HOUR);
    let c = close(&mut s, id, MON + 3 * DAY + 21 * HOUR);
    assert_eq!(c.swap, 0.0);
}

#[test]
fn swap_units_points_price_and_money() {
    let run = |model: SwapModel, fx: FxRates| {
        let mut s = swap_sim(
            model,
            SimulatorConfig {
                fx,
                ..SimulatorConfig::default()
            },
        );
        let t0 = MON + 10 * HOUR;
        eval(&mut s, t0);
        let id = open(&mut s, t0, Direction::Long);
        eval(&mut s, MON + DAY + 10 * HOUR);
        close(&mut s, id, MON + DAY + 10 * HOUR).swap
    };
    let base = SwapModel::new(-20.0, 5.0);
    // points = pip / 10: -20 * 0.00001 * 100,000 * 0.5 = -10
    let v = run(
        SwapModel {
            unit: SwapUnit::Points,
            ..base.clone()
        },
        FxRates::default(),
    );
    assert!((v + 10.0).abs() < 1e-9, "{v}");
    // price: -0.0002 * 100,000 * 0.5 = -10
    let v = run(
        SwapModel {
            unit: SwapUnit::Price,
            long_points: -0.0002,
            ..base.clone()
        },
        FxRates::default(),
    );
    assert!((v + 10.0).abs() < 1e-9, "{v}");
    // money: -3 EUR per lot per night * 0.5 lot = -1.5 EUR = -1.875 USD at EURUSD 1.25
    let v = run(
        SwapModel {
            unit: SwapUnit::Money,
            long_points: -3.0,
            currency: Some("EUR".into()),
            ..base.clone()
        },
        FxRates::default().with_rate("EURUSD", 1.25),
    );
    assert!((v + 1.875).abs() < 1e-12, "{v}");
    // money in a currency with no rate: 1006 at construction
    let e = ExecutionSimulator::with_costs(
        SimulatorConfig::default(),
        vec![eurusd()],
        CostModels {
            swap: Some(PerSymbol::uniform(SwapModel {
                unit: SwapUnit::Money,
                currency: Some("CHF".into()),
                ..base
            })),
            ..CostModels::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code().code, 1006);
}

#[test]
fn triple_day_and_rollover_hour_are_configurable_and_reset_restarts_the_clock() {
    let model = SwapModel {
        triple_day: Weekday::Friday,
        rollover_hour_utc: 21,
        ..SwapModel::new(-2.0, 0.5)
    };
    let mut s = swap_sim(model, SimulatorConfig::default());
    let scenario = |s: &mut ExecutionSimulator| {
        let t0 = MON + 4 * DAY + 20 * HOUR; // Friday 20:00
        eval(s, t0);
        let id = open(s, t0, Direction::Long);
        eval(s, MON + 7 * DAY);
        close(s, id, MON + 7 * DAY).swap
    };
    let a = scenario(&mut s);
    assert!((a + 30.0).abs() < 1e-9, "{a}"); // Friday 21:00 x3
    s.reset();
    assert_eq!(scenario(&mut s), a);
}

#[test]
fn swap_in_tick_mode_and_v1() {
    for variant in [Variant::V2, Variant::V1Parity] {
        let mut s = swap_sim(
            SwapModel::new(-2.0, 0.5),
            SimulatorConfig {
                variant,
                ..SimulatorConfig::default()
            },
        );
        let t0 = MON + 10 * HOUR;
        let tick = |ts| Tick {
            ts,
            bid: 1.1000,
            ask: 1.1002,
        };
        s.evaluate_tick(0, &tick(t0)).unwrap();
        let sig = Signal {
            ts: t0,
            symbol: 0,
            direction: Direction::Long,
            order_type: OrderType::Market,
            entry_price: Some(1.1002),
            stop_loss: 1.0982,
            take_profit: 1.1042,
            meta: 0,
        };
        s.process_signal_tick(&sig, &tick(t0)).unwrap();
        s.evaluate_tick(0, &tick(MON + DAY + 10 * HOUR)).unwrap();
        let p = &s.active_positions()[0];
        let want = -2.0 * PIP * p.value_per_price * p.lots;
        assert!((p.swap - want).abs() < 1e-9, "{variant:?} {}", p.swap);
    }
}

fn slip_sim(slip: SlippageSpec) -> ExecutionSimulator {
    ExecutionSimulator::with_costs(
        SimulatorConfig::default(),
        vec![eurusd()],
        CostModels {
            slippage: Some(PerSymbol::uniform(slip)),
            ..CostModels::default()
        },
    )
    .unwrap()
}

#[test]
fn volatility_slippage_reads_the_atr_and_the_spread() {
    // 0.1 x ATR 0.0015 = 1.5 pips, adverse on entry (buy) and exit (sell)
    let mut s = slip_sim(SlippageSpec::Volatility(VolatilitySlippage {
        source: VolatilitySource::Atr,
        multiplier: 0.1,
        random_multiplier: 0.0,
        max_pips: None,
    }));
    assert!(s.needs_atr());
    let t0 = MON + 10 * HOUR;
    eval(&mut s, t0);
    s.set_market_context(0, 0.0015, None);
    let id = open(&mut s, t0, Direction::Long);
    assert!((s.active_positions()[0].entry_price - (1.1002 + 0.00015)).abs() < 1e-12);
    let c = close(&mut s, id, t0 + HOUR);
    assert!((c.exit_price - (1.1000 - 0.00015)).abs() < 1e-12);
    // no ATR set (or reset): no slippage
    s.reset();
    eval(&mut s, t0);
    open(&mut s, t0, Direction::Long);
    assert_eq!(s.active_positions()[0].entry_price, 1.1002);

    // 0.5 x spread: the signal bar's close spread 0.0002 -> 1 pip; an override 0.0006 -> 3 pips
    let mut s = slip_sim(SlippageSpec::Volatility(VolatilitySlippage {
        source: VolatilitySource::Spread,
        multiplier: 0.5,
        random_multiplier: 0.0,
        max_pips: None,
    }));
    assert!(!s.needs_atr());
    eval(&mut s, t0);
    open(&mut s, t0, Direction::Short);
    assert!((s.active_positions()[0].entry_price - (1.1000 - 0.0001)).abs() < 1e-12);
    s.set_market_context(0, 0.0, Some(0.0006));
    open(&mut s, t0, Direction::Short);
    assert!((s.active_positions()[1].entry_price - (1.1000 - 0.0003)).abs() < 1e-12);
}

#[test]
fn slippage_formula_sees_the_estimated_size_at_entry() {
    // 1 pip for orders of at least 1 lot: risk 100 over 20 pips is 0.5 lot, risk 400 is 2 lots
    let spec = SlippageSpec::Formula(Formula::parse("lots >= 1 ? 1 : 0").unwrap());
    for (risk, want) in [(100.0, 0.0), (400.0, PIP)] {
        let mut s = ExecutionSimulator::with_costs(
            SimulatorConfig {
                risk: RiskMode::Fixed(risk),
                ..SimulatorConfig::default()
            },
            vec![eurusd()],
            CostModels {
                slippage: Some(PerSymbol::uniform(spec.clone())),
                ..CostModels::default()
            },
        )
        .unwrap();
        eval(&mut s, MON);
        open(&mut s, MON, Direction::Long);
        let e = s.active_positions()[0].entry_price - 1.1002;
        assert!((e - want).abs() < 1e-12, "risk {risk}: {e}");
    }
}

/// Runs a fixed sequence of trades (longs and shorts, SL, TP and timeouts, random slippage) and
/// returns the closed records and the final balance.
fn scenario(costs: CostModels, config: SimulatorConfig) -> (Vec<ClosedPosition>, f64, usize) {
    let mut s = ExecutionSimulator::with_costs(config, vec![eurusd()], costs).unwrap();
    let mut out = Vec::new();
    for k in 0..40i64 {
        let ts = MON + k * HOUR;
        let wave = (k as f64 * 0.7).sin() * 0.0020;
        let b = Candle {
            ts,
            open: 1.1000 + wave,
            high: 1.1000 + wave + 0.0008,
            low: 1.1000 + wave - 0.0008,
            close: 1.1000 + wave + 0.0004,
        };
        let a = Candle {
            open: b.open + SPREAD,
            high: b.high + SPREAD,
            low: b.low + SPREAD,
            close: b.close + SPREAD,
            ..b
        };
        s.evaluate_bar(0, &b, Some(&a)).unwrap();
        if k % 3 == 0 {
            let d = if k % 2 == 0 {
                Direction::Long
            } else {
                Direction::Short
            };
            let px = if d == Direction::Long {
                a.close
            } else {
                b.close
            };
            let (sl, tp) = match d {
                Direction::Long => (px - 0.0020, px + 0.0020),
                Direction::Short => (px + 0.0020, px - 0.0020),
            };
            let sig = Signal {
                ts,
                symbol: 0,
                direction: d,
                order_type: OrderType::Market,
                entry_price: None,
                stop_loss: sl,
                take_profit: tp,
                meta: k as u32,
            };
            s.process_signal(
                &sig,
                &BarQuote {
                    bid: b,
                    ask: Some(a),
                },
            )
            .unwrap();
        }
        let stale: Vec<_> = s
            .active_positions()
            .iter()
            .filter(|p| p.bars_held >= 2)
            .map(|p| p.id)
            .collect();
        for id in stale {
            s.close_position(id, ts, b.close, a.close, ExitReason::Timeout)
                .unwrap();
        }
        s.drain_closed_into(&mut out);
    }
    (out, s.balance(), s.active_positions().len())
}

fn config() -> SimulatorConfig {
    SimulatorConfig {
        slippage: SlippageModel {
            fixed_pips: 0.2,
            random_pips: 0.5,
        },
        commission: Some(CommissionSet::uniform(Commission {
            min_fee: 2.0,
            ..Commission::new(CommissionSchema::PerMillionNotional(30.0))
        })),
        base_seed: 42,
        run_key: 7,
        ..SimulatorConfig::default()
    }
}

#[test]
fn formula_and_callback_models_give_the_trades_of_the_builtins() {
    let (want, want_balance, still_open) = scenario(CostModels::default(), config());
    assert!(want.len() >= 8, "{}", want.len());
    assert!(want.iter().any(|t| t.reason == ExitReason::Timeout));
    assert!(want.iter().any(|t| t.reason != ExitReason::Timeout));
    let terms = FeeTerms {
        min_fee: 2.0,
        ..FeeTerms::default()
    };
    let formula = CostModels {
        fees: Some(PerSymbol::uniform(FeeSpec::Formula(FormulaFee {
            formula: Formula::parse("30 * notional / 1e6").unwrap(),
            terms: terms.clone(),
        }))),
        slippage: Some(PerSymbol::uniform(SlippageSpec::Formula(
            Formula::parse("0.2 + u * 0.5").unwrap(),
        ))),
        swap: None,
    };
    let (got, balance, _) = scenario(formula, config());
    assert_eq!(got, want);
    assert_eq!(balance.to_bits(), want_balance.to_bits());

    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let callback = CostModels {
        fees: Some(PerSymbol::uniform(FeeSpec::Callback(CallbackFee {
            callback: CostCallback::new("fee", move |i: &CostInputs| {
                c2.fetch_add(1, Ordering::Relaxed);
                Ok(30.0 * i.notional / 1e6)
            }),
            terms,
        }))),
        slippage: Some(PerSymbol::uniform(SlippageSpec::Callback(
            CostCallback::new("slip", |i: &CostInputs| Ok(0.2 + i.u * 0.5)),
        ))),
        swap: None,
    };
    let mut s = ExecutionSimulator::with_costs(config(), vec![eurusd()], callback.clone()).unwrap();
    assert!(s.has_callback());
    s.reset();
    let (got, balance, _) = scenario(callback, config());
    assert_eq!(got, want);
    assert_eq!(balance.to_bits(), want_balance.to_bits());
    // one call per entry and per exit
    assert_eq!(calls.load(Ordering::Relaxed), 2 * want.len() + still_open);
}

#[test]
fn per_symbol_maps_and_unknown_symbols() {
    let costs = CostModels {
        fees: Some(PerSymbol {
            default: Some(FeeSpec::Commission(Commission::new(
                CommissionSchema::PerLot(3.0),
            ))),
            per_symbol: vec![(
                "USDJPY".into(),
                FeeSpec::Commission(Commission::new(CommissionSchema::PerLot(5.0))),
            )],
        }),
        swap: Some(PerSymbol {
            default: None,
            per_symbol: vec![("USDJPY".into(), SwapModel::new(1.0, -3.0))],
        }),
        ..CostModels::default()
    };
    let fx = FxRates::default().with_rate("USDJPY", 150.0);
    let mut s = ExecutionSimulator::with_costs(
        SimulatorConfig {
            fx: fx.clone(),
            ..SimulatorConfig::default()
        },
        vec![eurusd(), usdjpy()],
        costs.clone(),
    )
    .unwrap();
    // EURUSD: default 3 per lot, no swap
    let t0 = MON + 10 * HOUR;
    eval(&mut s, t0);
    let id = open(&mut s, t0, Direction::Long);
    eval(&mut s, t0 + DAY);
    let c = close(&mut s, id, t0 + DAY);
    assert_eq!((c.entry_fee, c.exit_fee, c.swap), (1.5, 1.5, 0.0));
    // USDJPY: 5 per lot and a swap
    let b = Candle {
        ts: t0,
        open: 150.0,
        high: 150.05,
        low: 149.95,
        close: 150.0,
    };
    let a = Candle {
        open: 150.02,
        high: 150.07,
        low: 149.97,
        close: 150.02,
        ..b
    };
    s.evaluate_bar(1, &b, Some(&a)).unwrap();
    let sig = Signal {
        ts: t0,
        symbol: 1,
        direction: Direction::Long,
        order_type: OrderType::Market,
        entry_price: None,
        stop_loss: 149.82,
        take_profit: 150.42,
        meta: 0,
    };
    s.process_signal(
        &sig,
        &BarQuote {
            bid: b,
            ask: Some(a),
        },
    )
    .unwrap();
    let nb = Candle { ts: t0 + DAY, ..b };
    let na = Candle { ts: t0 + DAY, ..a };
    s.evaluate_bar(1, &nb, Some(&na)).unwrap();
    let p = s.active_positions()[0].clone();
    assert_eq!(p.entry_fee, 5.0 * p.lots);
    // 1 pip (0.01 JPY) per lot per night converted: 0.01 * 100,000 / 150 USD per lot
    let want = 0.01 * 100_000.0 / 150.0 * p.lots;
    assert!((p.swap - want).abs() < 1e-9, "{} vs {want}", p.swap);

    let bad = CostModels {
        slippage: Some(PerSymbol {
            default: None,
            per_symbol: vec![("GBPUSD".into(), SlippageSpec::default())],
        }),
        ..CostModels::default()
    };
    let e = ExecutionSimulator::with_costs(SimulatorConfig::default(), vec![eurusd()], bad)
        .unwrap_err();
    assert_eq!(e.code().code, 1002);
    assert!(e.to_string().contains("GBPUSD (costs per_symbol)"), "{e}");
}

#[test]
fn trees_replace_the_classic_fields_for_the_symbols_they_cover() {
    // The classic config charges 30/M with min 2 and slips 0.2 + U(0, 0.5).
    let zero = |s: &mut ExecutionSimulator| {
        eval(s, MON);
        let id = open(s, MON, Direction::Long);
        close(s, id, MON + HOUR)
    };
    // Trees with a default cover every symbol: free and exact fills.
    let mut s = ExecutionSimulator::with_costs(
        config(),
        vec![eurusd()],
        CostModels {
            fees: Some(PerSymbol::uniform(FeeSpec::Sum(vec![]))),
            slippage: Some(PerSymbol::uniform(SlippageSpec::default())),
            swap: None,
        },
    )
    .unwrap();
    let c = zero(&mut s);
    assert_eq!((c.entry_fee, c.exit_fee), (0.0, 0.0));
    assert_eq!((c.entry_price, c.exit_price), (1.1002, 1.1000));
    // Trees for another symbol only: EURUSD keeps the classic costs.
    let other = CostModels {
        fees: Some(PerSymbol {
            default: None,
            per_symbol: vec![("USDJPY".into(), FeeSpec::Sum(vec![]))],
        }),
        slippage: Some(PerSymbol {
            default: None,
            per_symbol: vec![("USDJPY".into(), SlippageSpec::default())],
        }),
        swap: None,
    };
    let fx = FxRates::default().with_rate("USDJPY", 150.0);
    let mut s = ExecutionSimulator::with_costs(
        SimulatorConfig {
            fx: fx.clone(),
            ..config()
        },
        vec![eurusd(), usdjpy()],
        other,
    )
    .unwrap();
    let mut classic = ExecutionSimulator::with_costs(
        SimulatorConfig { fx, ..config() },
        vec![eurusd(), usdjpy()],
        CostModels::default(),
    )
    .unwrap();
    let c = zero(&mut s);
    assert_eq!(c, zero(&mut classic));
    assert!(c.entry_fee >= 2.0 && c.entry_price > 1.1002);
}
