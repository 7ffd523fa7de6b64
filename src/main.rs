//! `albatross`: Kubernetes Gateway API on AWS load balancers.

mod cmd;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

// glibc malloc took about a third of the webhook's time under load; mimalloc does far better.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    telemetry::init(&cli.log);
    match cmd::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
