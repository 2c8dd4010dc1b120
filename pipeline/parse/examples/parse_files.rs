//! `cargo run -p docflow-parse --example parse_files -- FILE… [--content-type T]`:
//! the `docflow parse` subcommand without the rest of the CLI.

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: docflow_parse::cli::ParseArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match docflow_parse::cli::run(&cli.args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
