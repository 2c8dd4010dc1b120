//! `docflow-runtime-testproc`: a pass-through stage as an OS process, so
//! integration tests can start several, stop them with SIGTERM, or `kill -9`
//! them. Exits 0 after a clean drain on SIGTERM/SIGINT.
//!
//! Its arguments are read by hand (this crate is a library and carries no
//! command-line parser); a wrong argument prints the usage and exits 2.

use docflow_runtime::passthrough::PassThrough;
use docflow_runtime::{run_stage, DeliveryMode, ShutdownSignal, StageConfig};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: docflow-runtime-testproc --group G --input T[,T...] --output T [options]
  --brokers B       Kafka bootstrap servers (default $DOCFLOW_KAFKA_BROKERS, else 127.0.0.1:9092)
  --group G         consumer group (required)
  --input T,...     input topics, comma separated, highest priority first (required; may repeat)
  --output T        output topic (required)
  --name N          stage name (default passthrough)
  --delay-us N      simulated work per record, microseconds asleep (default 0)
  --tag T           tag outputs with this process name (header x-docflow-processed-by)
  --config TOML     extra StageConfig keys as TOML, e.g. \"batch_size = 50\"";

/// The parsed command line.
#[derive(Debug, PartialEq)]
struct Args {
    brokers: String,
    group: String,
    input: Vec<String>,
    output: String,
    name: String,
    delay_us: u64,
    tag: Option<String>,
    config: String,
}

/// Reads `--flag value` and `--flag=value` pairs; `default_brokers` stands
/// in when `--brokers` is absent.
fn parse_args(args: impl IntoIterator<Item = String>, default_brokers: String) -> Result<Args, String> {
    let mut brokers = None;
    let (mut group, mut output, mut name, mut delay_us, mut tag, mut config) = (None, None, None, None, None, None);
    let mut input = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let mut value = || inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => brokers = Some(value()?),
            "--group" => group = Some(value()?),
            "--input" => input.extend(value()?.split(',').filter(|t| !t.is_empty()).map(str::to_owned)),
            "--output" => output = Some(value()?),
            "--name" => name = Some(value()?),
            "--delay-us" => {
                let v = value()?;
                delay_us = Some(v.parse::<u64>().map_err(|e| format!("--delay-us {v:?}: {e}"))?);
            }
            "--tag" => tag = Some(value()?),
            "--config" => config = Some(value()?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if input.is_empty() {
        return Err("--input is required".into());
    }
    Ok(Args {
        brokers: brokers.unwrap_or(default_brokers),
        group: group.ok_or("--group is required")?,
        input,
        output: output.ok_or("--output is required")?,
        name: name.unwrap_or_else(|| "passthrough".into()),
        delay_us: delay_us.unwrap_or(0),
        tag,
        config: config.unwrap_or_default(),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    docflow_runtime::init_tracing();
    let default_brokers = std::env::var("DOCFLOW_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let cli = match parse_args(std::env::args().skip(1), default_brokers) {
        Ok(a) => a,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("error: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain: the runner's errors name the step, their
            // sources say what Kafka or the system answered.
            let mut line = format!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                line.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut base = StageConfig::new(cli.group, cli.input, Some(cli.output));
    base.brokers = cli.brokers;
    // The delivery tests run once per mode (`DOCFLOW_DELIVERY`); a test's
    // own `--config` (the exactly-once tests) still wins.
    base.delivery = match std::env::var(DeliveryMode::ENV) {
        Ok(v) => DeliveryMode::parse(&v)?,
        Err(_) => DeliveryMode::default(),
    };
    let cfg = docflow_runtime::config::merge_toml(&base, &cli.config)?;
    let mut stage = PassThrough::new(cli.name).with_delay(Duration::from_micros(cli.delay_us));
    if let Some(tag) = cli.tag {
        stage = stage.with_tag(tag);
    }
    let shutdown = ShutdownSignal::on_os_signals()?;
    Ok(run_stage(stage, cfg, shutdown).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| s.to_string()), "env:9092".into())
    }

    #[test]
    fn flags_in_both_forms_and_defaults() {
        let a = parse(&["--group", "g", "--input", "a,b", "--input=c", "--output", "o", "--delay-us=5", "--config", "batch_size = 50"]).unwrap();
        assert_eq!(a.input, ["a", "b", "c"]);
        assert_eq!((a.brokers.as_str(), a.name.as_str(), a.delay_us, a.config.as_str()), ("env:9092", "passthrough", 5, "batch_size = 50"));
        assert_eq!(a.tag, None);
        let b = parse(&["--brokers", "k:1", "--group", "g", "--input", "i", "--output", "o", "--name", "n", "--tag", "t"]).unwrap();
        assert_eq!((b.brokers.as_str(), b.name.as_str(), b.tag.as_deref(), b.config.as_str()), ("k:1", "n", Some("t"), ""));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(parse(&["--input", "i", "--output", "o"]).unwrap_err(), "--group is required");
        assert_eq!(parse(&["--group", "g", "--output", "o"]).unwrap_err(), "--input is required");
        assert_eq!(parse(&["--group", "g", "--input", "i", "--output"]).unwrap_err(), "--output needs a value");
        assert!(parse(&["--group", "g", "--input", "i", "--output", "o", "--delay-us", "x"]).unwrap_err().starts_with("--delay-us \"x\""));
        assert_eq!(parse(&["--gruop", "g"]).unwrap_err(), "unknown argument \"--gruop\"");
    }
}
