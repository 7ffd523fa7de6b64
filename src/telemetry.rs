//! Logging to stderr, as text or JSON.

use tracing_subscriber::EnvFilter;

#[derive(clap::Args, Debug, Clone)]
pub struct LogArgs {
    /// Log level or filter directives (RUST_LOG syntax).
    #[arg(long = "log-level", env = "ALBATROSS_LOG_LEVEL", default_value = "info", global = true)]
    pub level: String,
    /// Log line format.
    #[arg(long = "log-format", env = "ALBATROSS_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub format: LogFormat,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_new(&args.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match args.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
