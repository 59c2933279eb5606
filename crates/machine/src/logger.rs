//! The `log` backend: `[seconds][cpu][LEVEL target] message` on COM1.
//!
//! Owns the level filter, parsed from the command line's `log=` option
//! (`log=info,sk_synth=debug`: a default level, then per-crate overrides).

use crate::serial;
use log::{LevelFilter, Log, Metadata, Record};
use spin::Mutex;

const MAX_OVERRIDES: usize = 8;
const MAX_TARGET: usize = 32;

struct Filter {
    default: LevelFilter,
    overrides: [([u8; MAX_TARGET], usize, LevelFilter); MAX_OVERRIDES],
    count: usize,
}

static FILTER: Mutex<Filter> = Mutex::new(Filter {
    default: LevelFilter::Info,
    overrides: [([0; MAX_TARGET], 0, LevelFilter::Off); MAX_OVERRIDES],
    count: 0,
});

struct SerialLogger;
static LOGGER: SerialLogger = SerialLogger;

impl Filter {
    fn level_for(&self, target: &str) -> LevelFilter {
        self.overrides
            .iter()
            .take(self.count)
            .find(|(name, len, _)| {
                target
                    .as_bytes()
                    .starts_with(name.get(..*len).unwrap_or(&[]))
            })
            .map_or(self.default, |o| o.2)
    }
}

impl Log for SerialLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= FILTER.lock().level_for(metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let ns = crate::tsc::now_ns();
        let cpu = crate::percpu::cpu_id();
        serial::print_fmt(format_args!(
            "[{:>4}.{:06}][{}][{:<5} {}] {}\n",
            ns / 1_000_000_000,
            (ns / 1000) % 1_000_000,
            cpu,
            record.level(),
            record.target(),
            record.args()
        ));
    }

    fn flush(&self) {}
}

fn parse_level(s: &str) -> Option<LevelFilter> {
    match s {
        "off" => Some(LevelFilter::Off),
        "error" => Some(LevelFilter::Error),
        "warn" => Some(LevelFilter::Warn),
        "info" => Some(LevelFilter::Info),
        "debug" => Some(LevelFilter::Debug),
        "trace" => Some(LevelFilter::Trace),
        _ => None,
    }
}

/// Installs the logger with the filter from a `log=` option value
/// (`None` = info). Unknown words are ignored.
pub fn init(spec: Option<&str>) {
    let mut filter = FILTER.lock();
    let mut max = LevelFilter::Info;
    if let Some(spec) = spec {
        for part in spec.split(',') {
            match part.split_once('=') {
                None => {
                    if let Some(level) = parse_level(part) {
                        filter.default = level;
                    }
                }
                Some((target, level)) => {
                    if let (Some(level), true) = (parse_level(level), filter.count < MAX_OVERRIDES)
                    {
                        let n = target.len().min(MAX_TARGET);
                        let i = filter.count;
                        filter.overrides[i].0[..n].copy_from_slice(&target.as_bytes()[..n]);
                        filter.overrides[i].1 = n;
                        filter.overrides[i].2 = level;
                        filter.count += 1;
                        max = max.max(level);
                    }
                }
            }
        }
    }
    max = max.max(filter.default);
    drop(filter);
    // A second call only changes the filter.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(max);
}
