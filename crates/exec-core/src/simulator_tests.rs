//! Scenario tests of the simulator: every rule of SEMANTICS §1–7 that the simulator owns, both
//! variants, and a bad-input test for every error code this crate raises.

use super::*;
use crate::costs::{Commission, CommissionSchema};

const PIP: f64 = 0.0001;
const SPREAD: f64 = 0.0002;

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
        tick_size: None,
        tick_value: None,
        contract_size: 100_000.0,
        volume_min: 0.01,
        volume_step: 0.01,
        volume_max: 100.0,
        base_currency: "USD".into(),
        quote_currency: "JPY".into(),
        min_sl_distance_pips: None,
    }
}

fn sim_with(config: SimulatorConfig) -> ExecutionSimulator {
    ExecutionSimulator::new(config, vec![eurusd()]).unwrap()
}

fn sim() -> ExecutionSimulator {
    sim_with(SimulatorConfig::default())
}

fn v1() -> SimulatorConfig {
    SimulatorConfig {
        variant: Variant::V1Parity,
        ..SimulatorConfig::default()
    }
}

fn bid(ts: i64, o: f64, h: f64, l: f64, c: f64) -> Candle {
    Candle {
        ts,
        open: o,
        high: h,
        low: l,
        close: c,
    }
}

fn ask_of(b: &Candle) -> Candle {
    Candle {
        ts: b.ts,
        open: b.open + SPREAD,
        high: b.high + SPREAD,
        low: b.low + SPREAD,
        close: b.close + SPREAD,
    }
}

fn quote(b: Candle) -> BarQuote {
    BarQuote {
        bid: b,
        ask: Some(ask_of(&b)),
    }
}

/// A quiet bar around 1.1000 that hits nothing.
fn flat(ts: i64) -> Candle {
    bid(ts, 1.1000, 1.1005, 1.0995, 1.1000)
}

fn eval(s: &mut ExecutionSimulator, b: Candle) {
    let a = ask_of(&b);
    s.evaluate_bar(0, &b, Some(&a)).unwrap();
}

fn market(ts: i64, d: Direction, sl: f64, tp: f64) -> Signal {
    Signal {
        ts,
        symbol: 0,
        direction: d,
        order_type: OrderType::Market,
        entry_price: None,
        stop_loss: sl,
        take_profit: tp,
        meta: 0,
    }
}

fn pending(ts: i64, d: Direction, ot: OrderType, e: f64, sl: f64, tp: f64) -> Signal {
    Signal {
        ts,
        symbol: 0,
        direction: d,
        order_type: ot,
        entry_price: Some(e),
        stop_loss: sl,
        take_profit: tp,
        meta: 9,
    }
}

fn closed(s: &mut ExecutionSimulator) -> Vec<ClosedPosition> {
    let mut v = Vec::new();
    s.drain_closed_into(&mut v);
    v
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// ---------------------------------------------------------------- market orders, §2

#[test]
fn market_fills_at_trade_side_close_and_exits_from_next_bar() {
    let mut s = sim();
    let b0 = flat(0);
    // long fills at ASK close 1.1002; SL 20 pips below -> 100 / (0.0020 * 100000) = 0.5 lots
    let o = s
        .process_signal(&market(0, Direction::Long, 1.0982, 1.1042), &quote(b0))
        .unwrap();
    assert_eq!(o, SignalOutcome::Opened(0));
    let p = &s.active_positions()[0];
    assert!(close_to(p.entry_price, 1.1002));
    assert_eq!(
        (p.lots, p.entry_time, p.trigger_time, p.placement_time),
        (0.5, 0, Some(0), 0)
    );
    assert_eq!(
        (p.initial_stop_loss, p.value_per_price, p.risk_amount),
        (1.0982, 100_000.0, 100.0)
    );
    // the signal bar itself (v1 loop order evaluates it after the signal) never exits it
    eval(&mut s, bid(0, 1.1000, 1.2000, 1.0000, 1.1000));
    assert_eq!(s.active_positions().len(), 1);
    // next bar reaches TP 1.1042 - buf on the bid
    eval(&mut s, bid(60, 1.1000, 1.1041, 1.0995, 1.1030));
    assert_eq!(s.active_positions().len(), 1); // 1.1041 < 1.10415
    eval(&mut s, bid(120, 1.1000, 1.10416, 1.0995, 1.1030));
    let c = closed(&mut s);
    assert_eq!(c.len(), 1);
    assert_eq!(
        (c[0].reason, c[0].exit_time, c[0].exit_price),
        (ExitReason::TakeProfit, 120, 1.1042)
    );
    assert!(close_to(c[0].gross_pnl, 0.0040 * 0.5 * 100_000.0));
    assert!(close_to(c[0].r_multiple, 2.0));
    assert!(!c[0].in_entry_candle && !c[0].ambiguous);
    assert!(close_to(s.balance(), 100_000.0 + 200.0));
    assert!(s.active_positions().is_empty());
}

#[test]
fn short_market_fills_at_bid_close_and_uses_entry_price_when_given() {
    let mut s = sim();
    let o = s
        .process_signal(
            &market(0, Direction::Short, 1.1020, 1.0980),
            &quote(flat(0)),
        )
        .unwrap();
    assert_eq!(o, SignalOutcome::Opened(0));
    assert_eq!(s.active_positions()[0].entry_price, 1.1000);
    let mut sig = market(0, Direction::Long, 1.0950, 1.1100);
    sig.entry_price = Some(1.1003);
    s.process_signal(&sig, &quote(flat(0))).unwrap();
    assert_eq!(s.active_positions()[1].entry_price, 1.1003);
    assert_eq!(s.active_positions()[1].meta, 0);
}

#[test]
fn next_open_market_fills_at_next_open_and_tests_both_levels_in_the_fill_bar() {
    let cfg = SimulatorConfig {
        market_fill: MarketFill::NextOpen,
        ..SimulatorConfig::default()
    };
    let mut s = sim_with(cfg.clone());
    let o = s
        .process_signal(&market(0, Direction::Long, 1.0980, 1.1050), &quote(flat(0)))
        .unwrap();
    assert_eq!(o, SignalOutcome::Pending(0));
    assert_eq!(s.active_positions()[0].status, PositionStatus::Pending);
    // the signal bar does not fill it
    eval(&mut s, flat(0));
    assert_eq!(s.active_positions()[0].status, PositionStatus::Pending);
    // next bar opens at 1.1010 (ask 1.1012): fill there, TP 1.1050 touched in the bar with no
    // close beyond: a next_open fill still takes it (no close check)
    eval(&mut s, bid(60, 1.1010, 1.1050, 1.1005, 1.1020));
    let c = closed(&mut s);
    assert_eq!(c.len(), 1);
    assert!(close_to(c[0].entry_price, 1.1012));
    assert_eq!(
        (c[0].entry_time, c[0].trigger_time, c[0].placement_time),
        (60, Some(60), 0)
    );
    assert_eq!(c[0].reason, ExitReason::TakeProfit);
    assert!(c[0].in_entry_candle);
    // SL first in the fill bar
    let mut s = sim_with(cfg.clone());
    s.process_signal(&market(0, Direction::Long, 1.0980, 1.1050), &quote(flat(0)))
        .unwrap();
    eval(&mut s, bid(60, 1.1010, 1.1060, 1.0970, 1.1020));
    let c = closed(&mut s);
    assert_eq!(
        (c[0].reason, c[0].exit_price, c[0].ambiguous),
        (ExitReason::StopLoss, 1.0980, true)
    );
    // a gap past the SL at the open rejects the fill (SL would be on the wrong side)
    let mut s = sim_with(cfg);
    s.process_signal(&market(0, Direction::Long, 1.0980, 1.1050), &quote(flat(0)))
        .unwrap();
    eval(&mut s, bid(60, 1.0950, 1.0960, 1.0940, 1.0950));
    assert!(s.active_positions().is_empty());
    assert_eq!(s.stats().rejected_for(RejectReason::SlWrongSide), 1);
}

// ---------------------------------------------------------------- validation, §1

#[test]
fn geometric_rejections_are_counted_and_cost_nothing() {
    let mut s = sim_with(SimulatorConfig {
        commission: Some(CommissionSet::uniform(Commission::new(
            CommissionSchema::PerLot(5.0),
        ))),
        ..SimulatorConfig::default()
    });
    let q = quote(flat(0));
    let cases = [
        (
            market(0, Direction::Long, 1.1005, 1.1100),
            RejectReason::SlWrongSide,
        ),
        (
            market(0, Direction::Long, 1.0950, 1.0990),
            RejectReason::TpWrongSide,
        ),
        (
            market(0, Direction::Short, 1.0990, 1.0900),
            RejectReason::SlWrongSide,
        ),
        (
            market(0, Direction::Short, 1.1100, 1.1010),
            RejectReason::TpWrongSide,
        ),
        // 0.05 pip from the 1.1002 fill, below the 0.1 pip default
        (
            market(0, Direction::Long, 1.1002 - 0.000_005, 1.1100),
            RejectReason::SlTooClose,
        ),
        (
            pending(0, Direction::Long, OrderType::Limit, 1.0990, 1.0995, 1.1100),
            RejectReason::SlWrongSide,
        ),
        (
            pending(0, Direction::Short, OrderType::Stop, 1.0990, 1.1000, 1.0995),
            RejectReason::TpWrongSide,
        ),
    ];
    for (sig, want) in cases {
        assert_eq!(
            s.process_signal(&sig, &q).unwrap(),
            SignalOutcome::Rejected(want),
            "{sig:?}"
        );
    }
    // 1,000-pip stop: 100 / (0.1 * 100000) = 0.01 exactly -> fine; 2,000 pips -> 0.005 < vmin
    assert!(matches!(
        s.process_signal(&market(0, Direction::Long, 1.0002, 1.2), &q)
            .unwrap(),
        SignalOutcome::Opened(_)
    ));
    assert_eq!(
        s.process_signal(&market(0, Direction::Long, 0.9002, 1.2), &q)
            .unwrap(),
        SignalOutcome::Rejected(RejectReason::SizeBelowMin)
    );
    let st = s.stats();
    assert_eq!(st.rejected, [3, 3, 1, 1]);
    assert_eq!(st.rejected_total(), 8);
    assert_eq!(st.signals_processed, 9);
    assert_eq!(s.active_positions().len(), 1);
    assert!(close_to(s.balance(), 100_000.0 - 0.05));
    assert!(close_to(st.fees_total, 0.05));
}

#[test]
fn per_symbol_min_sl_distance() {
    let mut spec = eurusd();
    spec.min_sl_distance_pips = Some(5.0);
    let mut s = ExecutionSimulator::new(SimulatorConfig::default(), vec![spec]).unwrap();
    let q = quote(flat(0));
    let o = s
        .process_signal(&market(0, Direction::Long, 1.0998, 1.1100), &q)
        .unwrap();
    assert_eq!(o, SignalOutcome::Rejected(RejectReason::SlTooClose));
    let o = s
        .process_signal(&market(0, Direction::Long, 1.0997, 1.1100), &q)
        .unwrap();
    assert!(matches!(o, SignalOutcome::Opened(_)), "{o:?}");
}

#[test]
fn v1_skips_side_checks_and_checks_only_market_absolute_distance() {
    let mut s = sim_with(v1());
    let q = quote(flat(0));
    // wrong-side SL opens in v1 (v2 rejects it, see above)
    assert!(matches!(
        s.process_signal(&market(0, Direction::Long, 1.1050, 1.1100), &q)
            .unwrap(),
        SignalOutcome::Opened(_)
    ));
    // |entry - SL| < 1e-5 is too close for a market order; measured before slippage
    let mut sig = market(0, Direction::Long, 1.100_005, 1.2);
    sig.entry_price = Some(1.1);
    assert_eq!(
        s.process_signal(&sig, &q).unwrap(),
        SignalOutcome::Rejected(RejectReason::SlTooClose)
    );
    // 0.2 pip passes in v1 (v2 default minimum is 0.1 pip too, but v1 is absolute)
    sig.stop_loss = 1.1 - 0.000_02;
    assert!(matches!(
        s.process_signal(&sig, &q).unwrap(),
        SignalOutcome::Opened(_)
    ));
    // pending orders are not checked at all
    let o = s
        .process_signal(
            &pending(0, Direction::Long, OrderType::Limit, 1.0990, 1.0990, 1.0980),
            &q,
        )
        .unwrap();
    assert!(matches!(o, SignalOutcome::Pending(_)));
    // sizes at or below vmin are clamped, never rejected
    let o = s
        .process_signal(&market(0, Direction::Long, 0.5, 1.2), &q)
        .unwrap();
    assert!(matches!(o, SignalOutcome::Opened(_)));
    assert_eq!(s.active_positions().last().unwrap().lots, 0.01);
    assert_eq!(s.stats().rejected_for(RejectReason::SizeBelowMin), 0);
}

#[test]
fn min_lot_policy_clamp_in_v2() {
    let mut s = sim_with(SimulatorConfig {
        min_lot_policy: MinLotPolicy::Clamp,
        ..SimulatorConfig::default()
    });
    let o = s
        .process_signal(&market(0, Direction::Long, 0.9002, 1.2), &quote(flat(0)))
        .unwrap();
    assert!(matches!(o, SignalOutcome::Opened(_)));
    assert_eq!(s.active_positions()[0].lots, 0.01);
}

// ---------------------------------------------------------------- pending orders, §2

#[test]
fn pending_triggers_only_on_a_later_bar_and_fills_at_the_worse_of_price_and_open() {
    let mut s = sim();
    // long stop at 1.1010 placed on bar 0 whose ask high already exceeds it: no trigger there
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Stop, 1.1010, 1.0990, 1.1100),
        &quote(flat(0)),
    )
    .unwrap();
    eval(&mut s, bid(0, 1.1000, 1.1020, 1.0995, 1.1000));
    assert_eq!(s.active_positions()[0].status, PositionStatus::Pending);
    // bar 60 gaps up: ask open 1.1022 > E -> fill at 1.1022
    eval(&mut s, bid(60, 1.1020, 1.1030, 1.1015, 1.1025));
    let p = &s.active_positions()[0];
    assert_eq!(p.status, PositionStatus::Open);
    assert!(close_to(p.entry_price, 1.1022));
    assert_eq!(
        (p.entry_time, p.trigger_time, p.placement_time),
        (60, Some(60), 0)
    );
    assert_eq!(p.initial_stop_loss, 1.0990);
    // size at the fill: 100 / (0.0032 * 100000) = 0.3125 -> 0.31
    assert_eq!(p.lots, 0.31);
    // no double trigger: the next bar only evaluates exits
    eval(&mut s, bid(120, 1.1020, 1.1030, 1.1015, 1.1025));
    assert_eq!(s.active_positions()[0].entry_time, 60);
    assert_eq!(s.active_positions()[0].bars_held, 1);
}

#[test]
fn v1_pending_fills_exactly_at_the_order_price_without_slippage() {
    let slip = SlippageModel {
        fixed_pips: 1.0,
        random_pips: 0.0,
    };
    let mut s = sim_with(SimulatorConfig {
        slippage: slip,
        ..v1()
    });
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Stop, 1.1010, 1.0990, 1.1100),
        &quote(flat(0)),
    )
    .unwrap();
    eval(&mut s, bid(60, 1.1020, 1.1030, 1.1015, 1.1025));
    assert_eq!(s.active_positions()[0].entry_price, 1.1010);
    // v2 with the same slippage: max(E, open) + 1 pip
    let mut s = sim_with(SimulatorConfig {
        slippage: slip,
        ..SimulatorConfig::default()
    });
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Stop, 1.1010, 1.0990, 1.1100),
        &quote(flat(0)),
    )
    .unwrap();
    eval(&mut s, bid(60, 1.1020, 1.1030, 1.1015, 1.1025));
    assert!(close_to(s.active_positions()[0].entry_price, 1.1023));
}

#[test]
fn pending_short_limit_triggers_on_bid_high() {
    let mut s = sim();
    s.process_signal(
        &pending(
            0,
            Direction::Short,
            OrderType::Limit,
            1.1010,
            1.1030,
            1.0950,
        ),
        &quote(flat(0)),
    )
    .unwrap();
    // ask high reaches 1.1010 but bid high is 1.1008: no trigger
    eval(&mut s, bid(60, 1.1000, 1.1008, 1.0995, 1.1000));
    assert_eq!(s.active_positions()[0].status, PositionStatus::Pending);
    eval(&mut s, bid(120, 1.1000, 1.1010, 1.0995, 1.1000));
    let p = &s.active_positions()[0];
    // v2 fills at the worse of E and the bid open (SEMANTICS §2): min(1.1010, 1.1000)
    assert_eq!((p.status, p.entry_price), (PositionStatus::Open, 1.1000));
}

#[test]
fn pending_ttl_expires_and_cancel_counts() {
    let mut s = sim_with(SimulatorConfig {
        pending_ttl_bars: Some(2),
        ..SimulatorConfig::default()
    });
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Limit, 1.0900, 1.0850, 1.1000),
        &quote(flat(0)),
    )
    .unwrap();
    s.process_signal(
        &pending(
            0,
            Direction::Short,
            OrderType::Limit,
            1.1100,
            1.1150,
            1.1000,
        ),
        &quote(flat(0)),
    )
    .unwrap();
    eval(&mut s, flat(0)); // signal bar: does not count
    eval(&mut s, flat(60));
    assert_eq!(s.active_positions().len(), 2);
    assert_eq!(s.active_positions()[0].bars_pending, 1);
    eval(&mut s, flat(120));
    assert!(s.active_positions().is_empty());
    assert_eq!(s.stats().orders_expired, 2);
    // v1 has no expiry, whatever the config says
    let mut s = sim_with(SimulatorConfig {
        pending_ttl_bars: Some(1),
        ..v1()
    });
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Limit, 1.0900, 1.0850, 1.1000),
        &quote(flat(0)),
    )
    .unwrap();
    for i in 1..10 {
        eval(&mut s, flat(i * 60));
    }
    assert_eq!(
        (s.active_positions().len(), s.stats().orders_expired),
        (1, 0)
    );
    // no TTL: stays until cancelled
    let mut s = sim();
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Limit, 1.0900, 1.0850, 1.1000),
        &quote(flat(0)),
    )
    .unwrap();
    for i in 1..50 {
        eval(&mut s, flat(i * 60));
    }
    assert_eq!(s.active_positions().len(), 1);
    assert_eq!(s.cancel_pending(0), 1);
    assert_eq!(
        (s.stats().orders_cancelled, s.stats().orders_expired),
        (1, 0)
    );
    assert!(s.active_positions().is_empty());
}

#[test]
fn size_below_min_at_the_trigger_drops_the_order() {
    let mut s = sim();
    // stop entry 1.1010 with SL 2,000 pips away: 0.005 lots < vmin at the fill
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Stop, 1.1010, 0.9010, 1.2000),
        &quote(flat(0)),
    )
    .unwrap();
    eval(&mut s, bid(60, 1.1005, 1.1015, 1.1000, 1.1010));
    assert!(s.active_positions().is_empty());
    assert_eq!(s.stats().rejected_for(RejectReason::SizeBelowMin), 1);
}

// ---------------------------------------------------------------- exits, §3

#[test]
fn trigger_bar_tp_needs_a_close_beyond_in_v2_for_limit_and_stop() {
    for ot in [OrderType::Limit, OrderType::Stop] {
        let e = 1.1000;
        let mut s = sim();
        s.process_signal(
            &pending(0, Direction::Long, ot, e, 1.0950, 1.1030),
            &quote(flat(0)),
        )
        .unwrap();
        // triggers (ask low 1.0992 / ask high 1.1042), touches TP (bid high 1.1040) but closes below
        eval(&mut s, bid(60, 1.0995, 1.1040, 1.0990, 1.1010));
        assert_eq!(
            s.active_positions()[0].status,
            PositionStatus::Open,
            "{ot:?}"
        );
        assert!(closed(&mut s).is_empty());
        // closes beyond TP in the trigger bar -> TP in the entry candle
        let mut s = sim();
        s.process_signal(
            &pending(0, Direction::Long, ot, e, 1.0950, 1.1030),
            &quote(flat(0)),
        )
        .unwrap();
        eval(&mut s, bid(60, 1.0995, 1.1040, 1.0990, 1.1035));
        let c = closed(&mut s);
        assert_eq!(c[0].reason, ExitReason::TakeProfit, "{ot:?}");
        assert!(c[0].in_entry_candle);
    }
}

#[test]
fn trigger_bar_v1_stop_takes_tp_without_close_check_limit_does_not() {
    let mut s = sim_with(v1());
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Stop, 1.1000, 1.0950, 1.1030),
        &quote(flat(0)),
    )
    .unwrap();
    eval(&mut s, bid(60, 1.0995, 1.1040, 1.0990, 1.1010));
    let c = closed(&mut s);
    assert_eq!((c.len(), c[0].reason), (1, ExitReason::TakeProfit));
    let mut s = sim_with(v1());
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Limit, 1.1000, 1.0950, 1.1030),
        &quote(flat(0)),
    )
    .unwrap();
    eval(&mut s, bid(60, 1.0995, 1.1040, 1.0990, 1.1010));
    assert!(closed(&mut s).is_empty());
}

#[test]
fn trigger_bar_sl_exits_in_both_variants() {
    for cfg in [SimulatorConfig::default(), v1()] {
        let mut s = sim_with(cfg);
        s.process_signal(
            &pending(0, Direction::Long, OrderType::Limit, 1.1000, 1.0980, 1.1100),
            &quote(flat(0)),
        )
        .unwrap();
        eval(&mut s, bid(60, 1.1005, 1.1010, 1.0970, 1.0990));
        let c = closed(&mut s);
        assert_eq!(
            (c[0].reason, c[0].exit_price),
            (ExitReason::StopLoss, 1.0980)
        );
        assert!(c[0].in_entry_candle);
        assert_eq!(c[0].trigger_time, Some(60));
        assert!(close_to(c[0].r_multiple, -1.0));
    }
}

#[test]
fn short_exits_test_the_ask_and_sl_wins_ties_with_ambiguity() {
    let mut s = sim();
    s.process_signal(
        &market(0, Direction::Short, 1.1030, 1.0970),
        &quote(flat(0)),
    )
    .unwrap();
    // bid high 1.1029 would not hit SL - buf = 1.10295, but ask high 1.1031 does
    eval(&mut s, bid(60, 1.1000, 1.1029, 1.0990, 1.1000));
    let c = closed(&mut s);
    assert_eq!(
        (c[0].reason, c[0].exit_price, c[0].ambiguous),
        (ExitReason::StopLoss, 1.1030, false)
    );
    let mut s = sim();
    s.process_signal(
        &market(0, Direction::Short, 1.1030, 1.0970),
        &quote(flat(0)),
    )
    .unwrap();
    eval(&mut s, bid(60, 1.1000, 1.1100, 1.0900, 1.1000));
    let c = closed(&mut s);
    assert_eq!((c[0].reason, c[0].ambiguous), (ExitReason::StopLoss, true));
}

#[test]
fn v2_requires_the_ask_v1_falls_back_to_bid() {
    let mut s = sim();
    s.process_signal(
        &market(0, Direction::Short, 1.1030, 1.0970),
        &quote(flat(0)),
    )
    .unwrap();
    let e = s.evaluate_bar(0, &flat(60), None).unwrap_err();
    assert_eq!(e.code().code, 2007);
    let mut s = sim_with(v1());
    s.process_signal(
        &market(0, Direction::Short, 1.1030, 1.0970),
        &quote(flat(0)),
    )
    .unwrap();
    // bid high 1.1029 >= SL - buf (1.10295)? no. 1.1030 -> yes, tested on the bid in v1
    s.evaluate_bar(0, &bid(60, 1.1000, 1.1029, 1.0990, 1.1000), None)
        .unwrap();
    assert_eq!(s.active_positions().len(), 1);
    s.evaluate_bar(0, &bid(120, 1.1000, 1.1030, 1.0990, 1.1000), None)
        .unwrap();
    assert_eq!(closed(&mut s)[0].reason, ExitReason::StopLoss);
}

#[test]
fn gap_fills_in_the_simulator() {
    for (gap, want) in [(false, 1.0980), (true, 1.0960)] {
        let mut s = sim_with(SimulatorConfig {
            gap_fills: gap,
            ..SimulatorConfig::default()
        });
        s.process_signal(&market(0, Direction::Long, 1.0980, 1.1100), &quote(flat(0)))
            .unwrap();
        eval(&mut s, bid(60, 1.0960, 1.0965, 1.0950, 1.0955));
        let c = closed(&mut s);
        assert_eq!((c[0].reason, c[0].exit_price), (ExitReason::StopLoss, want));
    }
    let mut s = sim_with(SimulatorConfig {
        gap_fills: true,
        ..SimulatorConfig::default()
    });
    s.process_signal(&market(0, Direction::Long, 1.0980, 1.1050), &quote(flat(0)))
        .unwrap();
    eval(&mut s, bid(60, 1.1070, 1.1080, 1.1060, 1.1070));
    assert_eq!(closed(&mut s)[0].exit_price, 1.1070);
}

#[test]
fn v1_buffer_uses_the_first_open_positions_pip() {
    // First open position is USDJPY (pip 0.01 -> buf 0.005); the EURUSD position then uses a
    // 50-pip buffer in v1 and a 0.5-pip buffer in v2.
    let fx = FxRates::default().with_rate("USDJPY", 150.0);
    for (variant, exits) in [(Variant::V1Parity, true), (Variant::V2, false)] {
        let cfg = SimulatorConfig {
            variant,
            fx: fx.clone(),
            ..SimulatorConfig::default()
        };
        let mut s = ExecutionSimulator::new(cfg, vec![usdjpy(), eurusd()]).unwrap();
        let jb = bid(0, 150.00, 150.05, 149.95, 150.00);
        let jq = BarQuote {
            bid: jb,
            ask: Some(Candle {
                open: 150.02,
                high: 150.07,
                low: 149.97,
                close: 150.02,
                ..jb
            }),
        };
        let mut js = market(0, Direction::Long, 149.00, 152.00);
        js.symbol = 0;
        s.process_signal(&js, &jq).unwrap();
        let mut es = market(0, Direction::Long, 1.0950, 1.1100);
        es.symbol = 1;
        s.process_signal(&es, &quote(flat(0))).unwrap();
        // bid low 1.0990: 40 pips above SL, within 50 pips
        let b = bid(60, 1.1000, 1.1005, 1.0990, 1.1000);
        s.evaluate_bar(1, &b, Some(&ask_of(&b))).unwrap();
        assert_eq!(closed(&mut s).len() == 1, exits, "{variant:?}");
    }
}

#[test]
fn v1_buffer_defaults_to_one_pip_of_0_0001_when_nothing_is_open() {
    // v1 with pip 0.01 but no open position: the trigger-bar SL test uses 0.0001 * 0.5 only
    // after the order itself opened (it is then the first open position): pip 0.01 -> buf 0.005.
    let fx = FxRates::default().with_rate("USDJPY", 150.0);
    let cfg = SimulatorConfig { fx, ..v1() };
    let mut s = ExecutionSimulator::new(cfg, vec![usdjpy()]).unwrap();
    let b0 = bid(0, 150.0, 150.05, 149.95, 150.0);
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Limit, 149.90, 149.80, 151.0),
        &BarQuote { bid: b0, ask: None },
    )
    .unwrap();
    // triggers (low 149.85 <= 149.90) and low 149.804 is within buf 0.005 of SL 149.80
    s.evaluate_bar(0, &bid(60, 149.95, 150.0, 149.804, 149.9), None)
        .unwrap();
    assert_eq!(closed(&mut s)[0].reason, ExitReason::StopLoss);
}

#[test]
fn exit_reasons_follow_queued_stop_updates() {
    for (variant, kind, want) in [
        (
            Variant::V2,
            StopKind::BreakEven,
            ExitReason::BreakEvenStopLoss,
        ),
        (Variant::V2, StopKind::Trailing, ExitReason::TrailingStop),
        (
            Variant::V1Parity,
            StopKind::Trailing,
            ExitReason::BreakEvenStopLoss,
        ),
        (
            Variant::V1Parity,
            StopKind::BreakEven,
            ExitReason::BreakEvenStopLoss,
        ),
    ] {
        let mut s = sim_with(SimulatorConfig {
            variant,
            ..SimulatorConfig::default()
        });
        s.process_signal(&market(0, Direction::Long, 1.0980, 1.1100), &quote(flat(0)))
            .unwrap();
        s.queue_stop_update(0, 1.1002, kind);
        s.queue_stop_update(0, f64::NAN, kind); // ignored
        s.apply_queued_stop_updates();
        assert_eq!(
            (
                s.active_positions()[0].stop_loss,
                s.active_positions()[0].stop_kind
            ),
            (1.1002, kind)
        );
        eval(&mut s, bid(60, 1.1010, 1.1012, 1.0999, 1.1005));
        let c = closed(&mut s);
        assert_eq!(c[0].reason, want, "{variant:?} {kind:?}");
        assert_eq!((c[0].initial_stop_loss, c[0].stop_loss), (1.0980, 1.1002));
    }
    // a queued update is applied by the next evaluate_bar too
    let mut s = sim();
    s.process_signal(&market(0, Direction::Long, 1.0980, 1.1100), &quote(flat(0)))
        .unwrap();
    s.queue_stop_update(0, 1.0990, StopKind::Trailing);
    eval(&mut s, bid(60, 1.1000, 1.1005, 1.0990, 1.1000));
    assert_eq!(closed(&mut s)[0].reason, ExitReason::TrailingStop);
}

#[test]
fn open_positions_track_bars_held_and_best_price() {
    let mut s = sim();
    s.process_signal(&market(0, Direction::Long, 1.0900, 1.1200), &quote(flat(0)))
        .unwrap();
    s.process_signal(
        &market(0, Direction::Short, 1.1100, 1.0800),
        &quote(flat(0)),
    )
    .unwrap();
    eval(&mut s, bid(60, 1.1000, 1.1030, 1.0990, 1.1000));
    eval(&mut s, bid(120, 1.1000, 1.1020, 1.0970, 1.1000));
    let p = s.active_positions();
    assert_eq!((p[0].bars_held, p[0].best_price), (2, 1.1030));
    assert_eq!(p[1].bars_held, 2);
    assert!(close_to(p[1].best_price, 1.0970 + SPREAD));
}

// ---------------------------------------------------------------- market closes, accounting

#[test]
fn close_position_on_the_exit_side_with_costs_per_variant() {
    let slip = SlippageModel {
        fixed_pips: 1.0,
        random_pips: 0.0,
    };
    let comm = Some(CommissionSet::uniform(Commission::new(
        CommissionSchema::PerLot(4.0),
    )));
    // v2 timeout: adverse slippage and exit fee
    let mut s = sim_with(SimulatorConfig {
        slippage: slip,
        commission: comm.clone(),
        ..SimulatorConfig::default()
    });
    s.process_signal(&market(0, Direction::Long, 1.0983, 1.1100), &quote(flat(0)))
        .unwrap();
    let p = s.active_positions()[0].clone();
    assert!(close_to(p.entry_price, 1.1003)); // ask close + 1 pip
    assert_eq!(p.lots, 0.5);
    assert_eq!(p.entry_fee, 2.0);
    s.close_position(0, 60, 1.1010, 1.1012, ExitReason::Timeout)
        .unwrap();
    let c = closed(&mut s);
    assert!(close_to(c[0].exit_price, 1.1009)); // bid close - 1 pip
    assert_eq!((c[0].exit_fee, c[0].reason), (2.0, ExitReason::Timeout));
    assert!(close_to(c[0].net_pnl, c[0].gross_pnl - 4.0));
    assert!(close_to(s.balance(), 100_000.0 + c[0].net_pnl));
    assert!(close_to(s.stats().fees_total, 4.0));
    // v1 timeout: no slippage, no fee
    let mut s = sim_with(SimulatorConfig {
        slippage: slip,
        commission: comm.clone(),
        ..v1()
    });
    s.process_signal(&market(0, Direction::Long, 1.0983, 1.1100), &quote(flat(0)))
        .unwrap();
    s.close_position(0, 60, 1.1010, 1.1012, ExitReason::Timeout)
        .unwrap();
    let c = closed(&mut s);
    assert_eq!((c[0].exit_price, c[0].exit_fee), (1.1010, 0.0));
    // v1 signal_exit: own-direction (favourable) slippage and the fee
    let mut s = sim_with(SimulatorConfig {
        slippage: slip,
        commission: comm,
        ..v1()
    });
    s.process_signal(
        &market(0, Direction::Short, 1.1020, 1.0900),
        &quote(flat(0)),
    )
    .unwrap();
    s.close_position(0, 60, 1.1010, 1.1012, ExitReason::SignalExit)
        .unwrap();
    let c = closed(&mut s);
    assert!(close_to(c[0].exit_price, 1.1011)); // ask close - 1 pip: favourable for a short
    assert!(c[0].exit_fee > 0.0);
}

#[test]
fn exit_slippage_is_adverse_in_v2_and_own_direction_in_v1() {
    let slip = SlippageModel {
        fixed_pips: 2.0,
        random_pips: 0.0,
    };
    for (variant, want) in [
        (Variant::V2, 1.1100 - 0.0002),
        (Variant::V1Parity, 1.1100 + 0.0002),
    ] {
        let mut s = sim_with(SimulatorConfig {
            variant,
            slippage: slip,
            ..SimulatorConfig::default()
        });
        s.process_signal(&market(0, Direction::Long, 1.0950, 1.1100), &quote(flat(0)))
            .unwrap();
        eval(&mut s, bid(60, 1.1050, 1.1110, 1.1040, 1.1100));
        let c = closed(&mut s);
        assert!(
            close_to(c[0].exit_price, want),
            "{variant:?} {}",
            c[0].exit_price
        );
    }
}

#[test]
fn v1_pnl_is_r_times_risk_v2_is_size_times_move() {
    // 0.0033 pip-distance gives a quantized size, so v2 gross differs from R * risk
    for (variant, r_based) in [(Variant::V1Parity, true), (Variant::V2, false)] {
        let mut s = sim_with(SimulatorConfig {
            variant,
            ..SimulatorConfig::default()
        });
        s.process_signal(&market(0, Direction::Long, 1.0969, 1.1068), &quote(flat(0)))
            .unwrap();
        eval(&mut s, bid(60, 1.1050, 1.1070, 1.1040, 1.1060));
        let c = closed(&mut s);
        assert!(close_to(c[0].r_multiple, 2.0));
        if r_based {
            assert!(close_to(c[0].gross_pnl, 200.0));
        } else {
            // 100 / (0.0033 * 1e5) = 0.303 -> 0.30 lots
            assert_eq!(c[0].lots, 0.30);
            assert!(close_to(c[0].gross_pnl, 0.0066 * 0.30 * 100_000.0));
        }
    }
}

#[test]
fn close_position_errors() {
    let mut s = sim();
    assert_eq!(
        s.close_position(5, 0, 1.0, 1.0, ExitReason::EndOfData)
            .unwrap_err()
            .code()
            .code,
        1001
    );
    s.process_signal(
        &pending(0, Direction::Long, OrderType::Limit, 1.0900, 1.0850, 1.1000),
        &quote(flat(0)),
    )
    .unwrap();
    let e = s
        .close_position(0, 0, 1.0, 1.0, ExitReason::EndOfData)
        .unwrap_err();
    assert!(e.to_string().contains("pending"), "{e}");
    s.process_signal(&market(0, Direction::Long, 1.0900, 1.1100), &quote(flat(0)))
        .unwrap();
    let e = s
        .close_position(1, 60, f64::NAN, 1.1, ExitReason::EndOfData)
        .unwrap_err();
    assert_eq!(e.code().code, 2001);
    assert_eq!(s.active_positions().len(), 2);
    s.close_position(1, 60, 1.1, 1.1002, ExitReason::EndOfData)
        .unwrap();
    assert_eq!(closed(&mut s)[0].reason, ExitReason::EndOfData);
}

#[test]
fn unrealized_pnl_marks_the_exit_side_and_is_zero_in_v1() {
    let mut s = sim();
    s.process_signal(&market(0, Direction::Long, 1.0900, 1.1200), &quote(flat(0)))
        .unwrap(); // 1.1002, 0.09 lots
    s.process_signal(
        &market(0, Direction::Short, 1.1100, 1.0800),
        &quote(flat(0)),
    )
    .unwrap(); // 1.1000, 0.1 lots
    let p = s.active_positions().to_vec();
    let u = s.unrealized_pnl(0, 1.1010, 1.1012);
    let want = (1.1010 - p[0].entry_price) * p[0].lots * 1e5
        - (1.1012 - p[1].entry_price) * p[1].lots * 1e5;
    assert!(close_to(u, want), "{u} {want}");
    assert_eq!(s.unrealized_pnl(1, 1.0, 1.0), 0.0);
    let mut s = sim_with(v1());
    s.process_signal(&market(0, Direction::Long, 1.0900, 1.1200), &quote(flat(0)))
        .unwrap();
    assert_eq!(s.unrealized_pnl(0, 1.2, 1.2), 0.0);
}

#[test]
fn percent_risk_uses_the_equity_at_the_fill() {
    let mut s = sim_with(SimulatorConfig {
        risk: RiskMode::Percent(1.0),
        ..SimulatorConfig::default()
    });
    // equity 100,000 -> risk 1,000, 20 pips -> 5 lots
    s.process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
        .unwrap();
    assert_eq!(s.active_positions()[0].lots, 5.0);
    s.set_equity(50_000.0);
    s.process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
        .unwrap();
    assert_eq!(
        (
            s.active_positions()[1].lots,
            s.active_positions()[1].risk_amount
        ),
        (2.5, 500.0)
    );
    // equity gone: nothing trades
    s.set_equity(f64::NAN);
    let o = s
        .process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
        .unwrap();
    assert_eq!(o, SignalOutcome::Rejected(RejectReason::SizeBelowMin));
}

#[test]
fn fixed_lots_ignore_the_stop_distance_and_record_the_risk_at_the_sl() {
    for variant in [Variant::V2, Variant::V1Parity] {
        let mut s = sim_with(SimulatorConfig {
            variant,
            risk: RiskMode::FixedLots(0.5),
            ..SimulatorConfig::default()
        });
        // long fills at ASK close 1.1002: SL 20 pips and 80 pips away, the same 0.5 lots
        s.process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
            .unwrap();
        s.process_signal(&market(0, Direction::Long, 1.0922, 1.1100), &quote(flat(0)))
            .unwrap();
        let p = s.active_positions();
        assert_eq!((p[0].lots, p[1].lots), (0.5, 0.5), "{variant:?}");
        // risk = lots * distance * value per price = 0.5 * 0.0020 * 100,000 = 100 (80 pips: 400)
        assert!(
            (p[0].risk_amount - 100.0).abs() < 1e-9,
            "{}",
            p[0].risk_amount
        );
        assert!(
            (p[1].risk_amount - 400.0).abs() < 1e-9,
            "{}",
            p[1].risk_amount
        );
    }
    // quantized like any size: 0.505 lots on a 0.01 step -> 0.5; below the minimum -> rejected
    let mut s = sim_with(SimulatorConfig {
        risk: RiskMode::FixedLots(0.505),
        ..SimulatorConfig::default()
    });
    s.process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
        .unwrap();
    assert_eq!(s.active_positions()[0].lots, 0.5);
    let mut s = sim_with(SimulatorConfig {
        risk: RiskMode::FixedLots(0.001),
        ..SimulatorConfig::default()
    });
    let o = s
        .process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
        .unwrap();
    assert_eq!(o, SignalOutcome::Rejected(RejectReason::SizeBelowMin));
}

#[test]
fn tick_values_override_contract_size_in_v2_only() {
    let mut spec = eurusd();
    spec.tick_size = Some(0.00001);
    spec.tick_value = Some(2.0); // 200,000 per 1.0 move
    for (variant, lots) in [(Variant::V2, 0.25), (Variant::V1Parity, 0.5)] {
        let cfg = SimulatorConfig {
            variant,
            ..SimulatorConfig::default()
        };
        let mut s = ExecutionSimulator::new(cfg, vec![spec.clone()]).unwrap();
        s.process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
            .unwrap();
        assert!(close_to(s.active_positions()[0].lots, lots), "{variant:?}");
    }
}

// ---------------------------------------------------------------- FX and fees in the simulator

#[test]
fn fx_conversion_for_value_per_price_static_and_as_of() {
    // USDJPY in a USD account: 1.0 JPY move per lot = 100,000 JPY = 100,000 / rate USD
    let fx = FxRates::default().with_series("USDJPY", vec![0, 120], vec![100.0, 200.0]);
    let cfg = SimulatorConfig {
        fx,
        ..SimulatorConfig::default()
    };
    let mut s = ExecutionSimulator::new(cfg, vec![usdjpy()]).unwrap();
    let b = |ts| bid(ts, 150.0, 150.05, 149.95, 150.0);
    let q = |ts| BarQuote {
        bid: b(ts),
        ask: Some(Candle {
            open: 150.02,
            high: 150.07,
            low: 149.97,
            close: 150.02,
            ..b(ts)
        }),
    };
    // SL 1.0 JPY below the 150.02 fill: 100 USD / (1.0 * 1000) = 0.1 lots at rate 100
    s.process_signal(&market(60, Direction::Long, 149.02, 152.0), &q(60))
        .unwrap();
    assert!(close_to(s.active_positions()[0].value_per_price, 1000.0));
    assert_eq!(s.active_positions()[0].lots, 0.1);
    // at ts 120 the rate is 200: value per price 500 -> 0.2 lots
    s.process_signal(&market(120, Direction::Long, 149.02, 152.0), &q(120))
        .unwrap();
    assert_eq!(s.active_positions()[1].lots, 0.2);
    // before the first point of the series: 1006, nothing changed
    let before = s.stats().clone();
    let e = s
        .process_signal(&market(-60, Direction::Long, 149.02, 152.0), &q(-60))
        .unwrap_err();
    assert_eq!(e.code().code, 1006);
    assert_eq!(s.stats(), &before);
    assert_eq!(s.active_positions().len(), 2);
}

#[test]
fn missing_fx_route_fails_at_construction() {
    let e = ExecutionSimulator::new(SimulatorConfig::default(), vec![usdjpy()]).unwrap_err();
    assert_eq!(e.code().code, 1006);
    assert!(
        e.to_string()
            .contains("symbol_specs[USDJPY].quote_currency"),
        "{e}"
    );
    // with tick values in v2 no conversion is needed
    let mut spec = usdjpy();
    spec.tick_size = Some(0.001);
    spec.tick_value = Some(0.67);
    assert!(ExecutionSimulator::new(SimulatorConfig::default(), vec![spec.clone()]).is_ok());
    // ... but v1 sizes from contract_size and needs the rate
    assert_eq!(
        ExecutionSimulator::new(v1(), vec![spec])
            .unwrap_err()
            .code()
            .code,
        1006
    );
}

#[test]
fn commission_schemas_and_legacy_fee_in_the_simulator() {
    // per million notional, 25 per side, min 1: 0.5 lots * 100000 * 1.1002 = 55,010 -> 1.37525
    let mut c = Commission::new(CommissionSchema::PerMillionNotional(25.0));
    c.min_fee = 1.0;
    let mut s = sim_with(SimulatorConfig {
        commission: Some(CommissionSet::uniform(c)),
        ..SimulatorConfig::default()
    });
    s.process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
        .unwrap();
    assert!(close_to(s.active_positions()[0].entry_fee, 1.37525));
    s.close_position(0, 60, 1.1000, 1.1002, ExitReason::EndOfData)
        .unwrap();
    let cp = closed(&mut s);
    assert!(close_to(cp[0].exit_fee, 0.5 * 1e5 * 1.1 * 25.0 / 1e6));
    assert!(close_to(s.balance(), 100_000.0 + cp[0].net_pnl));
    // legacy fee: max(notional/1e6 * 30, 5) -> 5 per side
    let mut s = sim_with(SimulatorConfig {
        legacy_fee: Some(LegacyFee {
            per_million: 30.0,
            min_fee: 5.0,
        }),
        ..SimulatorConfig::default()
    });
    s.process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
        .unwrap();
    assert_eq!(s.active_positions()[0].entry_fee, 5.0);
    // per-symbol override beats the default
    let mut set = CommissionSet::uniform(Commission::new(CommissionSchema::PerLot(1.0)));
    set.overrides.push((
        "EURUSD".into(),
        Commission::new(CommissionSchema::PerLot(10.0)),
    ));
    let mut s = sim_with(SimulatorConfig {
        commission: Some(set),
        ..SimulatorConfig::default()
    });
    s.process_signal(&market(0, Direction::Long, 1.0982, 1.1100), &quote(flat(0)))
        .unwrap();
    assert_eq!(s.active_positions()[0].entry_fee, 5.0);
}

// ---------------------------------------------------------------- slippage determinism

fn random_fills(base_seed: u64, run_key: u64) -> Vec<f64> {
    let cfg = SimulatorConfig {
        slippage: SlippageModel {
            fixed_pips: 0.5,
            random_pips: 2.0,
        },
        base_seed,
        run_key,
        ..SimulatorConfig::default()
    };
    let mut s = sim_with(cfg);
    for i in 0..20 {
        s.process_signal(
            &market(i * 60, Direction::Long, 1.0900, 1.1200),
            &quote(flat(i * 60)),
        )
        .unwrap();
    }
    s.active_positions().iter().map(|p| p.entry_price).collect()
}

#[test]
fn random_slippage_is_seeded_adverse_and_bounded() {
    let a = random_fills(42, 7);
    assert_eq!(a, random_fills(42, 7));
    assert_ne!(a, random_fills(43, 7));
    assert_ne!(a, random_fills(42, 8));
    for px in &a {
        let slip = (px - 1.1002) / PIP;
        assert!((0.5 - 1e-9..=2.5 + 1e-9).contains(&slip), "{slip}");
    }
    // draws differ between events
    let distinct: std::collections::BTreeSet<u64> = a.iter().map(|x| x.to_bits()).collect();
    assert!(distinct.len() > 15);
}

// ---------------------------------------------------------------- tick mode, §4

fn tick(ts: i64, b: f64, a: f64) -> Tick {
    Tick { ts, bid: b, ask: a }
}

#[test]
fn tick_mode_market_fills_and_exits() {
    let mut s = sim();
    let o = s
        .process_signal_tick(
            &market(0, Direction::Long, 1.0980, 1.1020),
            &tick(0, 1.1000, 1.1002),
        )
        .unwrap();
    assert_eq!(o, SignalOutcome::Opened(0));
    assert_eq!(
        (
            s.active_positions()[0].entry_price,
            s.active_positions()[0].trigger_time
        ),
        (1.1002, Some(0))
    );
    // same tick never exits; bid at SL - 1 pip exits at the bid (worse), no buffer
    s.evaluate_tick(0, &tick(0, 1.0900, 1.0902)).unwrap();
    assert_eq!(s.active_positions().len(), 1);
    s.evaluate_tick(0, &tick(1, 1.09805, 1.09825)).unwrap(); // inside a candle buffer, not a tick one
    assert_eq!(s.active_positions().len(), 1);
    s.evaluate_tick(0, &tick(2, 1.0979, 1.0981)).unwrap();
    let c = closed(&mut s);
    assert_eq!(
        (c[0].reason, c[0].exit_price),
        (ExitReason::StopLoss, 1.0979)
    );
    // v1: missing entry takes bid for long, exits at the level, no trigger time
    let mut s = sim_with(v1());
    s.process_signal_tick(
        &market(0, Direction::Long, 1.0980, 1.1020),
        &tick(0, 1.1000, 1.1002),
    )
    .unwrap();
    assert_eq!(
        (
            s.active_positions()[0].entry_price,
            s.active_positions()[0].trigger_time
        ),
        (1.1000, None)
    );
    s.evaluate_tick(0, &tick(2, 1.0979, 1.0981)).unwrap();
    let c = closed(&mut s);
    assert_eq!(
        (c[0].reason, c[0].exit_price),
        (ExitReason::StopLoss, 1.0980)
    );
    assert!(!c[0].in_entry_candle);
}

#[test]
fn tick_mode_pending_triggers_later_ticks_only() {
    let mut s = sim();
    s.process_signal_tick(
        &pending(0, Direction::Short, OrderType::Stop, 1.0990, 1.1010, 1.0950),
        &tick(0, 1.0980, 1.0982),
    )
    .unwrap();
    assert_eq!(s.active_positions()[0].status, PositionStatus::Pending);
    s.evaluate_tick(0, &tick(0, 1.0980, 1.0982)).unwrap();
    assert_eq!(s.active_positions()[0].status, PositionStatus::Pending);
    s.evaluate_tick(0, &tick(1, 1.0985, 1.0987)).unwrap();
    let p = &s.active_positions()[0];
    // short stop: fill at the worse of E and the bid
    assert_eq!(
        (p.status, p.entry_price, p.trigger_time),
        (PositionStatus::Open, 1.0985, Some(1))
    );
    s.evaluate_tick(0, &tick(2, 1.0949, 1.0950)).unwrap();
    let c = closed(&mut s);
    assert_eq!(
        (c[0].reason, c[0].exit_price),
        (ExitReason::TakeProfit, 1.0950)
    );
    // TTL counts ticks
    let mut s = sim_with(SimulatorConfig {
        pending_ttl_bars: Some(1),
        ..SimulatorConfig::default()
    });
    s.process_signal_tick(
        &pending(0, Direction::Long, OrderType::Limit, 1.0900, 1.0850, 1.1000),
        &tick(0, 1.1, 1.1002),
    )
    .unwrap();
    s.evaluate_tick(0, &tick(1, 1.1, 1.1002)).unwrap();
    assert_eq!(s.stats().orders_expired, 1);
}

// ---------------------------------------------------------------- API plumbing

#[test]
fn symbol_lookup_spec_and_drain_without_allocation() {
    let mut s = ExecutionSimulator::new(
        SimulatorConfig::default(),
        vec![eurusd(), {
            let mut g = eurusd();
            g.symbol = "GBPUSD".into();
            g
        }],
    )
    .unwrap();
    assert_eq!(s.symbol_id("GBPUSD").unwrap(), 1);
    assert_eq!(s.spec(1).symbol, "GBPUSD");
    assert_eq!(s.specs().len(), 2);
    assert_eq!(s.config().variant, Variant::V2);
    s.process_signal(&market(0, Direction::Long, 1.0900, 1.1100), &quote(flat(0)))
        .unwrap();
    s.close_position(0, 60, 1.1, 1.1002, ExitReason::EndOfData)
        .unwrap();
    let mut out = Vec::with_capacity(8);
    let ptr = out.as_ptr();
    s.drain_closed_into(&mut out);
    assert_eq!((out.len(), out.as_ptr()), (1, ptr));
    s.drain_closed_into(&mut out);
    assert_eq!(out.len(), 1);
    // reset: same state as a fresh simulator, same results again
    s.process_signal(&market(0, Direction::Long, 1.0900, 1.1100), &quote(flat(0)))
        .unwrap();
    s.process_signal(&market(0, Direction::Long, 1.1900, 1.1100), &quote(flat(0)))
        .unwrap();
    let first = s.active_positions().to_vec();
    s.reset();
    assert!(s.active_positions().is_empty());
    assert_eq!((s.stats(), s.balance()), (&SimStats::default(), 100_000.0));
    assert_eq!(
        s.process_signal(&market(0, Direction::Long, 1.0900, 1.1100), &quote(flat(0)))
            .unwrap(),
        SignalOutcome::Opened(0)
    );
    // before the reset that order got id 1 (id 0 was the closed one); otherwise identical
    assert_eq!(
        Position {
            id: 1,
            ..s.active_positions()[0].clone()
        },
        first[0]
    );
}

// ---------------------------------------------------------------- a bad-input test per error code

fn code(r: Result<impl std::fmt::Debug>) -> (u16, String) {
    let e = r.unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("[{}] {}: ", e.code().code, e.code().name)),
        "{text}"
    );
    (e.code().code, text)
}

type SpecEdit = fn(&mut SymbolSpec);

#[test]
fn error_1001_invalid_parameter() {
    let bad_cfgs: Vec<(SimulatorConfig, &str)> = vec![
        (
            SimulatorConfig {
                pip_buffer_factor: -1.0,
                ..SimulatorConfig::default()
            },
            "pip_buffer_factor",
        ),
        (
            SimulatorConfig {
                pending_ttl_bars: Some(0),
                ..SimulatorConfig::default()
            },
            "pending_ttl_bars",
        ),
        (
            SimulatorConfig {
                risk: RiskMode::Fixed(0.0),
                ..SimulatorConfig::default()
            },
            "risk_per_trade",
        ),
        (
            SimulatorConfig {
                risk: RiskMode::Percent(150.0),
                ..SimulatorConfig::default()
            },
            "risk_percent",
        ),
        (
            SimulatorConfig {
                risk: RiskMode::FixedLots(-1.0),
                ..SimulatorConfig::default()
            },
            "fixed_lots",
        ),
        (
            SimulatorConfig {
                account_currency: String::new(),
                ..SimulatorConfig::default()
            },
            "account_currency",
        ),
        (
            SimulatorConfig {
                initial_balance: f64::NAN,
                ..SimulatorConfig::default()
            },
            "initial_balance",
        ),
        (
            SimulatorConfig {
                fx: FxRates::default().with_rate("EURUSD", -1.0),
                ..SimulatorConfig::default()
            },
            "fx.rates[EURUSD]",
        ),
        (
            SimulatorConfig {
                slippage: SlippageModel {
                    fixed_pips: 0.0,
                    random_pips: -1.0,
                },
                ..SimulatorConfig::default()
            },
            "slippage.random_pips",
        ),
        (
            SimulatorConfig {
                commission: Some(CommissionSet::uniform(Commission::new(
                    CommissionSchema::PerLot(f64::NAN),
                ))),
                ..SimulatorConfig::default()
            },
            "commission.default.per_lot",
        ),
        (
            SimulatorConfig {
                legacy_fee: Some(LegacyFee {
                    per_million: -1.0,
                    min_fee: 0.0,
                }),
                ..SimulatorConfig::default()
            },
            "legacy_fee.per_million",
        ),
    ];
    for (cfg, field) in bad_cfgs {
        let (c, text) = code(ExecutionSimulator::new(cfg, vec![eurusd()]));
        assert_eq!(c, 1001);
        assert!(text.contains(field), "{text} lacks {field}");
    }
    let spec_cases: Vec<(SpecEdit, &str)> = vec![
        (|s| s.pip_size = 0.0, "symbol_specs[EURUSD].pip_size"),
        (
            |s| s.contract_size = f64::NAN,
            "symbol_specs[EURUSD].contract_size",
        ),
        (
            |s| s.volume_step = -0.01,
            "symbol_specs[EURUSD].volume_step",
        ),
        (|s| s.volume_max = 0.001, "symbol_specs[EURUSD].volume_max"),
        (
            |s| s.tick_size = Some(0.0),
            "symbol_specs[EURUSD].tick_size",
        ),
        (
            |s| s.min_sl_distance_pips = Some(-1.0),
            "symbol_specs[EURUSD].min_sl_distance_pips",
        ),
        (
            |s| s.quote_currency = String::new(),
            "symbol_specs[EURUSD].quote_currency",
        ),
    ];
    for (f, field) in spec_cases {
        let mut spec = eurusd();
        f(&mut spec);
        let (c, text) = code(ExecutionSimulator::new(
            SimulatorConfig::default(),
            vec![spec],
        ));
        assert_eq!(c, 1001);
        assert!(text.contains(field), "{text} lacks {field}");
    }
    let (c, text) = code(ExecutionSimulator::new(
        SimulatorConfig::default(),
        vec![eurusd(), eurusd()],
    ));
    assert!(c == 1001 && text.contains("duplicate"));
    // signals: nothing half-applied
    let mut s = sim();
    let mut sig = market(0, Direction::Long, f64::NAN, 1.2);
    let (c, text) = code(s.process_signal(&sig, &quote(flat(0))));
    assert!(c == 1001 && text.contains("signal.stop_loss"));
    sig.stop_loss = 1.09;
    sig.ts = 5;
    let (c, text) = code(s.process_signal(&sig, &quote(flat(0))));
    assert!(c == 1001 && text.contains("signal.ts"));
    let (c, _) = code(s.process_signal_tick(&sig, &tick(6, 1.1, 1.1002)));
    assert_eq!(c, 1001);
    assert_eq!(s.stats().signals_processed, 0);
    assert!(s.active_positions().is_empty());
}

#[test]
fn error_1002_unknown_symbol() {
    let mut s = sim();
    let (c, text) = code(s.symbol_id("XAUUSD"));
    assert!(c == 1002 && text.contains("XAUUSD"));
    let mut sig = market(0, Direction::Long, 1.09, 1.2);
    sig.symbol = 3;
    assert_eq!(code(s.process_signal(&sig, &quote(flat(0)))).0, 1002);
    assert_eq!(
        code(s.process_signal_tick(&sig, &tick(0, 1.1, 1.1002))).0,
        1002
    );
    assert_eq!(
        code(s.evaluate_bar(3, &flat(0), Some(&ask_of(&flat(0))))).0,
        1002
    );
    assert_eq!(code(s.evaluate_tick(3, &tick(0, 1.1, 1.1002))).0, 1002);
    let mut set = CommissionSet::uniform(Commission::new(CommissionSchema::PerLot(1.0)));
    set.overrides.push((
        "XAUUSD".into(),
        Commission::new(CommissionSchema::PerLot(1.0)),
    ));
    let cfg = SimulatorConfig {
        commission: Some(set),
        ..SimulatorConfig::default()
    };
    let (c, text) = code(ExecutionSimulator::new(cfg, vec![eurusd()]));
    assert!(c == 1002 && text.contains("commission.overrides"));
}

#[test]
fn error_1006_missing_fx_rate() {
    let (c, _) = code(ExecutionSimulator::new(
        SimulatorConfig::default(),
        vec![usdjpy()],
    ));
    assert_eq!(c, 1006);
    let mut comm = Commission::new(CommissionSchema::PerLot(1.0));
    comm.currency = Some("EUR".into());
    let cfg = SimulatorConfig {
        commission: Some(CommissionSet::uniform(comm)),
        ..SimulatorConfig::default()
    };
    let (c, text) = code(ExecutionSimulator::new(cfg, vec![eurusd()]));
    assert!(c == 1006 && text.contains("commission[EURUSD]"), "{text}");
}

#[test]
fn error_2001_non_finite_price() {
    let mut s = sim();
    let mut q = quote(flat(0));
    q.bid.high = f64::NAN;
    let (c, text) = code(s.process_signal(&market(0, Direction::Long, 1.09, 1.2), &q));
    assert!(c == 2001 && text.contains("bar.bid.high"), "{text}");
    let mut b = flat(60);
    b.close = f64::INFINITY;
    assert_eq!(
        code(s.evaluate_bar(0, &b, Some(&ask_of(&flat(60))))).0,
        2001
    );
    let mut a = ask_of(&flat(60));
    a.low = f64::NAN;
    let (c, text) = code(s.evaluate_bar(0, &flat(60), Some(&a)));
    assert!(c == 2001 && text.contains("ask.low"));
    assert_eq!(code(s.evaluate_tick(0, &tick(1, f64::NAN, 1.1))).0, 2001);
    assert_eq!(
        code(s.process_signal_tick(
            &market(1, Direction::Long, 1.09, 1.2),
            &tick(1, 1.1, f64::NAN)
        ))
        .0,
        2001
    );
}

#[test]
fn error_2006_bid_ask_mismatch() {
    let mut s = sim();
    let mut a = ask_of(&flat(60));
    a.ts = 61;
    assert_eq!(code(s.evaluate_bar(0, &flat(60), Some(&a))).0, 2006);
    let q = BarQuote {
        bid: flat(0),
        ask: Some(a),
    };
    assert_eq!(
        code(s.process_signal(&market(0, Direction::Long, 1.09, 1.2), &q)).0,
        2006
    );
}

#[test]
fn error_2007_missing_side() {
    let mut s = sim();
    assert_eq!(code(s.evaluate_bar(0, &flat(0), None)).0, 2007);
    let q = BarQuote {
        bid: flat(0),
        ask: None,
    };
    let (c, text) = code(s.process_signal(&market(0, Direction::Long, 1.09, 1.2), &q));
    assert!(c == 2007 && text.contains("bar.ask"));
    // a short market order fills at the bid and needs no ask
    assert!(s
        .process_signal(&market(0, Direction::Short, 1.11, 1.09), &q)
        .is_ok());
    // v1 falls back to the bid
    let mut s = sim_with(v1());
    assert!(s.evaluate_bar(0, &flat(0), None).is_ok());
    assert!(s
        .process_signal(&market(0, Direction::Long, 1.09, 1.2), &q)
        .is_ok());
}

#[test]
fn simulator_can_move_between_threads() {
    // The loop runs one simulator per config on rayon workers.
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ExecutionSimulator>();
    send_sync::<ClosedPosition>();
}
