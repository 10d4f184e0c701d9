//! The ITP, Helios and PAI importers through the public API: the bundled
//! samples with hand-checked jobs, gang shaping, strict errors that name the
//! file, line, column, field and value, lenient skipping counted by reason,
//! header and empty-file errors, and the full public traces in
//! `../shared/traces/` when present (skipped with a message otherwise).

use std::path::{Path, PathBuf};

use schedlab::time::SimTime;
use schedlab::trace::{
    ImportOptions, Imported, TraceError, TraceFormat, WorkerShape, detect_format, helios, itp, pai,
    read_trace,
};
use schedlab::workload::{GpuDemand, Job, Workload};

fn project_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn shared(rel: &str) -> Option<PathBuf> {
    let p = project_file("../shared/traces").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/traces not present");
        None
    }
}

fn opts() -> ImportOptions {
    ImportOptions::default()
}

fn lenient() -> ImportOptions {
    ImportOptions {
        lenient: true,
        ..ImportOptions::default()
    }
}

/// Writes `text` to `name` in a fresh temporary folder.
fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn job<'a>(w: &'a Workload, name: &str) -> &'a Job {
    w.jobs
        .iter()
        .find(|j| j.name == name)
        .unwrap_or_else(|| panic!("no job {name}"))
}

fn tenant<'a>(w: &'a Workload, j: &Job) -> &'a str {
    w.tenant_name(j.tenant)
}

/// Asserts a strict field error names everything needed to fix the row.
fn assert_field_error(
    err: &TraceError,
    file: &str,
    line: u64,
    column: u64,
    field: &str,
    value: &str,
) {
    let text = err.to_string();
    assert!(
        matches!(err, TraceError::Field { .. }),
        "not a field error: {text}"
    );
    for part in [
        file.to_string(),
        format!("line {line}"),
        format!("column {column}"),
        format!("`{field}`"),
        format!("{value:?}"),
    ] {
        assert!(text.contains(&part), "{part:?} missing from: {text}");
    }
}

// ---------------------------------------------------------------- ITP

const ITP_HEADER: &str = "job_id,submission_time,duration,num_gpu\n";

#[test]
fn itp_sample_imports() {
    let path = project_file("scenarios/data/itp/cluster10.csv");
    let imp = itp::import(&path, &opts()).unwrap();
    let w = &imp.workload;
    assert_eq!(w.jobs.len(), 260);
    assert_eq!(imp.report.rows, 260);
    assert_eq!(imp.report.kept_rows, 260);
    assert_eq!(imp.report.skipped_rows(), 0);
    assert_eq!(w.tenants, ["cluster10"]);
    // First row: 5dc7d9cd-…,2266647,604,16 → the first submission, 2 × 8 GPUs.
    let first = &w.jobs[0];
    assert_eq!(first.name, "5dc7d9cd-c300-9a4f-c3cd-dc2cc0935548");
    assert_eq!(first.submit, SimTime::ZERO);
    assert_eq!(first.duration, 604_000);
    assert_eq!((first.workers, first.gpu), (2, GpuDemand::Whole(8)));
    assert_eq!(first.status, None);
    // Row 4: 4feb9f90-…,2709847,68253,2.
    let j = job(w, "4feb9f90-7722-d636-5cec-0cd5dcf8732c");
    assert_eq!(j.submit, SimTime::from_secs(2_709_847 - 2_266_647));
    assert_eq!(j.duration, 68_253_000);
    assert_eq!((j.workers, j.gpu), (1, GpuDemand::Whole(2)));
    assert_eq!(tenant(w, j), "cluster10");
    // The last row has no trailing newline and is read.
    let raw = std::fs::read(&path).unwrap();
    assert_ne!(raw.last(), Some(&b'\n'));
    let last = w.jobs.last().unwrap();
    assert_eq!(last.name, "827822bc-4cf5-72f5-3f1e-f01352929ea1");
    assert_eq!(last.submit, SimTime::from_secs(5_104_565 - 2_266_647));
    assert_eq!(last.duration, 42_698_000);
    let gpus: u64 = w.jobs.iter().map(Job::total_whole_gpus).sum();
    assert_eq!(gpus, 193 + 2 * 51 + 4 * 14 + 16 * 2);
    assert!(
        imp.report
            .notes
            .iter()
            .any(|n| n.contains("tenant `cluster10`"))
    );
    // The dispatcher and the format detector agree.
    assert_eq!(read_trace(&path, TraceFormat::Itp, &opts()).unwrap(), imp);
    assert_eq!(detect_format(&path).unwrap(), Some(TraceFormat::Itp));
}

#[test]
fn itp_last_row_without_newline_is_read() {
    let (_d, path) = temp_file("c.csv", &format!("{ITP_HEADER}a,0,10,1\nb,5,20,2"));
    let imp = itp::import(&path, &opts()).unwrap();
    assert_eq!(imp.workload.jobs.len(), 2);
    let b = job(&imp.workload, "b");
    assert_eq!(
        (b.submit, b.duration, b.gpu),
        (SimTime(5_000), 20_000, GpuDemand::Whole(2))
    );
}

#[test]
fn itp_gang_split() {
    let o = ImportOptions {
        cpu_milli_per_gpu: 4_000,
        memory_mib_per_gpu: 32_768,
        ..opts()
    };
    let (_d, path) = temp_file("c.csv", &format!("{ITP_HEADER}big,0,60,64\nodd,1,60,9\n"));
    let imp = itp::import(&path, &o).unwrap();
    let big = job(&imp.workload, "big");
    assert_eq!((big.workers, big.gpu), (8, GpuDemand::Whole(8)));
    assert_eq!((big.cpu_milli, big.memory_mib), (32_000, 262_144));
    let odd = job(&imp.workload, "odd");
    assert_eq!((odd.workers, odd.gpu), (2, GpuDemand::Whole(5)));
    assert!(
        imp.report
            .notes
            .iter()
            .any(|n| n.contains("1 jobs did not split evenly")),
        "{:?}",
        imp.report.notes
    );
    let gpu = ImportOptions {
        worker_shape: WorkerShape::Gpu,
        ..opts()
    };
    let big = itp::import(&path, &gpu).unwrap().workload.jobs[0].clone();
    assert_eq!((big.workers, big.gpu), (64, GpuDemand::Whole(1)));
}

#[test]
fn itp_bad_rows_strict_and_lenient() {
    let text = format!("{ITP_HEADER}a,0,10,1\nb,5,-3,1\nc,6,10,0\nd,7,10,x\ne,8,1\nf,9,10,2");
    let (_d, path) = temp_file("bad-itp.csv", &text);
    let err = itp::import(&path, &opts()).unwrap_err();
    assert_field_error(&err, "bad-itp.csv", 3, 3, "duration", "-3");

    let imp = itp::import(&path, &lenient()).unwrap();
    assert_eq!(imp.workload.jobs.len(), 2);
    assert_eq!(imp.report.rows, 6);
    assert_eq!(imp.report.kept_rows, 2);
    assert_eq!(imp.report.skipped_rows(), 4);
    let gpu_reason = imp
        .report
        .skipped
        .iter()
        .find(|(k, _)| k.starts_with("field `num_gpu`"))
        .expect("a num_gpu reason");
    assert_eq!(gpu_reason.1.count, 2);
    assert_eq!(gpu_reason.1.first_line, 4);
    assert!(
        imp.report
            .skipped
            .keys()
            .any(|k| k.starts_with("field `duration`"))
    );
    assert!(
        imp.report
            .skipped
            .keys()
            .any(|k| k.contains("expected 4 fields"))
    );
}

#[test]
fn itp_header_and_empty_errors() {
    let (_d, path) = temp_file("h.csv", "job_id,submit,duration,num_gpu\na,0,1,1\n");
    let err = itp::import(&path, &opts()).unwrap_err();
    assert!(matches!(err, TraceError::Header { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("job_id,submission_time,duration,num_gpu"),
        "{err}"
    );

    let (_d, path) = temp_file("empty.csv", "");
    let err = itp::import(&path, &opts()).unwrap_err();
    assert!(matches!(err, TraceError::Empty { .. }), "{err}");
    assert!(
        err.to_string().contains("empty.csv: the file is empty"),
        "{err}"
    );

    let (_d, path) = temp_file("only-header.csv", ITP_HEADER);
    let err = itp::import(&path, &opts()).unwrap_err();
    assert!(err.to_string().contains("no job rows"), "{err}");

    // Every row bad in lenient mode: an error that says why.
    let (_d, path) = temp_file("all-bad.csv", &format!("{ITP_HEADER}a,x,1,1\n"));
    let err = itp::import(&path, &lenient()).unwrap_err();
    assert!(err.to_string().contains("none of the 1 job rows"), "{err}");
}

#[test]
fn itp_full_trace_every_cluster() {
    let Some(dir) = shared("itp") else { return };
    let mut total = 0usize;
    for n in 1..=10 {
        let path = dir.join(format!("cluster{n:02}.csv"));
        let text = std::fs::read_to_string(&path).unwrap();
        // Header plus one line per job, the last without a newline.
        let data_rows = text.lines().count() - 1;
        let imp = itp::import(&path, &opts()).unwrap();
        assert_eq!(imp.workload.jobs.len(), data_rows, "{}", path.display());
        assert_eq!(imp.report.rows as usize, data_rows);
        assert_eq!(imp.report.kept_rows as usize, data_rows);
        assert_eq!(imp.workload.jobs[0].submit, SimTime::ZERO);
        assert!(imp.workload.jobs.iter().all(|j| j.total_whole_gpus() >= 1));
        let stem = format!("cluster{n:02}");
        assert_eq!(imp.workload.tenants, [stem]);
        total += data_rows;
    }
    assert_eq!(total, 69_351);
    // cluster01 opens with a 64-GPU job: 8 × 8 on 8-GPU nodes.
    let imp = itp::import(&dir.join("cluster01.csv"), &opts()).unwrap();
    let j = job(&imp.workload, "965d744f-0445-c1a8-12af-97e4c536c66e");
    assert_eq!((j.submit, j.duration), (SimTime::ZERO, 2_429_000));
    assert_eq!((j.workers, j.gpu), (8, GpuDemand::Whole(8)));
}

// ---------------------------------------------------------------- Helios

const HELIOS_HEADER: &str = "job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue\n";

#[test]
fn helios_sample_imports() {
    let path = project_file("scenarios/data/helios/cluster_log.csv");
    let imp = helios::import(&path, &opts()).unwrap();
    let w = &imp.workload;
    assert_eq!(imp.report.rows, 20);
    assert_eq!(w.jobs.len(), 18);
    assert_eq!(imp.report.kept_rows, 18);
    assert_eq!(w.tenants, ["vcA1", "vcB2", "vcC3", "vcD4"]);
    // 100004: 16 GPUs and 96 CPUs on 2 nodes, submitted 08:10:00 (the first
    // job at 08:00:05), ran 08:15:00–08:45:00.
    let j = job(w, "100004");
    assert_eq!(j.submit, SimTime::from_secs(9 * 60 + 55));
    assert_eq!(j.duration, 1_800_000);
    assert_eq!(
        (j.workers, j.gpu, j.cpu_milli),
        (2, GpuDemand::Whole(8), 48_000)
    );
    assert_eq!(tenant(w, j), "vcC3");
    assert_eq!(j.status.as_deref(), Some("FAILED"));
    // 64 GPUs on 8 nodes.
    let j = job(w, "100005");
    assert_eq!(
        (j.workers, j.gpu, j.duration),
        (8, GpuDemand::Whole(8), 86_400_000)
    );
    // 3 GPUs on 2 nodes: shaped by GPU count.
    let j = job(w, "100009");
    assert_eq!((j.workers, j.gpu), (1, GpuDemand::Whole(3)));
    // CPU-only on 2 nodes.
    let j = job(w, "100011");
    assert_eq!(
        (j.workers, j.gpu, j.cpu_milli),
        (2, GpuDemand::Whole(0), 32_000)
    );
    // Submitted 15 h 59 min 45 s after the first job.
    let j = job(w, "100020");
    assert_eq!(j.submit, SimTime::from_secs(15 * 3600 + 59 * 60 + 45));
    // Never started: not imported, but counted.
    assert!(
        w.jobs
            .iter()
            .all(|j| j.name != "100006" && j.name != "100016")
    );
    let notes = imp.report.notes.join("\n");
    assert!(
        notes.contains("2 jobs without a start_time or end_time"),
        "{notes}"
    );
    assert!(notes.contains("3 CPU-only jobs"), "{notes}");
    assert!(notes.contains("1 jobs were shaped by GPU count"), "{notes}");
    assert!(notes.contains("2020-07-01 08:00:05"), "{notes}");
    assert_eq!(
        read_trace(&path, TraceFormat::Helios, &opts()).unwrap(),
        imp
    );
    assert_eq!(detect_format(&path).unwrap(), Some(TraceFormat::Helios));
}

#[test]
fn helios_columns_by_name_without_optional_ones() {
    let text = "vc,job_id,state,node_num,gpu_num,end_time,start_time,submit_time\n\
                vcX,1,COMPLETED,1,2,2020-01-01 01:00:00,2020-01-01 00:30:00,2020-01-01 00:00:00\n";
    let (_d, path) = temp_file("log.csv", text);
    let o = ImportOptions {
        cpu_milli_per_gpu: 3_000,
        memory_mib_per_gpu: 1_000,
        ..opts()
    };
    let imp = helios::import(&path, &o).unwrap();
    let j = &imp.workload.jobs[0];
    assert_eq!(
        (j.duration, j.cpu_milli, j.memory_mib),
        (1_800_000, 6_000, 2_000)
    );
}

#[test]
fn helios_bad_rows_strict_and_lenient() {
    let text = format!(
        "{HELIOS_HEADER}\
         1,u,vc1,1,1,1,COMPLETED,2020-06-09 18:41:01,2020-06-09 18:41:01,2020-06-10 04:55:09,36848,0\n\
         2,u,vc1,1,1,1,COMPLETED,2020-06-09 18:41:01,2020-06-09 18:41:01,2020-06-09 18:00:00,0,0\n\
         3,u,vc1,two,1,1,COMPLETED,2020-06-09 18:41:01,2020-06-09 18:41:01,2020-06-10 04:55:09,1,0\n\
         4,u,vc1,1,1,1,COMPLETED,2020-06-09 18:41,2020-06-09 18:41:01,2020-06-10 04:55:09,1,0\n"
    );
    let (_d, path) = temp_file("bad-helios.csv", &text);
    let err = helios::import(&path, &opts()).unwrap_err();
    assert_field_error(
        &err,
        "bad-helios.csv",
        3,
        10,
        "end_time",
        "2020-06-09 18:00:00",
    );

    let imp = helios::import(&path, &lenient()).unwrap();
    assert_eq!(imp.workload.jobs.len(), 2, "{:?}", imp.report);
    assert_eq!(imp.report.skipped_rows(), 2);
    assert!(
        imp.report
            .skipped
            .keys()
            .any(|k| k.starts_with("field `end_time`"))
    );
    assert!(
        imp.report
            .skipped
            .keys()
            .any(|k| k.starts_with("field `gpu_num`"))
    );
    // "18:41" without seconds is accepted by jiff's parser.
    assert_eq!(job(&imp.workload, "4").duration, 36_848_000);
}

#[test]
fn helios_header_and_empty_errors() {
    let (_d, path) = temp_file(
        "h.csv",
        "job_id,user,gpu_num,cpu_num,node_num,state,submit_time\n1,u,1,1,1,X,2020-01-01 00:00:00\n",
    );
    let err = helios::import(&path, &opts()).unwrap_err();
    assert!(matches!(err, TraceError::Header { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("missing: vc, start_time, end_time"), "{text}");

    let (_d, path) = temp_file("empty.csv", "");
    let err = helios::import(&path, &opts()).unwrap_err();
    assert!(matches!(err, TraceError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("the file is empty"), "{err}");

    let (_d, path) = temp_file("only-header.csv", HELIOS_HEADER);
    let err = helios::import(&path, &opts()).unwrap_err();
    assert!(err.to_string().contains("no job rows"), "{err}");
}

// ---------------------------------------------------------------- PAI

#[test]
fn pai_sample_imports() {
    let dir = project_file("scenarios/data/pai");
    assert!(pai::sniff_dir(&dir));
    let imp = pai::import(&dir, &opts()).unwrap();
    let w = &imp.workload;
    assert_eq!(w.jobs.len(), 8);
    assert_eq!(imp.report.rows, 9 + 11);
    assert_eq!(imp.report.kept_rows, 8 + 10);
    assert_eq!(imp.report.skipped_rows(), 0);
    assert_eq!(w.tenants.len(), 4);

    // Job 2: a ps and 4 one-GPU V100 workers; submitted 300 s after job 1,
    // its workers ran 1000500.0–1011100.0.
    let j = job(w, "9eab0f6816949ff42f478a9c");
    assert_eq!(j.submit, SimTime::from_secs(300));
    assert_eq!(j.duration, 10_600_000);
    assert_eq!((j.workers, j.gpu), (4, GpuDemand::Whole(1)));
    assert_eq!((j.cpu_milli, j.memory_mib), (8_000, 32_768));
    assert_eq!(j.gpu_models, ["V100"]);
    assert_eq!(tenant(w, j), "69c71a460558");
    assert_eq!(j.status.as_deref(), Some("Terminated"));

    let first = &w.jobs[0];
    assert_eq!(first.name, "e6a17bec309207c752888fe8");
    assert_eq!(first.submit, SimTime::ZERO);
    assert_eq!(
        (first.gpu, first.cpu_milli, first.memory_mib),
        (GpuDemand::Fraction(500), 6_000, 30_000)
    );
    assert_eq!(first.gpu_models, ["MISC"]);

    let j = job(w, "e4ad159981eaca4a92dbca3e");
    assert_eq!(
        (j.workers, j.gpu, j.duration),
        (2, GpuDemand::Whole(8), 780_000)
    );
    assert_eq!(j.status.as_deref(), Some("Failed"));
    assert_eq!(
        job(w, "67489bf9fad04756c337e2a6").gpu,
        GpuDemand::Fraction(250)
    );
    let cpu_only = job(w, "962752b10a603a69fd989de7");
    assert_eq!(
        (cpu_only.gpu, cpu_only.cpu_milli),
        (GpuDemand::Whole(0), 12_000)
    );
    assert!(cpu_only.gpu_models.is_empty());
    assert_eq!(job(w, "a4c82c72bcea98746506d8a6").gpu, GpuDemand::Whole(2));
    let j = job(w, "dc8006de55041364fe8abe87");
    assert_eq!(
        (j.workers, j.gpu, j.duration),
        (8, GpuDemand::Whole(1), 7_300_000)
    );
    let j = job(w, "7b3f22ac3886fb50941fb2cc");
    assert_eq!(
        (j.gpu, j.submit),
        (GpuDemand::Whole(2), SimTime::from_secs(11_000))
    );
    // The Running job has no end: not imported, counted.
    assert!(w.jobs.iter().all(|j| j.name != "d8512bb498d2048c6ec5cca8"));
    let notes = imp.report.notes.join("\n");
    assert!(
        notes.contains("1 jobs without a known start and end"),
        "{notes}"
    );
    assert!(notes.contains("2 jobs had other tasks"), "{notes}");
    assert!(notes.contains("rounded up to whole GPUs"), "{notes}");

    // Same through the dispatcher, the detector, and the task table's path.
    assert_eq!(read_trace(&dir, TraceFormat::Pai, &opts()).unwrap(), imp);
    assert_eq!(detect_format(&dir).unwrap(), Some(TraceFormat::Pai));
    assert_eq!(
        pai::import(&dir.join("pai_task_table.csv"), &opts()).unwrap(),
        imp
    );
}

/// A trace folder with the given job and task tables.
fn pai_dir(jobs: &str, tasks: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pai_job_table.csv"), jobs).unwrap();
    std::fs::write(dir.path().join("pai_task_table.csv"), tasks).unwrap();
    dir
}

#[test]
fn pai_tables_with_header_rows() {
    let jobs =
        "job_name,inst_id,user,status,start_time,end_time\nj1,i1,u1,Terminated,100.0,400.0\n";
    let tasks = "job_name,task_name,inst_num,status,start_time,end_time,plan_cpu,plan_mem,plan_gpu,gpu_type\n\
                 j1,worker,2.0,Terminated,150.0,350.0,600.0,8.0,400.0,V100\n";
    let dir = pai_dir(jobs, tasks);
    let imp = pai::import(dir.path(), &opts()).unwrap();
    let j = &imp.workload.jobs[0];
    assert_eq!(
        (j.workers, j.gpu, j.duration),
        (2, GpuDemand::Whole(4), 200_000)
    );
    assert_eq!(imp.report.rows, 2);
    assert_eq!(
        detect_format(&dir.path().join("pai_task_table.csv")).unwrap(),
        Some(TraceFormat::Pai)
    );
}

#[test]
fn pai_bad_rows_strict_and_lenient() {
    let jobs =
        "j1,i1,u1,Terminated,100.0,400.0\nj2,i2,u2,Terminated,200.0,500.0\nj3,i3,,Failed,1.0,2.0\n";
    let tasks = "j1,worker,1.0,Terminated,150.0,350.0,600.0,8.0,50.0,T4\n\
                 j2,worker,1.0,Terminated,250.0,450.0,600.0,8.0,-5,T4\n\
                 j9,worker,1.0,Terminated,250.0,450.0,600.0,8.0,100.0,T4\n\
                 j3,worker,1.0,Terminated,1.0,2.0,600.0,8.0,100.0,T4\n";
    let dir = pai_dir(jobs, tasks);
    // The job table is read first: its line 3 has no user.
    let err = pai::import(dir.path(), &opts()).unwrap_err();
    assert_field_error(&err, "pai_job_table.csv", 3, 3, "user", "");

    let imp = pai::import(dir.path(), &lenient()).unwrap();
    assert_eq!(imp.workload.jobs.len(), 1);
    assert_eq!(imp.workload.jobs[0].name, "j1");
    assert_eq!(imp.report.rows, 7);
    assert_eq!(imp.report.skipped_rows(), 4);
    let keys: Vec<&String> = imp.report.skipped.keys().collect();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("pai_job_table.csv: field `user`")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("pai_task_table.csv: field `plan_gpu`")),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.contains("listed in the job table")),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.contains("that row was skipped")),
        "{keys:?}"
    );
    // j2 lost its only task: not imported, counted.
    assert!(
        imp.report
            .notes
            .iter()
            .any(|n| n.contains("1 jobs without task rows")),
        "{:?}",
        imp.report.notes
    );

    // With the job table fixed, the task table's bad value is reported in full.
    let dir = pai_dir(
        "j1,i1,u1,Terminated,100.0,400.0\nj2,i2,u2,Terminated,200.0,500.0\n",
        tasks,
    );
    let err = pai::import(dir.path(), &opts()).unwrap_err();
    assert_field_error(&err, "pai_task_table.csv", 2, 9, "plan_gpu", "-5");
}

#[test]
fn pai_header_and_empty_errors() {
    // A header row of the wrong table.
    let dir = pai_dir(
        "job_name,task_name,inst_num\nj1,i1,u1,Terminated,100.0,400.0\n",
        "j1,worker,1.0,Terminated,150.0,350.0,600.0,8.0,50.0,T4\n",
    );
    let err = pai::import(dir.path(), &opts()).unwrap_err();
    assert!(matches!(err, TraceError::Header { .. }), "{err}");
    assert!(err.to_string().contains("pai_job_table.csv"), "{err}");

    let dir = pai_dir("", "");
    let err = pai::import(dir.path(), &opts()).unwrap_err();
    assert!(matches!(err, TraceError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("pai_job_table.csv"), "{err}");

    // A folder without the tables.
    let dir = tempfile::tempdir().unwrap();
    assert!(!pai::sniff_dir(dir.path()));
    let err = pai::import(dir.path(), &opts()).unwrap_err();
    assert!(matches!(err, TraceError::Io { .. }), "{err}");
    assert!(err.to_string().contains("pai_job_table.csv"), "{err}");
}

#[test]
fn pai_machine_spec_sample() {
    let path = project_file("scenarios/data/pai/pai_machine_spec.csv");
    let (pools, report) = pai::read_machines(&path).unwrap();
    check_machine_pools(&pools);
    assert_eq!(report.rows, 1_897);
    assert_eq!(report.kept_rows, 1_897);
}

fn check_machine_pools(pools: &[schedlab::cluster::PoolSpec]) {
    let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "cpu-0gpu-96cpu-512gb",
            "misc-8gpu-96cpu-512gb",
            "p100-2gpu-64cpu-512gb",
            "t4-2gpu-96cpu-512gb",
            "v100-8gpu-96cpu-384gb",
            "v100-8gpu-96cpu-512gb",
            "v100m32-8gpu-96cpu-384gb",
        ]
    );
    let nodes: Vec<u32> = pools.iter().map(|p| p.nodes).collect();
    assert_eq!(nodes, [83, 280, 798, 497, 45, 59, 135]);
    let total_nodes: u32 = nodes.iter().sum();
    assert_eq!(total_nodes, 1_897);
    let gpus: u64 = pools
        .iter()
        .map(|p| u64::from(p.nodes) * u64::from(p.gpus_per_node))
        .sum();
    assert_eq!(gpus, 6_742);
    let t4 = &pools[3];
    assert_eq!(
        (
            t4.gpu_model.as_str(),
            t4.gpus_per_node,
            t4.cpu_milli,
            t4.memory_mib
        ),
        ("T4", 2, 96_000, 524_288)
    );
    let spec = schedlab::cluster::ClusterSpec {
        pools: pools.to_vec(),
    };
    assert_eq!(spec.validate(), Ok(()));
}

#[test]
fn pai_machine_spec_full_trace() {
    let Some(path) = shared("pai2020/pai_machine_spec.csv") else {
        return;
    };
    let (pools, _) = pai::read_machines(&path).unwrap();
    check_machine_pools(&pools);
    // The bundled copy is the same file.
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(project_file("scenarios/data/pai/pai_machine_spec.csv")).unwrap()
    );
}

#[test]
fn pai_machine_spec_header_row_and_errors() {
    let (_d, path) = temp_file(
        "m.csv",
        "machine,gpu_type,cap_cpu,cap_mem,cap_gpu\na,T4,96,512,2\nb,T4,96,512,2\n",
    );
    let (pools, report) = pai::read_machines(&path).unwrap();
    assert_eq!((pools.len(), pools[0].nodes), (1, 2));
    assert_eq!(report.rows, 2);

    let (_d, path) = temp_file("m.csv", "a,T4,96,512,2\nb,T4,96,512,two\n");
    let err = pai::read_machines(&path).unwrap_err();
    assert_field_error(&err, "m.csv", 2, 5, "cap_gpu", "two");

    let (_d, path) = temp_file("m.csv", "a,T4,96,512,2\na,T4,96,512,2\n");
    let err = pai::read_machines(&path).unwrap_err();
    assert_field_error(&err, "m.csv", 2, 1, "machine", "a");

    let (_d, path) = temp_file("m.csv", "");
    assert!(matches!(
        pai::read_machines(&path).unwrap_err(),
        TraceError::Empty { .. }
    ));
}

/// Nothing here may panic, whatever the bytes.
#[test]
fn garbage_never_panics() {
    let inputs: [&[u8]; 6] = [
        b"\xff\xfe\x00garbage",
        b"\"unterminated,quote\n",
        b",,,,\n,,,,",
        b"job_id,submission_time,duration,num_gpu\n\xff,1,1,1\n",
        b"\r\r\r\n\n",
        b"a,b\n\"x\"y\",1\n",
    ];
    for bytes in inputs {
        let dir = tempfile::tempdir().unwrap();
        for name in ["pai_job_table.csv", "pai_task_table.csv"] {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let file = dir.path().join("pai_task_table.csv");
        for o in [opts(), lenient()] {
            let results: [Result<Imported, TraceError>; 3] = [
                itp::import(&file, &o),
                helios::import(&file, &o),
                pai::import(dir.path(), &o),
            ];
            drop(results);
            let _ = pai::read_machines(&file);
        }
    }
}
