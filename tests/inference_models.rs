//! The inference models through the public API: request-rate inputs, latency
//! models, the HPA, the rolling-update planner, the service spec with its SLO
//! accounting, and the DLRM instance importer. Expected values are worked by
//! hand in the comments. Tests on the full public traces in `../shared/traces/`
//! skip with a message when that folder is absent.

use std::path::{Path, PathBuf};

use schedlab::inference::dlrm::{self, DlrmRole};
use schedlab::inference::hpa::{BehaviorSpec, HpaReason, ScalingRulesSpec};
use schedlab::inference::latency::{erlang_c, mmc_mean_response_s, mmc_response_quantile_s};
use schedlab::inference::rate::{
    DiurnalSpec, GenaiQpsOptions, import_genai_qps, import_genai_qps_from, import_rate_csv_from,
};
use schedlab::inference::rollout::resolve_fenceposts;
use schedlab::inference::{
    Hpa, HpaSpec, IntOrPercent, LatencyModel, RateSeries, RateSpec, Rollout, RolloutCounts,
    ScalingPolicy, ScalingPolicyType, SelectPolicy, ServiceSpec, SloReport, SloSample,
};
use schedlab::time::SimTime;
use schedlab::workload::GpuDemand;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/data")
        .join(rel)
}

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/traces")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

fn s(secs: u64) -> SimTime {
    SimTime::from_secs(secs)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

// ---------------------------------------------------------------- rates

#[test]
fn genai_sample_in_ten_minute_windows() {
    let opts = GenaiQpsOptions {
        window_ms: 570_000,
        ..GenaiQpsOptions::default()
    };
    let (series, report) = import_genai_qps(&data("genai-qps/qps.sample.csv"), &opts).unwrap();
    // The sample spans 3,591 s on the 57-s grid: windows of 570 s hold ten
    // instants each, the last one [3420, 3591] four (3420, 3477, 3534, 3591).
    // Window 0 sums to 0.63 over ten instants → 0.063 rps; the last sums to
    // 18.705 over four → 4.67625 rps (sums checked independently in Python).
    let expected = [0.063, 0.099, 0.405, 0.4275, 1.53, 3.0375, 4.67625];
    assert_eq!(series.points.len(), expected.len());
    for (i, (&(t, r), e)) in series.points.iter().zip(expected).enumerate() {
        assert_eq!(t, SimTime(i as u64 * 570_000));
        assert!(close(r, e, 1e-12), "window {i}: {r} vs {e}");
    }
    assert_eq!(
        (report.rows, report.kept_rows, report.skipped_rows()),
        (466, 466, 0)
    );
    assert!(
        report.notes[0].contains("466 samples of 90 containers (51 samples without a container)"),
        "{:?}",
        report.notes
    );
    assert!(report.notes[1].contains("-1662859176.000 s"));
}

#[test]
fn genai_sample_per_sampling_instant_with_gaps_and_filter() {
    let (series, _) = import_genai_qps(
        &data("genai-qps/qps.sample.csv"),
        &GenaiQpsOptions::default(),
    )
    .unwrap();
    // One instant per 57-s window: 0 and 57 s carry one 0.09 sample each, no
    // sample at 114 or 171 s (rate 0 from 114 s), then 0.09 at 228 s.
    assert_eq!(series.rate_at(s(0)), 0.09000000000000001);
    assert_eq!(series.rate_at(s(100)), 0.09000000000000001);
    assert_eq!(series.rate_at(s(114)), 0.0);
    assert_eq!(series.rate_at(s(200)), 0.0);
    assert_eq!(series.next_change_after(s(114)), Some(s(228)));
    assert_eq!(series.last_change(), Some(s(3_591)));
    assert!(close(series.peak_rps(), 5.535, 1e-12));

    // Only the generative requests, scaled ×100: window 0 (ten instants) sums
    // to 0.27 → 0.027 rps → 2.7 rps.
    let opts = GenaiQpsOptions {
        window_ms: 570_000,
        request_type: Some("Generative Requests".into()),
        scale: 100.0,
        ..GenaiQpsOptions::default()
    };
    let (series, report) = import_genai_qps(&data("genai-qps/qps.sample.csv"), &opts).unwrap();
    assert!(close(series.points[0].1, 2.7, 1e-12));
    assert!(close(series.points[6].1, 267.75, 1e-12));
    assert_eq!((report.rows, report.kept_rows), (466, 415));
    assert!(report.notes.iter().any(|n| {
        n.contains("51 rows of request_type \"API Requests\" left out by the request_type filter")
    }));
}

#[test]
fn genai_bad_rows_strict_and_lenient() {
    let text = "timestamp_anon,value,container_ip,request_type\n\
                0,1.0,a,Generative Requests\n\
                57,-1,a,Generative Requests\n\
                114,2.0,a\n\
                171,3.0,,API Requests\n";
    let opts = GenaiQpsOptions::default();
    let err = import_genai_qps_from(text.as_bytes(), Path::new("q.csv"), &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("q.csv: line 3, column 2, field `value`: got \"-1\""),
        "{err}"
    );
    let opts = GenaiQpsOptions {
        lenient: true,
        ..GenaiQpsOptions::default()
    };
    let (series, report) =
        import_genai_qps_from(text.as_bytes(), Path::new("q.csv"), &opts).unwrap();
    assert_eq!(
        (report.rows, report.kept_rows, report.skipped_rows()),
        (4, 2, 2)
    );
    // 0 s: 1.0; 57 s and 114 s: no kept sample → 0 from 57 s; 171 s: 3.0.
    assert_eq!(
        series.points,
        vec![(s(0), 1.0), (s(57), 0.0), (s(171), 3.0)]
    );
    let err = import_genai_qps_from(
        "timestamp,value\n".as_bytes(),
        Path::new("q.csv"),
        &GenaiQpsOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("expected `timestamp_anon,value,container_ip,request_type`"),
        "{err}"
    );
}

#[test]
fn genai_full_trace() {
    let Some(path) = shared("genai-qps/qps.csv") else {
        return;
    };
    let (series, report) = import_genai_qps(&path, &GenaiQpsOptions::default()).unwrap();
    // 24,627 samples at 1,145 distinct instants over 80,313 s; 47 gaps add a
    // zero point each → 1,192 points; the busiest instant sums to 9.6.
    assert_eq!((report.rows, report.kept_rows), (24_627, 24_627));
    assert_eq!(series.points.len(), 1_192);
    assert_eq!(series.last_change(), Some(s(80_313)));
    assert!(close(series.peak_rps(), 9.6, 1e-9));
    assert!(!report.notes.iter().any(|n| n.contains("off the")));
    assert!(
        report.notes[0].contains("of 107 containers"),
        "{}",
        report.notes[0]
    );
}

#[test]
fn rate_csv_steps_and_errors() {
    let text = "time_s,rate_rps\n0,10\n60.5,20\n120,0\n";
    let (series, report) =
        import_rate_csv_from(text.as_bytes(), Path::new("r.csv"), 2.0, false).unwrap();
    assert_eq!(
        series.points,
        vec![(s(0), 20.0), (SimTime(60_500), 40.0), (s(120), 0.0)]
    );
    assert_eq!(report.kept_rows, 3);
    // 20 rps × 60.5 s + 40 rps × 59.5 s = 1210 + 2380 requests.
    assert!(close(
        series.requests_between(s(0), s(1_000)),
        3_590.0,
        1e-12
    ));

    let text = "time_s,rate_rps\n0,10\n60,20\n30,5\n90,x\n";
    let err = import_rate_csv_from(text.as_bytes(), Path::new("r.csv"), 1.0, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 4, column 1, field `time_s`: got \"30\", expected a time after the previous row's 60.000 s"),
        "{err}"
    );
    let (series, report) =
        import_rate_csv_from(text.as_bytes(), Path::new("r.csv"), 1.0, true).unwrap();
    assert_eq!(series.points.len(), 2);
    assert_eq!(report.skipped_rows(), 2);
}

#[test]
fn diurnal_shape_noise_and_determinism() {
    let spec = DiurnalSpec {
        base_rps: 100.0,
        amplitude: 0.5,
        period_s: 86_400.0,
        peak_at_s: 21_600.0,
        step_s: 3_600.0,
        duration_s: 86_400.0,
        noise: 0.0,
    };
    let series = spec.series(1).unwrap();
    // 24 hourly samples; peak at 6 h: 100 · (1 + 0.5) = 150; trough at 18 h:
    // 50; at 0 h the cosine is cos(−π/2) = 0 → 100.
    assert_eq!(series.points.len(), 24);
    assert!(close(series.rate_at(s(6 * 3_600)), 150.0, 1e-12));
    assert!(close(series.rate_at(s(18 * 3_600 + 1_800)), 50.0, 1e-12));
    assert!(close(series.rate_at(s(0)), 100.0, 1e-12));
    // After the last sample (23 h) the rate holds.
    assert_eq!(series.rate_at(s(200_000)), series.points[23].1);

    let noisy = DiurnalSpec {
        noise: 0.1,
        ..spec.clone()
    };
    let a = noisy.series(7).unwrap();
    assert_eq!(a, noisy.series(7).unwrap());
    assert_ne!(a, noisy.series(8).unwrap());
    for (&(_, clean), &(_, n)) in series.points.iter().zip(&a.points) {
        assert!(
            n >= clean * 0.9 - 1e-9 && n <= clean * 1.1 + 1e-9,
            "{n} vs {clean}"
        );
    }
}

#[test]
fn rate_spec_serde_validation_and_load() {
    let spec: RateSpec = toml::from_str(
        "kind = \"genai-qps\"\npath = \"genai-qps/qps.sample.csv\"\nwindow_s = 570\nscale = 10\n",
    )
    .unwrap();
    let series = spec.load(&data(""), 0).unwrap();
    assert!(close(series.points[0].1, 0.63, 1e-12));

    let spec: RateSpec =
        toml::from_str("kind = \"diurnal\"\nbase_rps = 10.0\namplitude = 0.2\nduration_s = 600\n")
            .unwrap();
    // Default step 60 s → 10 samples.
    assert_eq!(spec.load(Path::new("."), 3).unwrap().points.len(), 10);

    let err = toml::from_str::<RateSpec>("kind = \"csv\"\npath = \"r.csv\"\nwindow_s = 5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `window_s`"), "{err}");
    let err = toml::from_str::<RateSpec>("kind = \"poisson\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("poisson"), "{err}");

    let bad: RateSpec =
        toml::from_str("kind = \"genai-qps\"\npath = \"q.csv\"\nwindow_s = 30\n").unwrap();
    let err = bad.validate().unwrap_err();
    assert_eq!(err.field, "window_s");
    assert!(err.message.contains("at least sample_period_s"), "{err}");
    let bad: RateSpec =
        toml::from_str("kind = \"diurnal\"\nbase_rps = 10.0\namplitude = 2.0\nduration_s = 600\n")
            .unwrap();
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "`amplitude`: got 2, expected a fraction in 0..=1"
    );
    let missing: RateSpec = toml::from_str("kind = \"csv\"\npath = \"nope.csv\"\n").unwrap();
    let err = missing
        .load(Path::new("/nonexistent"), 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/nope.csv: cannot read"), "{err}");
}

// ---------------------------------------------------------------- latency

#[test]
fn mm1_matches_closed_form() {
    // μ = 10, λ = 5, c = 1: T ~ Exp(5): mean 200 ms, p95 = ln 20 / 5 s = 599.146 ms.
    let est = LatencyModel::mmc().latency(5.0, 1, 10.0);
    assert!(close(est.mean_ms, 200.0, 1e-12));
    assert!(
        close(est.p95_ms, 1_000.0 * 20f64.ln() / 5.0, 1e-9),
        "{}",
        est.p95_ms
    );
    assert!(close(est.p95_ms, 599.146_454_7, 1e-9));
    assert_eq!((est.utilisation, est.saturated), (0.5, false));
    // Any other quantile too: p50 = ln 2 / 5.
    let p50 = mmc_response_quantile_s(5.0, 10.0, 1, 0.5).unwrap();
    assert!(close(p50, 2f64.ln() / 5.0, 1e-10));
}

#[test]
fn mm2_hand_computed() {
    // c = 2, μ = 1, λ = 1: a = 1, ρ = 0.5; Erlang B: B1 = 1/2, B2 = (1/2)/(2 + 1/2) = 0.2;
    // C = 0.2 / (1 − 0.5 · 0.8) = 1/3; W = 1/μ + C/(cμ − λ) = 1 + 1/3 s.
    assert!(close(erlang_c(2, 1.0).unwrap(), 1.0 / 3.0, 1e-14));
    assert!(close(
        mmc_mean_response_s(1.0, 1.0, 2).unwrap(),
        4.0 / 3.0,
        1e-14
    ));
    // θ = cμ − λ = 1 = μ: the waiting branch is Erlang-2, so
    // P(T > t) = (2/3) e^{−t} + (1/3) e^{−t} (1 + t) = e^{−t} (1 + t/3).
    // e^{−3.81}(1 + 1.27) = 0.05035 > 0.05 and e^{−3.82}(1 + 1.2733) = 0.04985:
    // the p95 lies in (3.81, 3.82) s and solves the equation.
    let p95 = mmc_response_quantile_s(1.0, 1.0, 2, 0.95).unwrap();
    assert!(p95 > 3.81 && p95 < 3.82, "{p95}");
    assert!(((-p95).exp() * (1.0 + p95 / 3.0) - 0.05).abs() < 1e-12);
    let est = LatencyModel::mmc().latency(1.0, 2, 1.0);
    assert!(close(est.p95_ms, p95 * 1_000.0, 1e-12));

    // c = 2, μ = 1, λ = 1.5: C = 2ρ²/(1 + ρ) at ρ = 0.75 = 1.125/1.75 = 9/14;
    // W = 1 + (9/14)/0.5 = 16/7 s = 2285.714 ms.
    assert!(close(erlang_c(2, 1.5).unwrap(), 9.0 / 14.0, 1e-14));
    let est = LatencyModel::mmc().latency(1.5, 2, 1.0);
    assert!(close(est.mean_ms, 16_000.0 / 7.0, 1e-12));
    // θ = 0.5 ≠ μ = 1: P(T > t) = (5/14) e^{−t} + (9/14) (e^{−t/2} − 0.5 e^{−t}) / 0.5 … at p95:
    let t = est.p95_ms / 1_000.0;
    let surv = (5.0 / 14.0) * (-t).exp() + (9.0 / 14.0) * (2.0 * (-t / 2.0).exp() - (-t).exp());
    assert!((surv - 0.05).abs() < 1e-12, "{surv}");
}

#[test]
fn latency_grows_with_load_and_saturates() {
    let m = LatencyModel::Mmc {
        saturated_latency_ms: 5_000.0,
    };
    let mut prev = 0.0;
    for i in 0..40 {
        let lambda = f64::from(i) * 0.99; // up to ρ = 0.975 on 4 × 10 rps
        let e = m.latency(lambda, 4, 10.0);
        assert!(e.p95_ms >= prev && e.p95_ms >= e.mean_ms, "{i}: {e:?}");
        prev = e.p95_ms;
    }
    // ρ = 1 → saturated at the cap.
    let e = m.latency(40.0, 4, 10.0);
    assert_eq!(
        (e.mean_ms, e.p95_ms, e.saturated, e.utilisation),
        (5_000.0, 5_000.0, true, 1.0)
    );
    // Near saturation latencies are capped but not "saturated".
    let e = m.latency(39.999_99, 4, 10.0);
    assert_eq!((e.p95_ms, e.saturated), (5_000.0, false));
    // No replica: saturated with load, idle without.
    let e = m.latency(1.0, 0, 10.0);
    assert!(e.saturated && e.utilisation.is_infinite());
    let e = m.latency(0.0, 0, 10.0);
    assert_eq!((e.p95_ms, e.saturated), (0.0, false));
    // No load on one replica: service time only, p95 = ln 20 / μ.
    let e = m.latency(0.0, 1, 10.0);
    assert!(close(e.p95_ms, 100.0 * 20f64.ln(), 1e-9));
    // NaN / negative rates count as 0; bad capacity serves nothing.
    assert_eq!(m.latency(f64::NAN, 1, 10.0), m.latency(0.0, 1, 10.0));
    assert!(m.latency(1.0, 3, f64::NAN).saturated);
}

#[test]
fn curve_model_interpolates() {
    let m: LatencyModel =
        toml::from_str("kind = \"curve\"\npoints = [[0.0, 40.0], [0.5, 50.0], [0.9, 200.0]]\n")
            .unwrap();
    m.validate().unwrap();
    // util 0.7 on 2 × 10 rps = 14 rps: 50 + (200 − 50)·(0.2/0.4) = 125 ms.
    let e = m.latency(14.0, 2, 10.0);
    assert!(close(e.p95_ms, 125.0, 1e-12) && close(e.mean_ms, 125.0, 1e-12));
    assert!(close(e.utilisation, 0.7, 1e-12));
    assert_eq!(m.latency(0.0, 2, 10.0).p95_ms, 40.0);
    assert_eq!(m.latency(19.0, 2, 10.0).p95_ms, 200.0); // above the last point: flat
    let e = m.latency(20.0, 2, 10.0);
    assert!(e.saturated);
    assert_eq!(e.p95_ms, 10_000.0); // the default cap

    let bad: LatencyModel =
        toml::from_str("kind = \"curve\"\npoints = [[0.5, 40.0], [0.5, 50.0]]\n").unwrap();
    let err = bad.validate().unwrap_err();
    assert_eq!(err.field, "points[1]");
    let err = toml::from_str::<LatencyModel>("kind = \"mmc\"\ncap = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `cap`"), "{err}");
}

// ---------------------------------------------------------------- HPA

fn hpa_spec(min: u32, max: u32, target: f64) -> HpaSpec {
    HpaSpec {
        min_replicas: min,
        max_replicas: max,
        target_utilization: target,
        tolerance: 0.1,
        sync_period_s: 15,
        behavior: BehaviorSpec::default(),
    }
}

/// Utilisation of `rps` over `ready` replicas of 10 rps.
fn util(rps: f64, ready: u32) -> f64 {
    rps / (f64::from(ready) * 10.0)
}

#[test]
fn hpa_spike_then_drop_with_defaults() {
    let mut h = Hpa::new(&hpa_spec(1, 20, 0.5)).unwrap();
    // t=0: 2 replicas at 10 rps → util 0.5, ratio 1 → no change.
    assert_eq!(h.sync(s(0), 2, 2, util(10.0, 2)), 2);
    // t=15: spike to 40 rps → util 2.0, ratio 4 → ceil(4 × 2) = 8; the default
    // scale-up rate is max(Pods 4 → 2 + 4, Percent 100 → 2 · 2) = 6.
    let d = h.sync_explained(s(15), 2, 2, util(40.0, 2));
    assert_eq!(
        (d.recommended, d.stabilized, d.desired),
        (Some(8), Some(8), 6)
    );
    assert_eq!(d.reason, HpaReason::ScaleUpLimit);
    // t=30: 6 ready, util 40/60, ratio 4/3 → ceil(8) = 8. The +4 event at 15 s
    // is out of the 15-s period (15 + 15 is not after 30): start 6 → limit 12.
    assert_eq!(h.sync(s(30), 6, 6, util(40.0, 6)), 8);
    // t=45: util 0.5 → within tolerance → 8 (recorded).
    assert_eq!(h.sync(s(45), 8, 8, util(40.0, 8)), 8);
    // From t=60 the load drops to 5 rps: ratio 0.125 → ceil(0.125 × 8) = 1,
    // but the scale-down window keeps the max of the last 300 s, i.e. 8 (last
    // recorded at 45 s), until 45 + 300 = 345 s is no longer "after" the cutoff.
    let mut t = 60;
    while t < 345 {
        let d = h.sync_explained(s(t), 8, 8, util(5.0, 8));
        assert_eq!((d.recommended, d.desired), (Some(1), 8), "t={t}");
        t += 15;
    }
    // t=345: stabilised 1; Percent 100 per 15 s allows floor(8 · 0) = 0, and
    // min_replicas (1) bounds it: 1 is within range.
    let d = h.sync_explained(s(345), 8, 8, util(5.0, 8));
    assert_eq!(
        (d.stabilized, d.desired, d.reason),
        (Some(1), 1, HpaReason::DesiredWithinRange)
    );
    // At 1 replica, still wanting less: min_replicas holds.
    assert_eq!(h.sync(s(360), 1, 1, 0.0), 1);
}

#[test]
fn hpa_scale_down_limited_by_policy() {
    let mut spec = hpa_spec(1, 20, 0.5);
    spec.behavior.scale_down = Some(ScalingRulesSpec {
        stabilization_window_s: Some(0),
        select_policy: None,
        policies: Some(vec![ScalingPolicy {
            kind: ScalingPolicyType::Percent,
            value: 50,
            period_s: 60,
        }]),
    });
    let mut h = Hpa::new(&spec).unwrap();
    let low = |r| util(1.0, r); // ratio 1/(5·r) → recommendation 1
    // t=0: 8 → floor(8 · 0.5) = 4.
    let d = h.sync_explained(s(0), 8, 8, low(8));
    assert_eq!((d.desired, d.reason), (4, HpaReason::ScaleDownLimit));
    // t=15..45: the −4 event at 0 is in the 60-s period: start = 4 + 4 = 8 →
    // limit 4 → stays 4.
    for t in [15, 30, 45] {
        assert_eq!(h.sync(s(t), 4, 4, low(4)), 4, "t={t}");
    }
    // t=60: 0 + 60 is not after 60 → start 4 → floor(2) = 2.
    assert_eq!(h.sync(s(60), 4, 4, low(4)), 2);
    assert_eq!(h.sync(s(75), 2, 2, low(2)), 2);
    // t=120: start 2 → floor(1) = 1 = min_replicas.
    assert_eq!(h.sync(s(120), 2, 2, low(2)), 1);
}

#[test]
fn hpa_tolerance_ready_pods_and_select_policies() {
    let mut h = Hpa::new(&hpa_spec(1, 100, 0.5)).unwrap();
    // ratio 1.08 (util 0.54) is within tolerance; 1.12 is not: ceil(1.12 × 10)
    // = 12. (Exactly 1.1 is not within it in floats: |1 − 0.55/0.5| =
    // 0.10000000000000009, as upstream.)
    assert_eq!(h.sync(s(0), 10, 10, 0.54), 10);
    assert_eq!(h.sync(s(15), 10, 10, 0.56), 12);
    // The ready count, not the current count: 10 current, 6 ready at ratio 1.5
    // → ceil(9) = 9 < 10, a scale-down … held by the 300-s window (12 at 15 s).
    let d = h.sync_explained(s(30), 10, 6, 0.75);
    assert_eq!((d.recommended, d.desired), (Some(9), 10));
    // No ready replica: no metric, no change, nothing recorded.
    let d = h.sync_explained(s(45), 10, 0, f64::INFINITY);
    assert_eq!((d.desired, d.reason), (10, HpaReason::NoMetrics));

    // Scale-up select policies from 10 replicas wanting 40 (ratio 4):
    // Max: max(10 + 4, 10 · 2) = 20; Min: min(14, 20) = 14; Disabled: 10.
    for (select, want) in [
        (SelectPolicy::Max, 20),
        (SelectPolicy::Min, 14),
        (SelectPolicy::Disabled, 10),
    ] {
        let mut spec = hpa_spec(1, 100, 0.5);
        spec.behavior.scale_up = Some(ScalingRulesSpec {
            select_policy: Some(select),
            ..ScalingRulesSpec::default()
        });
        let mut h = Hpa::new(&spec).unwrap();
        assert_eq!(h.sync(s(0), 10, 10, 2.0), want, "{select:?}");
    }
    // Disabled scale-down never scales down.
    let mut spec = hpa_spec(1, 100, 0.5);
    spec.behavior.scale_down = Some(ScalingRulesSpec {
        select_policy: Some(SelectPolicy::Disabled),
        ..ScalingRulesSpec::default()
    });
    let mut h = Hpa::new(&spec).unwrap();
    for t in 0..40 {
        assert_eq!(h.sync(s(t * 15), 10, 10, 0.01), 10);
    }
}

#[test]
fn hpa_min_max_clamps_and_up_window() {
    let mut h = Hpa::new(&hpa_spec(2, 5, 0.5)).unwrap();
    assert_eq!(
        h.sync_explained(s(0), 9, 9, 0.5).reason,
        HpaReason::AboveMax
    );
    assert_eq!(h.sync(s(0), 9, 9, 0.5), 5);
    assert_eq!(h.sync(s(15), 1, 1, 0.5), 2);
    assert_eq!(h.sync(s(30), 0, 0, 0.5), 0); // scaled to zero: autoscaling off
    // Wanting 40 with max 5: TooManyReplicas.
    let d = h.sync_explained(s(45), 4, 4, 5.0);
    assert_eq!((d.desired, d.reason), (5, HpaReason::TooManyReplicas));

    // A 60-s scale-up window takes the minimum recommendation of the last 60 s.
    let mut spec = hpa_spec(1, 100, 0.5);
    spec.behavior.scale_up = Some(ScalingRulesSpec {
        stabilization_window_s: Some(60),
        ..ScalingRulesSpec::default()
    });
    let mut h = Hpa::new(&spec).unwrap();
    assert_eq!(h.sync(s(0), 4, 4, 0.5), 4); // records 4
    // t=15..45: wants 8 but the window still holds 4 → stays 4.
    for t in [15, 30, 45] {
        assert_eq!(h.sync(s(t), 4, 4, 1.0), 4, "t={t}");
    }
    // t=60: the 4 recorded at 0 is out (0 + 60 is not after 60) → 8.
    assert_eq!(h.sync(s(60), 4, 4, 1.0), 8);
}

#[test]
fn hpa_spec_serde_and_validation() {
    let spec: HpaSpec = toml::from_str(
        "max_replicas = 10\ntarget_utilization = 0.7\n\
         [behavior.scale_up]\nstabilization_window_s = 30\nselect_policy = \"Min\"\n\
         policies = [{ type = \"Pods\", value = 2, period_s = 60 }]\n",
    )
    .unwrap();
    assert_eq!(
        (spec.min_replicas, spec.tolerance, spec.sync_period_s),
        (1, 0.1, 15)
    );
    let h = Hpa::new(&spec).unwrap();
    assert_eq!(h.sync_period_ms(), 15_000);
    assert_eq!(h.scale_up_rules().stabilization_window_ms, 30_000);
    assert_eq!(h.scale_down_rules().stabilization_window_ms, 300_000);

    let bad: HpaSpec = toml::from_str(
        "max_replicas = 10\ntarget_utilization = 0.7\n\
         [behavior.scale_down]\npolicies = [{ type = \"Percent\", value = 10, period_s = 3600 }]\n",
    )
    .unwrap();
    let err = bad.validate().unwrap_err();
    assert_eq!(err.field, "behavior.scale_down.policies[0].period_s");
    let bad = HpaSpec {
        max_replicas: 0,
        ..hpa_spec(1, 1, 0.5)
    };
    assert_eq!(bad.validate().unwrap_err().field, "max_replicas");
    let err = toml::from_str::<HpaSpec>("max_replicas = 3\ntarget_utilization = 0.5\ntarget = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `target`"), "{err}");
}

// ---------------------------------------------------------------- rollout

#[test]
fn rollout_ten_replicas_at_25_percent() {
    let pct = IntOrPercent::Percent(25);
    // 25% of 10: surge ceil(2.5) = 3, unavailable floor(2.5) = 2.
    assert_eq!(resolve_fenceposts(pct, pct, 10), (3, 2));
    let mut r = Rollout::start(10, pct, pct, 10, 10);
    assert_eq!((r.max_total(), r.min_available()), (13, 8));
    // First reconcile: new RS 0 → 3 (total 13); old may lose
    // available − minAvailable = 10 − 8 = 2 → 8; then the new RS grows by the
    // freed 2 → 5. Pods 13, available 8.
    let a = r.reconcile();
    assert_eq!(
        (
            a.create_new,
            a.delete_old_available,
            a.delete_old_unavailable
        ),
        (5, 2, 0)
    );
    assert_eq!(
        r.counts(),
        RolloutCounts {
            old_replicas: 8,
            old_available: 8,
            new_replicas: 5,
            new_available: 0
        }
    );
    // Nothing more until a new pod is ready.
    assert!(r.reconcile().is_empty());
    // Each new pod ready: one old pod can go (available 9 > 8) and one more
    // new pod fits under 13, until the new RS reaches 10.
    let mut steps = 0;
    let (mut created, mut deleted) = (5, 2);
    while !r.is_complete() {
        r.new_pod_ready();
        let a = r.reconcile();
        created += a.create_new;
        deleted += a.delete_old_available + a.delete_old_unavailable;
        let c = r.counts();
        assert!(c.total() <= 13 && c.available() >= 8, "step {steps}: {c:?}");
        steps += 1;
        if steps == 1 {
            assert_eq!((a.create_new, a.delete_old_available), (1, 1));
            assert_eq!((c.old_replicas, c.new_replicas, c.new_available), (7, 6, 1));
        }
        assert!(steps <= 10);
    }
    assert_eq!((steps, created, deleted), (10, 10, 10));
}

/// Simulates a rollout on a cluster of `gpus` one-GPU slots, every pod taking
/// one: old pods run; new pods are placed when a GPU is free and become ready
/// one tick after placement. Returns (complete, lowest availability seen,
/// highest pod count seen).
fn rollout_on_gpus(
    replicas: u32,
    surge: IntOrPercent,
    unavailable: IntOrPercent,
    gpus: u32,
    ticks: u32,
) -> (bool, u32, u32) {
    let mut r = Rollout::start(replicas, surge, unavailable, replicas, replicas);
    let (mut pending, mut starting) = (0u32, 0u32);
    let (mut min_avail, mut max_total) = (u32::MAX, 0);
    for _ in 0..ticks {
        for _ in 0..starting {
            r.new_pod_ready();
        }
        starting = 0;
        let a = r.reconcile();
        pending += a.create_new;
        let c = r.counts();
        min_avail = min_avail.min(c.available());
        max_total = max_total.max(c.total());
        let used = c.old_replicas + (c.new_replicas - pending);
        let place = pending.min(gpus.saturating_sub(used));
        pending -= place;
        starting += place;
        if r.is_complete() {
            return (true, min_avail, max_total);
        }
    }
    (false, min_avail, max_total)
}

#[test]
fn rollout_waits_when_the_surge_pod_cannot_be_placed() {
    // 4 replicas on exactly 4 GPUs, maxSurge 1, maxUnavailable 0: the surge
    // pod is created but never placed; old pods may not go (available 4 −
    // minAvailable 4 = 0): the rollout waits and availability stays 4.
    let (done, min_avail, max_total) =
        rollout_on_gpus(4, IntOrPercent::Int(1), IntOrPercent::Int(0), 4, 100);
    assert!(!done);
    assert_eq!((min_avail, max_total), (4, 5));
    let mut r = Rollout::start(4, IntOrPercent::Int(1), IntOrPercent::Int(0), 4, 4);
    let a = r.reconcile();
    assert_eq!((a.create_new, a.delete_old_available), (1, 0));
    assert!(r.reconcile().is_empty());

    // One spare GPU: the surge pod runs, then old pods go one by one.
    let (done, min_avail, max_total) =
        rollout_on_gpus(4, IntOrPercent::Int(1), IntOrPercent::Int(0), 5, 100);
    assert!(done);
    assert_eq!((min_avail, max_total), (4, 5));

    // The 25% defaults on 4 replicas (surge 1, unavailable 1) progress without
    // a spare GPU by using the unavailability budget; availability ≥ 3.
    let (done, min_avail, max_total) =
        rollout_on_gpus(4, IntOrPercent::DEFAULT, IntOrPercent::DEFAULT, 4, 100);
    assert!(done);
    assert_eq!((min_avail, max_total), (3, 5));
}

#[test]
fn rollout_unhealthy_old_pods_go_first_and_replicas_change() {
    let mut r = Rollout::start(4, IntOrPercent::Int(0), IntOrPercent::Int(1), 4, 4);
    r.old_pod_unready(); // 4 old, 3 available
    // surge 0: no new pod fits (total 4 = max). Old: maxScaledDown = 4 − 3 − 0
    // = 1 → the unhealthy pod goes; then available 3 = min → no more. The new
    // RS takes the freed slot.
    let a = r.reconcile();
    assert_eq!(
        (
            a.delete_old_unavailable,
            a.delete_old_available,
            a.create_new
        ),
        (1, 0, 1)
    );
    // The HPA lowers replicas to 2 mid-rollout: the new RS shrinks to 2 at
    // most, old pods go down to min available (2 − 0 … unavailable 1 → 1).
    r.set_replicas(2);
    let a = r.reconcile();
    let c = r.counts();
    assert!(
        c.new_replicas <= 2 && c.available() >= r.min_available(),
        "{a:?} {c:?}"
    );
}

#[test]
fn int_or_percent_serde() {
    #[derive(Debug, serde::Deserialize)]
    struct T {
        a: IntOrPercent,
        b: IntOrPercent,
    }
    let t: T = toml::from_str("a = 1\nb = \"25%\"\n").unwrap();
    assert_eq!(
        (t.a, t.b),
        (IntOrPercent::Int(1), IntOrPercent::Percent(25))
    );
    let err = toml::from_str::<T>("a = -1\nb = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected a count ≥ 0 or a percentage, got -1"),
        "{err}"
    );
    let err = toml::from_str::<T>("a = 1\nb = \"2 5%\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("percentage such as \\\"25%\\\"")
            || err.contains("percentage such as \"25%\""),
        "{err}"
    );
}

// ---------------------------------------------------------------- service + SLO

const SERVICE: &str = r#"
name = "ranker"
priority = 1000
replica = { gpus = 1, cpu_milli = 8000, memory_mib = 32768 }
capacity_rps = 50.0
slo_ms = 200.0
initial_replicas = 4
latency = { kind = "mmc" }
rate = { kind = "diurnal", base_rps = 150.0, amplitude = 0.5, duration_s = 86400 }
hpa = { min_replicas = 2, max_replicas = 16, target_utilization = 0.7 }
rollouts = [{ at_s = 43200, version = "v2", max_surge = 1, max_unavailable = 0 },
            { at_s = 50000, version = "v3" }]
"#;

#[test]
fn service_spec_parses_and_validates() {
    let spec: ServiceSpec = toml::from_str(SERVICE).unwrap();
    spec.validate().unwrap();
    assert_eq!(spec.replica.gpu().unwrap(), GpuDemand::Whole(1));
    assert_eq!(spec.rollouts[1].max_surge, IntOrPercent::Percent(25));
    assert_eq!(spec.rollouts[0].at().unwrap(), s(43_200));
    assert!(spec.trace_paths().is_empty());
    let series: RateSeries = spec.rate.load(Path::new("."), 42).unwrap();
    assert_eq!(series.points.len(), 1_440);

    let with = |from: &str, to: &str| -> ServiceSpec {
        assert!(SERVICE.contains(from), "{from}");
        toml::from_str(&SERVICE.replace(from, to)).unwrap()
    };
    let cases = [
        ("max_replicas = 16", "max_replicas = 1", "hpa.max_replicas"),
        ("duration_s = 86400", "duration_s = 0", "rate.duration_s"),
        ("at_s = 50000", "at_s = 40000", "rollouts[1].at_s"),
        (
            "gpus = 1,",
            "gpus = 1, gpu_milli = 1500,",
            "replica.gpu_milli",
        ),
        ("capacity_rps = 50.0", "capacity_rps = 0.0", "capacity_rps"),
        (
            "{ kind = \"mmc\" }",
            "{ kind = \"curve\", points = [] }",
            "latency.points",
        ),
        (
            "max_unavailable = 0",
            "max_unavailable = \"150%\"",
            "rollouts[0].max_unavailable",
        ),
        (
            "initial_replicas = 4",
            "initial_replicas = 0",
            "initial_replicas",
        ),
    ];
    for (from, to, field) in cases {
        let err = with(from, to).validate().unwrap_err();
        assert_eq!(err.field, field, "{from} → {to}: {err}");
    }
    let err = toml::from_str::<ServiceSpec>(&SERVICE.replace("cpu_milli", "cpus"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `cpus`"), "{err}");
}

#[test]
fn slo_report_hand_computed() {
    let sample = |t, p95_ms, replicas, rate_rps| SloSample {
        t: s(t),
        p95_ms,
        replicas,
        rate_rps,
    };
    let samples = [
        sample(0, 100.0, 2, 10.0),
        sample(60, 300.0, 4, 20.0),
        sample(180, 150.0, 4, 20.0),
    ];
    let r = SloReport::compute(&samples, s(300), 200.0);
    // Durations 60, 120, 120 s. Violation: the 120 s at 300 ms = 2 minutes.
    assert_eq!(r.duration_s, 300.0);
    assert_eq!(r.slo_violation_minutes, 2.0);
    // (100·60 + 300·120 + 150·120) / 300 = 60000 / 300 = 200 ms.
    assert_eq!(r.mean_p95_ms, 200.0);
    // Sorted: 100 (60 s), 150 (120 s → 180 s), 300 (→ 300 s); 95% of 300 s =
    // 285 s is reached only by 300 ms.
    assert_eq!((r.p95_of_p95_ms, r.max_p95_ms), (300.0, 300.0));
    // (2·60 + 4·240) / 3600 = 0.3 replica-hours.
    assert!(close(r.replica_hours, 0.3, 1e-12));
    // 10·60 + 20·240 = 5400 requests, 20·120 = 2400 during the violation.
    assert_eq!((r.requests, r.requests_in_violation), (5_400.0, 2_400.0));

    // 95% of the time at 100 ms, 5% at 900 ms: the time-weighted p95 is 100.
    let r = SloReport::compute(
        &[sample(0, 100.0, 1, 1.0), sample(950, 900.0, 1, 1.0)],
        s(1_000),
        500.0,
    );
    assert_eq!(r.p95_of_p95_ms, 100.0);
    assert!(close(r.slo_violation_minutes, 50.0 / 60.0, 1e-12));
    // Nothing before the end: all zeros.
    assert_eq!(SloReport::compute(&samples, s(0), 200.0).duration_s, 0.0);
}

// ---------------------------------------------------------------- DLRM

#[test]
fn dlrm_sample() {
    let imp = dlrm::import(
        &data("dlrm-inference/disaggregated_DLRM_trace.sample.csv"),
        false,
    )
    .unwrap();
    let inst = &imp.instances;
    // 299 rows (every 80th of 23,871): 97 HN with one GPU each, 202 CN.
    assert_eq!(inst.len(), 299);
    assert_eq!(inst.iter().filter(|i| i.role == DlrmRole::Hn).count(), 97);
    let gpus: u64 = inst.iter().map(|i| i.gpu.milli()).sum();
    assert_eq!(gpus, 97_000);
    // 15,446 vCPUs and 78,201.5 GiB = 80,078,336 MiB.
    assert_eq!(
        inst.iter().map(|i| u64::from(i.cpu_milli)).sum::<u64>(),
        15_446_000
    );
    assert_eq!(inst.iter().map(|i| i.memory_mib).sum::<u64>(), 80_078_336);
    // 91 existed before the trace (start 0), 117 outlive it.
    assert_eq!(inst.iter().filter(|i| i.created.is_none()).count(), 91);
    assert!(
        inst.iter()
            .filter(|i| i.created.is_none())
            .all(|i| i.start == SimTime::ZERO)
    );
    assert_eq!(inst.iter().filter(|i| i.end.is_none()).count(), 117);
    assert_eq!(
        inst.iter().filter(|i| i.max_per_node.is_none()).count(),
        151
    );
    // First row: instance_0, HN app_0, 12 vCPU, 1 GPU, 120 GiB, 8 per node.
    let a = &inst[0];
    assert_eq!(
        (
            a.name.as_str(),
            a.app.as_str(),
            a.cpu_milli,
            a.gpu,
            a.memory_mib,
            a.max_per_node
        ),
        (
            "instance_0",
            "app_0",
            12_000,
            GpuDemand::Whole(1),
            122_880,
            Some(8)
        )
    );
    // Last row: instance_23840 created at 2,668,977 s, scheduled at 2,668,988 s,
    // never deleted; the latest time of the sample.
    let z = &inst[298];
    assert_eq!(z.name, "instance_23840");
    assert_eq!(
        (z.created, z.start, z.end),
        (Some(s(2_668_977)), s(2_668_988), None)
    );
    assert_eq!(imp.trace_end, s(2_668_988));
    assert_eq!((imp.report.rows, imp.report.kept_rows), (299, 299));
    assert!(imp.report.notes[0].contains("97 HN (GPU node), 202 CN"));
}

#[test]
fn dlrm_full_trace() {
    let Some(path) = shared("dlrm-inference/disaggregated_DLRM_trace.csv") else {
        return;
    };
    let imp = dlrm::import(&path, false).unwrap();
    assert_eq!(imp.instances.len(), 23_871);
    let hn = imp
        .instances
        .iter()
        .filter(|i| i.role == DlrmRole::Hn)
        .count();
    assert_eq!(hn, 7_386);
    assert_eq!(
        imp.instances.iter().filter(|i| i.created.is_none()).count(),
        7_280
    );
    assert_eq!(
        imp.instances.iter().filter(|i| i.end.is_none()).count(),
        8_878
    );
    assert_eq!(imp.trace_end, s(2_677_541));
}

#[test]
fn dlrm_bad_rows() {
    let head = std::fs::read_to_string(data("dlrm-inference/disaggregated_DLRM_trace.sample.csv"))
        .unwrap();
    let header = head.lines().next().unwrap();
    let text = format!(
        "{header}\nok,CN,app_1,8,8,0,0,1,1,40.0,40.0,85.0,100.0,-1,,,\n\
         bad,GN,app_1,8,8,0,0,1,1,40.0,40.0,85.0,100.0,-1,,,\n\
         neg,CN,app_1,8,8,0,0,1,1,40.0,40.0,85.0,100.0,0,,,\n"
    );
    let err = dlrm::import_from(text.as_bytes(), Path::new("d.csv"), false)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("d.csv: line 3, column 2, field `role`: got \"GN\", expected `HN` or `CN`"),
        "{err}"
    );
    let imp = dlrm::import_from(text.as_bytes(), Path::new("d.csv"), true).unwrap();
    assert_eq!((imp.instances.len(), imp.report.skipped_rows()), (1, 2));
    let reasons: Vec<&str> = imp.report.skipped.keys().map(String::as_str).collect();
    assert_eq!(
        reasons,
        [
            "field `max_instance_per_node`: expected a whole number ≥ 1, or -1 for no limit",
            "field `role`: expected `HN` or `CN`"
        ]
    );
}
