//! `loadtest`: the docflow load-test harness (see the crate docs).

use clap::Parser;

#[derive(Parser)]
#[command(name = "loadtest", about = "docflow load-test harness")]
struct Cli {
    #[command(subcommand)]
    command: docflow_loadtest::Command,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match docflow_loadtest::run_command(cli.command).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("loadtest: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
