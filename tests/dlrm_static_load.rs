//! The DLRM inference instances as a static service load merged beside a
//! training workload (`[[workload.extra]]`).

use std::path::PathBuf;

use schedlab::inference::dlrm::DLRM_JOB_PRIORITY;
use schedlab::scenario::Scenario;

#[test]
fn dlrm_instances_merge_into_the_training_workload() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(root.join("scenarios/quickstart.toml")).unwrap()
        + "\n[[workload.extra]]\ntrace = \"data/dlrm-inference/disaggregated_DLRM_trace.sample.csv\"\nformat = \"dlrm\"\n";
    let scenario = Scenario::parse(&src, &root.join("scenarios/quickstart.toml"), &[]).unwrap();
    let (w, report) = scenario.build_workload().unwrap();
    let dlrm: Vec<_> = w
        .jobs
        .iter()
        .filter(|j| j.priority == DLRM_JOB_PRIORITY)
        .collect();
    assert_eq!(dlrm.len(), 299);
    assert_eq!(w.jobs.len(), 3_025 + 299);
    // Roles become statuses; both kinds are there.
    assert!(dlrm.iter().any(|j| j.status.as_deref() == Some("HN")));
    assert!(dlrm.iter().any(|j| j.status.as_deref() == Some("CN")));
    // Still-running instances are noted, not dropped.
    let notes = report.import.unwrap().notes.join("\n");
    assert!(
        notes.contains("still running at the end of the trace"),
        "{notes}"
    );
    // Submission order holds across the merge.
    assert!(w.jobs.windows(2).all(|p| p[0].submit <= p[1].submit));
}

#[test]
fn the_dlrm_format_is_detected_from_its_header() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let f = schedlab::trace::detect_format(
        &root.join("scenarios/data/dlrm-inference/disaggregated_DLRM_trace.sample.csv"),
    )
    .unwrap();
    assert_eq!(f, Some(schedlab::trace::TraceFormat::Dlrm));
}
