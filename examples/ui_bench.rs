//! Figures for BENCHMARKS.md: CPU time per frame of the device page with 1 000, 10 000 and
//! 100 000 devices loaded, and the console's memory. The simulator runs as a separate process so
//! the RSS is the console's own.
//!
//! Run: `cargo build --release --bin hubdeck && cargo run --release --example ui_bench`
//! (`--devices N` measures that one fleet size only).

// A measuring script: fail loudly, print figures, and do float maths on counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr, clippy::cast_precision_loss)]

use std::time::{Duration, Instant};

use hubdeck::app::ConsoleApp;
use hubdeck::app::backend;

#[path = "../tests/common/console.rs"]
#[allow(dead_code)] // the benchmark uses the simulator process and the options, not the kittest console
mod console;

use console::{SimProcess, backend_options};

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
        / 1024.0
}

fn frame(ctx: &egui::Context, app: &mut ConsoleApp, events: Vec<egui::Event>) -> Duration {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1400.0, 900.0))),
        events,
        ..egui::RawInput::default()
    };
    let started = Instant::now();
    let mut output = ctx.run_ui(input, |ui| app.frame_ui(ui));
    // No renderer uploads the font atlas here; dropping undelivered texture updates is intended.
    output.textures_delta.clear();
    let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
    std::hint::black_box(primitives);
    started.elapsed()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let work = tempfile::tempdir().unwrap();
    eprintln!("rss before anything: {:.0} MB", rss_mb());
    let args: Vec<String> = std::env::args().collect();
    let sizes = match args.iter().position(|arg| arg == "--devices").and_then(|index| args.get(index + 1)) {
        Some(size) => vec![size.parse::<usize>().expect("--devices takes a number")],
        None => vec![1_000, 10_000, 100_000],
    };
    for devices in sizes {
        let sim = SimProcess::start(&["--ephemeral", "--no-dps-demo", "--devices", &devices.to_string()], work.path());
        let config = tempfile::tempdir().unwrap();
        let options = backend_options(config.path(), sim.profile(), config.path(), None);
        let handle = backend::spawn(runtime.handle(), options, std::sync::Arc::new(|| {}));
        let mut app = ConsoleApp::new(handle, None);
        let ctx = egui::Context::default();
        let load_started = Instant::now();
        loop {
            frame(&ctx, &mut app, Vec::new());
            if app.state.devices.load_complete() && app.state.devices.total.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let load_time = load_started.elapsed();
        assert_eq!(app.state.devices.rows.len(), devices);
        // Steady frames at the top, then after jumping to the middle of the list (as when scrolling).
        let mut times: Vec<Duration> = (0..120).map(|_| frame(&ctx, &mut app, Vec::new())).collect();
        app.view.scroll_to_row = Some(devices / 2);
        times.extend((0..120).map(|_| frame(&ctx, &mut app, Vec::new())));
        // With a sort on a tag column and a filter, the view is rebuilt once, then frames are steady again.
        app.state.devices.sort_by(hubdeck::app::model::SortColumn::Field("tags.building".to_owned()));
        let resort = frame(&ctx, &mut app, Vec::new());
        times.extend((0..120).map(|_| frame(&ctx, &mut app, Vec::new())));
        times.sort();
        let median = times[times.len() / 2];
        let p95 = times[times.len() * 95 / 100];
        eprintln!(
            "{devices:>7} devices: loaded in {load_time:.2?}; frame CPU median {:.3} ms, p95 {:.3} ms; re-sort frame {:.1} ms; console RSS {:.0} MB",
            median.as_secs_f64() * 1000.0,
            p95.as_secs_f64() * 1000.0,
            resort.as_secs_f64() * 1000.0,
            rss_mb()
        );
        drop(app);
        drop(sim);
    }
}
